"""The synthetic MOT generator: determinism, scene properties, detector noise, files, rendering."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from vidlab.data.synthetic.mot import (
    PEDESTRIAN_CLASS,
    STATIC_PERSON_CLASS,
    DetectorNoise,
    SceneConfig,
    draw_person_sprite,
    generate_sequence,
    render_sequence_frames,
    sprite_appearance,
    write_mot_folder,
)
from vidlab.evaluation.mot.io import find_sequences, read_mot_txt, read_seqinfo
from vidlab.tracking.association import iou_xyxy
from vidlab.tracking.types import tlwh_to_xyxy

CFG = SceneConfig(num_frames=150)


@pytest.fixture(scope="module")
def seq():
    return generate_sequence(3, CFG)


def _gt_box(s, frame: int, pid: int) -> np.ndarray:
    k = np.flatnonzero((s.gt_frame == frame) & (s.gt_id == pid))
    return s.gt_tlwh[k[0]]


def test_deterministic_in_seed(seq):
    again = generate_sequence(3, CFG)
    for field in (
        "gt_frame",
        "gt_id",
        "gt_tlwh",
        "gt_visibility",
        "det_frame",
        "det_tlwh",
        "det_score",
        "det_gt_id",
    ):
        np.testing.assert_array_equal(getattr(seq, field), getattr(again, field), err_msg=field)
    other = generate_sequence(4, CFG)
    assert not np.array_equal(seq.det_score[:50], other.det_score[:50])


def test_rows_sorted_and_within_range(seq):
    assert np.all(np.diff(seq.gt_frame) >= 0) and np.all(np.diff(seq.det_frame) >= 0)
    assert seq.gt_frame.min() == 1 and seq.gt_frame.max() == CFG.num_frames
    key = seq.gt_frame * 10_000 + seq.gt_id
    assert len(np.unique(key)) == len(key)  # one box per id and frame
    assert np.all(seq.gt_tlwh[:, 2:] > 0) and np.all(seq.det_tlwh[:, 2:] > 0)
    assert np.all((seq.gt_visibility >= 0) & (seq.gt_visibility <= 1))


def test_people_enter_and_leave():
    seq = generate_sequence(3, SceneConfig(num_frames=300))
    first = {i: seq.gt_frame[seq.gt_id == i].min() for i in np.unique(seq.gt_id)}
    last = {i: seq.gt_frame[seq.gt_id == i].max() for i in np.unique(seq.gt_id)}
    assert any(f > 1 for f in first.values()), "nobody entered after the first frame"
    assert any(f < 300 for f in last.values()), "nobody left before the end"
    for i in first:  # a person's presence is contiguous (ids are never reused)
        frames = seq.gt_frame[seq.gt_id == i]
        assert len(frames) == frames.max() - frames.min() + 1


def test_mutual_occlusion_lowers_visibility(seq):
    ped = seq.gt_class == PEDESTRIAN_CLASS
    vis = seq.gt_visibility[ped]
    assert 0.05 < np.mean(vis < 0.5) < 0.6
    assert np.mean(vis == 1.0) > 0.3


def test_distractors_are_static_class_7(seq):
    static = seq.gt_class == STATIC_PERSON_CLASS
    assert static.any()
    for pid in np.unique(seq.gt_id[static]):
        boxes = seq.gt_tlwh[seq.gt_id == pid]
        np.testing.assert_allclose(boxes, boxes[:1].repeat(len(boxes), 0))


def test_detector_noise_properties():
    s = generate_sequence(11, SceneConfig(num_frames=300, initial_people=10))
    true = s.det_gt_id >= 0
    # False positives exist, at the configured rate (Poisson mean 0.5 per frame).
    assert np.sum(~true) / 300 == pytest.approx(0.5, abs=0.15)
    # Detections of a person overlap that person's box well (jitter is a few percent).
    ious = np.array(
        [
            iou_xyxy(
                tlwh_to_xyxy(s.det_tlwh[k : k + 1]),
                tlwh_to_xyxy(_gt_box(s, s.det_frame[k], s.det_gt_id[k])[None]),
            )[0, 0]
            for k in np.flatnonzero(true)
        ]
    )
    assert np.median(ious) > 0.8 and np.mean(ious > 0.5) > 0.97
    # Misses and low scores are much more frequent under occlusion.
    detected = set(zip(s.det_frame[true].tolist(), s.det_gt_id[true].tolist(), strict=True))
    hit = np.array(
        [(f, i) in detected for f, i in zip(s.gt_frame.tolist(), s.gt_id.tolist(), strict=True)]
    )
    vis = s.gt_visibility
    assert np.mean(~hit[vis > 0.95]) < 0.12
    assert np.mean(~hit[(vis > 0) & (vis < 0.4)]) > 0.3
    low = s.det_score[true] < 0.5
    det_vis = np.array(
        [
            vis[(s.gt_frame == f) & (s.gt_id == i)][0]
            for f, i in zip(s.det_frame[true], s.det_gt_id[true], strict=True)
        ]
    )
    assert np.mean(low[det_vis > 0.95]) < 0.12 < np.mean(low[det_vis < 0.5])
    assert np.all((s.det_score > 0) & (s.det_score < 1))


def test_misses_come_in_bursts():
    """Temporally correlated noise: a miss is more likely right after a miss than on average."""
    cfg = SceneConfig(num_frames=300, noise=DetectorNoise(miss_rate=0.2, occlusion_miss_rate=0.0))
    s = generate_sequence(5, cfg)
    true = s.det_gt_id >= 0
    detected = set(zip(s.det_frame[true].tolist(), s.det_gt_id[true].tolist(), strict=True))
    missed = {
        (f, i)
        for f, i in zip(s.gt_frame.tolist(), s.gt_id.tolist(), strict=True)
        if (f, i) not in detected
    }
    rows = list(zip(s.gt_frame.tolist(), s.gt_id.tolist(), strict=True))
    after_miss = [
        (f + 1, i) in missed for f, i in rows if (f, i) in missed and (f + 1, i) in set(rows)
    ]
    assert np.mean(after_miss) > 2 * len(missed) / len(rows)
    iid = generate_sequence(5, replace(cfg, noise=replace(cfg.noise, temporal_correlation=0.0)))
    assert len(iid.det_frame) == pytest.approx(len(s.det_frame), rel=0.15)


def test_write_mot_folder_layout(tmp_path):
    cfg = SceneConfig(num_frames=20, width=320, height=240)
    dirs = write_mot_folder(tmp_path, 2, 0, config=cfg, render_frames=True)
    assert (
        [d.name for d in dirs] == ["SYN-01", "SYN-02"] == [d.name for d in find_sequences(tmp_path)]
    )
    info = read_seqinfo(dirs[0])
    assert (info.seq_length, info.im_width, info.im_height, info.frame_rate) == (20, 320, 240, 30.0)
    gt = read_mot_txt(dirs[0] / "gt" / "gt.txt", kind="gt", num_frames=20)
    det = read_mot_txt(dirs[0] / "det" / "det.txt", kind="det", num_frames=20)
    seq = generate_sequence(1, cfg)  # sequence k uses seed * 1000 + k
    np.testing.assert_allclose(gt.tlwh, seq.gt_tlwh, rtol=1e-5)
    assert set(np.unique(gt.class_id)) == {PEDESTRIAN_CLASS, STATIC_PERSON_CLASS}
    np.testing.assert_array_equal(gt.score, (gt.class_id == PEDESTRIAN_CLASS).astype(float))
    assert np.all(gt.visibility >= 0)
    assert len(det) == len(seq.det_frame) and np.all(det.track_id == -1)
    images = sorted((dirs[0] / "img1").glob("*.jpg"))
    assert len(images) == 20 and images[0].name == "000001.jpg"
    assert cv2.imread(str(images[0])).shape == (240, 320, 3)


def test_sprites_are_identity_specific():
    looks = [sprite_appearance(i, seed=0) for i in range(1, 30)]
    assert len({lk.shirt for lk in looks}) == len(looks)
    assert sprite_appearance(4, seed=0) == sprite_appearance(4, seed=0)
    canvas = np.zeros((200, 100, 3), np.uint8)
    draw_person_sprite(canvas, np.array([10.0, 10, 60, 180]), looks[0])
    assert canvas[:, :5].max() == 0 and canvas[100, 35].any()  # drawn inside the box only


def test_rendered_crops_look_alike_per_identity():
    s = generate_sequence(
        2, SceneConfig(num_frames=30, width=480, height=270, initial_people=4, distractors=0)
    )
    frames = dict(render_sequence_frames(s))
    ids = [i for i in np.unique(s.gt_id) if np.all(s.gt_visibility[s.gt_id == i] > 0.9)][:2]
    if len(ids) < 2:
        pytest.skip("fewer than two always-visible people in this seed")

    def torso_colour(f, pid):
        x, y, w, h = _gt_box(s, f, pid)
        return frames[f][int(y + 0.35 * h), int(x + 0.25 * w)].astype(float)

    for pid in ids:
        present = s.gt_frame[s.gt_id == pid]
        assert np.abs(torso_colour(present[0], pid) - torso_colour(present[-1], pid)).max() < 30
    common = sorted(set(s.gt_frame[s.gt_id == ids[0]]) & set(s.gt_frame[s.gt_id == ids[1]]))
    assert np.abs(torso_colour(common[0], ids[0]) - torso_colour(common[0], ids[1])).max() > 30


def test_camera_pan_moves_the_background():
    pan = (3.0, 0.0)
    s = generate_sequence(
        6,
        SceneConfig(
            num_frames=12,
            width=320,
            height=240,
            initial_people=0,
            entries_per_frame=0.0,
            distractors=0,
            camera_pan=pan,
        ),
    )
    frames = dict(render_sequence_frames(s))
    a, b = (np.float32(cv2.cvtColor(frames[k], cv2.COLOR_BGR2GRAY)) for k in (1, 11))
    (dx, dy), _ = cv2.phaseCorrelate(a, b)
    assert dx == pytest.approx(-10 * pan[0], abs=1.0) and dy == pytest.approx(0.0, abs=1.0)


def test_invalid_config():
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        generate_sequence(0, SceneConfig(num_frames=0))


SMALL_SETTINGS = {
    "n_sequences": 2, "seed": 4, "pan_every": 2, "pan": [2.0, 0.0], "num_frames": 20,
    "initial_people": 3, "noise": {"jitter": 0.02},
}  # fmt: skip


def test_synthetic_mot_folder_is_keyed_by_settings_and_built_once(tmp_path):
    import hashlib
    import json

    from vidlab.data.synthetic.mot_cache import synthetic_mot_folder

    root = synthetic_mot_folder(tmp_path, SMALL_SETTINGS)
    # The on-disk key: the first 12 hex characters of the SHA-1 of the sorted settings JSON.
    key = hashlib.sha1(json.dumps(SMALL_SETTINGS, sort_keys=True).encode()).hexdigest()[:12]
    assert root == tmp_path / key
    assert json.loads((root / ".complete").read_text()) == SMALL_SETTINGS
    assert [p.name for p in find_sequences(root)] == ["SYN-01", "SYN-02"]
    assert read_seqinfo(root / "SYN-01").seq_length == 20
    direct = write_mot_folder(
        tmp_path / "direct", 2, 4, pan_every=2,
        config=SceneConfig(num_frames=20, initial_people=3, noise=DetectorNoise(jitter=0.02)),
    )  # fmt: skip
    for d in direct:  # same settings, same files
        for part in ("gt/gt.txt", "det/det.txt"):
            assert (root / d.name / part).read_bytes() == (d / part).read_bytes()
    stamp = (root / "SYN-01" / "det" / "det.txt").stat().st_mtime_ns
    assert synthetic_mot_folder(tmp_path, SMALL_SETTINGS) == root
    assert (root / "SYN-01" / "det" / "det.txt").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([key, "direct"])


def test_synthetic_mot_settings_are_checked(tmp_path):
    from vidlab.data.synthetic.mot_cache import synthetic_mot_folder

    with pytest.raises(ValueError, match=r"unknown keys \['num_frame'\]"):
        synthetic_mot_folder(tmp_path, {"n_sequences": 1, "seed": 0, "num_frame": 5})
    with pytest.raises(ValueError, match=r"noise: unknown keys \['jiter'\]"):
        synthetic_mot_folder(tmp_path, {"n_sequences": 1, "seed": 0, "noise": {"jiter": 0.1}})
    with pytest.raises(ValueError, match=r"lack \['seed'\]"):
        synthetic_mot_folder(tmp_path, {"n_sequences": 1})
    assert list(tmp_path.iterdir()) == []


def test_mot_sequences_resolve_a_folder_or_the_synthetic_set(tmp_path):
    from omegaconf import OmegaConf

    from vidlab.data.mot import MOTSequences

    node = OmegaConf.create({"synthetic": SMALL_SETTINGS, "val_sequences": ["SYN-01"]})
    data = MOTSequences(
        synthetic=node.synthetic, cache_dir=tmp_path, sequences=["SYN-02"],
        val_sequences=node.val_sequences,
    )  # fmt: skip
    root = data.resolve_root()
    assert root.parent == tmp_path and data.synthetic == SMALL_SETTINGS  # plain values
    assert data.splits() == [("test", ["SYN-02"]), ("val", ["SYN-01"])]
    assert data.describe()["synthetic"] == SMALL_SETTINGS
    real = MOTSequences(root=root, benchmark="MOT20")
    assert real.resolve_root() == root and real.splits() == [("test", None)]
    assert real.describe() | {"root": None} == {
        "root": None, "benchmark": "MOT20", "sequences": None, "val_sequences": None,
        "synthetic": None,
    }  # fmt: skip
    with pytest.raises(FileNotFoundError, match="nowhere is not a folder"):
        MOTSequences(root=tmp_path / "nowhere").resolve_root()
    with pytest.raises(ValueError, match="data.root is null"):
        MOTSequences(synthetic=SMALL_SETTINGS)
