"""The MOTChallenge -> Market-layout crop builder on tiny hand-made sequences."""

from __future__ import annotations

import json
from collections import defaultdict

import cv2
import numpy as np
import pytest

from vidlab.data.reid import (
    PID_SEQUENCE_STRIDE,
    CropSettings,
    MotReIDBuilder,
    build_reid_from_mot,
    read_market,
)
from vidlab.evaluation.mot.io import find_sequences

# Frames 1, 3, ..., 39 (stride 2); two spans: frames 1-20 are camera 1, 21-40 camera 2.
SETTINGS = CropSettings(
    min_visibility=0.5,
    min_height=20,
    min_width=8,
    frame_stride=2,
    num_time_spans=2,
    num_train_ids=5,
    min_images_per_id=2,
    seed=3,
)


@pytest.fixture
def built(tiny_mot, tmp_path):
    summary = build_reid_from_mot(find_sequences(tiny_mot), tmp_path / "out", SETTINGS)
    return summary, read_market(summary.root)


def test_filters_and_identity_naming(built, facts):
    _, splits = built
    records = splits.train + splits.query + splits.gallery
    tids = {r.pid % PID_SEQUENCE_STRIDE for r in records}
    # Class 7, consider 0, visibility 0.2 and the 10-pixel box are all dropped.
    assert tids <= {*facts.kept_full, facts.short_track}
    assert {r.pid // PID_SEQUENCE_STRIDE for r in records} == {1, 2}  # SEQ-A -> 1, SEQ-B -> 2
    assert {r.seq for r in records} == {1, 2}
    assert all((r.frame - 1) % 2 == 0 for r in records)  # stride 2
    # Every crop of the 7 kept tracks x 2 sequences was written once: 20 (or 5) frames each.
    per_id = defaultdict(int)
    for r in records:
        per_id[r.pid] += 1
    assert len(per_id) == 14
    assert all(
        n == (5 if pid % PID_SEQUENCE_STRIDE == facts.short_track else 20)
        for pid, n in per_id.items()
    )


def test_time_spans_are_cameras(built):
    _, splits = built
    for r in splits.train + splits.query + splits.gallery:
        assert r.camid == (1 if r.frame <= 20 else 2)


def test_identity_split_and_queries(built, facts):
    summary, splits = built
    train_ids = {r.pid for r in splits.train}
    test_ids = {r.pid for r in splits.query + splits.gallery}
    assert len(train_ids) == 5 and not train_ids & test_ids and len(test_ids) == 9
    # A full-length test id gives one query per span; the short track (one span) gives none.
    full_test = [p for p in test_ids if p % PID_SEQUENCE_STRIDE != facts.short_track]
    assert len(splits.query) == 2 * len(full_test)
    for q in splits.query:
        assert any(g.pid == q.pid and g.camid != q.camid for g in splits.gallery)
    assert summary.splits["train"] == {"ids": 5, "images": len(splits.train)}
    assert summary.splits["query"]["images"] == len(splits.query)
    assert summary.skipped_test_ids == len(test_ids) - len(full_test)
    manifest = json.loads((summary.root / "manifest.json").read_text())
    assert manifest["splits"] == summary.splits and manifest["settings"]["seed"] == 3


def test_crops_show_the_right_person(built, facts):
    _, splits = built
    for r in splits.train[:10] + splits.query[:4]:
        img = cv2.imread(str(r.path))
        assert img.shape[:2] == facts.box_hw
        colour = img[5:-5, 3:-3].reshape(-1, 3).mean(0)
        np.testing.assert_allclose(colour, facts.track_colour(r.pid % PID_SEQUENCE_STRIDE), atol=6)


def test_split_is_deterministic_in_the_seed(tiny_mot, tmp_path):
    dirs = find_sequences(tiny_mot)
    a = build_reid_from_mot(dirs, tmp_path / "a", SETTINGS)
    b = build_reid_from_mot(dirs, tmp_path / "b", SETTINGS)
    names = [sorted(p.name for p in (s.root / "query").iterdir()) for s in (a, b)]
    assert names[0] == names[1]
    trains = set()
    for seed in range(6):
        s = build_reid_from_mot(
            dirs,
            tmp_path / f"s{seed}",
            CropSettings(
                min_height=20,
                min_width=8,
                frame_stride=8,
                num_time_spans=2,
                num_train_ids=5,
                seed=seed,
            ),
        )
        trains.add(tuple(sorted({r.pid for r in read_market(s.root).train})))
    assert len(trains) > 1  # the seed changes the identity split


def test_span_gap_drops_test_crops_near_boundaries(tiny_mot, tmp_path):
    s = CropSettings(
        min_height=20, min_width=8, frame_stride=1, num_time_spans=2, span_gap=3, num_train_ids=5
    )
    splits = read_market(build_reid_from_mot(find_sequences(tiny_mot), tmp_path / "o", s).root)
    test_frames = {r.frame for r in splits.query + splits.gallery}
    # Boundary between frames 20 and 21: frames 18..23 lie within 3 frames of it.
    assert not test_frames & set(range(18, 24)) and {17, 24} <= test_frames
    assert set(range(18, 24)) <= {r.frame for r in splits.train}  # training keeps them


def test_too_many_train_ids_is_an_error(tiny_mot, tmp_path):
    s = CropSettings(min_height=20, min_width=8, num_train_ids=14)
    with pytest.raises(ValueError, match="14 identities .* cannot take 14"):
        build_reid_from_mot(find_sequences(tiny_mot), tmp_path / "o", s)


def test_missing_frame_is_named(tiny_mot, tmp_path):
    (tiny_mot / "SEQ-B" / "img1" / "000003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"SEQ-B/img1/000003\.jpg"):
        build_reid_from_mot(find_sequences(tiny_mot), tmp_path / "o", SETTINGS)


def test_mot_builder_caches_and_checks_sequence_names(tiny_mot, tmp_path):
    crops = {
        "min_height": 20,
        "min_width": 8,
        "frame_stride": 4,
        "num_time_spans": 2,
        "num_train_ids": 5,
        "classes": [1],
    }
    builder = MotReIDBuilder(mot_root=tiny_mot, cache_dir=tmp_path / "cache", crops=crops)
    root = builder.build()
    stamp = (root / "manifest.json").stat().st_mtime_ns
    assert builder.build() == root and (root / "manifest.json").stat().st_mtime_ns == stamp
    only_a = MotReIDBuilder(
        mot_root=tiny_mot, cache_dir=tmp_path / "cache", crops=crops, sequences=["SEQ-A"]
    ).build()
    assert only_a != root  # the sequence list is part of the cache key
    with pytest.raises(FileNotFoundError, match="SEQ-C"):
        MotReIDBuilder(mot_root=tiny_mot, cache_dir=tmp_path, sequences=["SEQ-C"]).build()
    with pytest.raises(TypeError, match="min_heigth"):
        MotReIDBuilder(mot_root=tiny_mot, cache_dir=tmp_path, crops={"min_heigth": 3})


def test_crop_hook_applies_the_synthetic_camera_colour_cast(tiny_mot, tmp_path, facts):
    from vidlab.data.reid import SyntheticReIDBuilder

    builder = SyntheticReIDBuilder(cache_dir=tmp_path / "unused", camera_colour_jitter=0.3)
    gains = {(s, c): builder.camera_gains(s, c) for s in (1, 2) for c in (1, 2)}
    assert np.all([(0.7 <= g).all() and (g <= 1.3).all() for g in gains.values()])
    assert len({tuple(g) for g in gains.values()}) == 4  # one cast per sequence and camera
    np.testing.assert_array_equal(builder.camera_gains(2, 1), gains[(2, 1)])  # deterministic
    summary = build_reid_from_mot(
        find_sequences(tiny_mot), tmp_path / "o", SETTINGS, crop_hook=builder._colour_cast
    )
    splits = read_market(summary.root)
    for r in splits.train[::7] + splits.query:
        colour = cv2.imread(str(r.path))[5:-5, 3:-3].reshape(-1, 3).mean(0)
        base = np.asarray(facts.track_colour(r.pid % PID_SEQUENCE_STRIDE), float)
        expected = np.clip(base * gains[(r.seq, r.camid)], 0, 255)
        np.testing.assert_allclose(colour, expected, atol=8)


def test_plan_agrees_with_build(tiny_mot, tmp_path):
    from vidlab.data.reid import plan_reid_from_mot

    dirs = find_sequences(tiny_mot)
    assert (
        plan_reid_from_mot(dirs, SETTINGS).splits
        == build_reid_from_mot(dirs, tmp_path / "o", SETTINGS).splits
    )


def test_real_mot17_plan(real_data):
    """MOT17 ground truth (no frames here): the selection matches an independent count."""
    from vidlab.data.reid import plan_reid_from_mot
    from vidlab.evaluation.mot.io import read_mot_txt, read_seqinfo

    dirs = find_sequences(real_data / "MOT17" / "train")
    s = CropSettings(
        min_visibility=0.5,
        min_height=64,
        min_width=20,
        frame_stride=5,
        num_time_spans=3,
        min_images_per_id=1,
    )
    plan = plan_reid_from_mot(dirs, s)
    expected_rows, expected_ids = 0, 0
    for d in dirs:
        info, gt = read_seqinfo(d), read_mot_txt(d / "gt" / "gt.txt", kind="gt")
        x2 = np.minimum(gt.tlwh[:, 0] + gt.tlwh[:, 2], info.im_width)
        y2 = np.minimum(gt.tlwh[:, 1] + gt.tlwh[:, 3], info.im_height)
        w = np.round(x2) - np.round(np.maximum(gt.tlwh[:, 0], 0))
        h = np.round(y2) - np.round(np.maximum(gt.tlwh[:, 1], 0))
        ok = (
            (gt.class_id == 1)
            & (gt.score == 1)
            & (gt.visibility >= 0.5)
            & (gt.frame % 5 == 1)
            & (w >= 20)
            & (h >= 64)
        )
        expected_rows += int(ok.sum())
        expected_ids += len(np.unique(gt.track_id[ok]))
    got = plan.splits
    assert got["train"]["images"] + got["query"]["images"] + got["gallery"]["images"] == (
        expected_rows
    )
    assert got["train"]["ids"] + got["gallery"]["ids"] == expected_ids  # ids never collide
    assert got["train"]["ids"] == round(0.5 * expected_ids) and len(plan.sequences) == 7
