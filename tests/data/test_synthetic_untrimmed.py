"""Synthetic untrimmed videos: deterministic rendering, segments, the cached set and its windows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidlab.data.datamodules.untrimmed import (
    SyntheticUntrimmedDataModule,
    frame_labels,
    window_labels,
)
from vidlab.data.synthetic.actions import SyntheticActionSpec
from vidlab.data.synthetic.untrimmed import SyntheticUntrimmedSpec, render_video

SPEC = SyntheticUntrimmedSpec(
    actions=SyntheticActionSpec(size=32, num_distractors=0, noise_std=0.0),
    actions_per_video=(2, 3),
    action_frames=(10, 14),
    gap_frames=(4, 6),
    seed=3,
)


def test_render_is_deterministic_and_segments_follow_the_spec():
    a, b = render_video(SPEC, "train", 0), render_video(SPEC, "train", 0)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.segments == b.segments
    assert not np.array_equal(render_video(SPEC, "train", 1).frames[:10], a.frames[:10])
    assert 2 <= len(a.segments) <= 3
    previous_end = 0
    for start, end, label in a.segments:
        assert 10 <= end - start <= 14 and 0 <= label < 4
        assert 4 <= start - previous_end <= 6
        previous_end = end
    assert 4 <= len(a.frames) - previous_end <= 6


def test_the_actor_moves_only_inside_segments():
    video = render_video(SPEC, "val", 2)
    motion = np.abs(np.diff(video.frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))  # (T-1,)
    action = np.zeros(len(video.frames), dtype=bool)
    for start, end, _ in video.segments:
        action[start:end] = True
    inside = action[:-1] & action[1:]  # frame pairs within one action
    outside = ~action[:-1] & ~action[1:]  # pairs of background frames
    # No noise and no distractors: the background stretches are perfectly still.
    assert motion[outside].max() == 0.0
    assert motion[inside].min() > 0.1


def test_window_labels_take_the_majority():
    labels = frame_labels(12, [[2, 7]], [1])  # class 1 -> label 2 on frames 2..6
    assert labels.tolist() == [0, 0, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0]
    starts = np.arange(0, 9)
    # Window [s, s+4): label 2 where at least 2 of its 4 frames are in the action.
    assert window_labels(labels, starts, 4, 5).tolist() == [2, 2, 2, 2, 2, 2, 0, 0, 0]


def test_datamodule_caches_videos_annotations_and_windows(tmp_path):
    kwargs = dict(
        num_frames=4, actions_per_video=(2, 2), action_frames=(8, 10), gap_frames=(4, 5),
        train_videos=2, val_videos=1, test_videos=1, train_window_stride=1, eval_window_stride=2,
        cache_dir=tmp_path, batch_size=4, num_classes=5,
    )  # fmt: skip
    dm = SyntheticUntrimmedDataModule(**kwargs)
    dm.prepare_data()
    dm.setup()
    database = json.loads(dm.annotations_path.read_text())["database"]
    assert sorted(database) == ["test_0000", "train_0000", "train_0001", "val_0000"]
    entry = database["train_0000"]
    assert entry["subset"] == "training" and len(entry["annotations"]) == 2
    first = entry["annotations"][0]
    assert first["segment"] == pytest.approx([f / 10.0 for f in first["frames"]])
    assert [p.name for p in dm.split_videos("train")] == ["train_0000.mp4", "train_0001.mp4"]
    assert dm.class_names[0] == "background" and dm.num_classes == 5
    train = dm.datasets["train"]
    total = sum(database[v]["num_frames"] for v in ("train_0000", "train_0001"))
    assert len(train) == total - 2 * 3  # every start of each video, none crossing videos
    assert set(np.unique(train.labels)) >= {0} and (train.labels > 0).any()
    batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (4, 3, 4, 32, 32)
    stamp = dm.annotations_path.stat().st_mtime_ns
    SyntheticUntrimmedDataModule(**kwargs).prepare_data()  # cached: not rebuilt
    assert dm.annotations_path.stat().st_mtime_ns == stamp
