"""data=thumos14 / data=activitynet: annotations from the official files, videos from a root."""

from __future__ import annotations

import json

import numpy as np

from vidlab.data.datasets.localization import ActivityNetAnnotations, Thumos14Annotations
from vidlab.evaluation.localization.io import THUMOS14_CLASSES


def test_activitynet_records_find_v_prefixed_files(tmp_path):
    database = {
        "abc": {"subset": "validation", "annotations": [{"segment": [1, 2], "label": "Run"}]},
        "xyz": {"subset": "validation", "annotations": [{"segment": [0, 5], "label": "Swim"}]},
        "tr1": {"subset": "training", "annotations": [{"segment": [0, 1], "label": "Run"}]},
    }
    (tmp_path / "gt.json").write_text(json.dumps({"database": database}))
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "v_abc.mp4").write_bytes(b"")
    data = ActivityNetAnnotations(root=videos, annotations=tmp_path / "gt.json")
    assert [r.video_id for r in data.records()] == ["abc", "xyz"]
    assert data.localization_videos() == [videos / "v_abc.mp4"]
    assert data.missing_videos() == ["xyz"]
    assert data.class_names == ["Run", "Swim"]
    assert data.describe()["videos_found"] == 1


def test_thumos14_subset_and_ambiguous(tmp_path):
    for name in THUMOS14_CLASSES:
        (tmp_path / f"{name}_val.txt").write_text("")
    (tmp_path / "HighJump_val.txt").write_text("video_validation_1 3.0 4.5\n")
    (tmp_path / "Ambiguous_val.txt").write_text("video_validation_1 8 9\n")
    (tmp_path / "video_validation_1.mp4").write_bytes(b"")
    data = Thumos14Annotations(root=tmp_path, annotations=tmp_path, subset="validation")
    (record,) = data.records()
    assert record.path == tmp_path / "video_validation_1.mp4" and record.labels == ["HighJump"]
    np.testing.assert_array_equal(record.segments, [[3.0, 4.5]])
    np.testing.assert_array_equal(data.ground_truth().ambiguous["video_validation_1"], [[8, 9]])
