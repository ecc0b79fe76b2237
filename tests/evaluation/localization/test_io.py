"""Readers of ActivityNet JSON, THUMOS14 annotation files and results, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidlab.evaluation.localization.io import (
    THUMOS14_CLASSES,
    LocalizationFormatError,
    read_activitynet_ground_truth,
    read_ground_truth,
    read_results,
)

DATABASE = {
    "database": {
        "a": {"subset": "validation", "annotations": [{"segment": [1, 2.5], "label": "x"}]},
        "b": {"subset": "training", "annotations": [{"segment": ["3", 4], "label": "y"}]},
    }
}


def test_activitynet_subset_filter(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(DATABASE))
    everything = read_activitynet_ground_truth(path)
    assert everything.videos.tolist() == ["a", "b"] and everything.classes() == ["x", "y"]
    np.testing.assert_array_equal(everything.segments, [[1, 2.5], [3, 4]])
    validation = read_activitynet_ground_truth(path, "validation")
    assert validation.videos.tolist() == ["a"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"db": {}}, "'database'"),
        ({"database": {"a": {"annotations": [{"segment": [1], "label": "x"}]}}},
         r"database\['a'\].annotations\[0\]: segment \[1\]"),
        ({"database": {"a": {"annotations": [{"segment": [3, 1], "label": "x"}]}}},
         "ends before it starts"),
        ({"database": {"a": {"annotations": [{"segment": [0, 1]}]}}}, "'label'"),
        ({"database": {"a": {"subset": "x"}}}, "no 'annotations'"),
    ],
)  # fmt: skip
def test_activitynet_errors_name_file_and_entry(tmp_path, payload, message):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(LocalizationFormatError, match=message) as info:
        read_activitynet_ground_truth(path)
    assert str(path) in str(info.value)


def test_results_and_their_errors(tmp_path):
    path = tmp_path / "pred.json"
    results = {"a": [{"label": "x", "score": 0.5, "segment": [0, 1]}], "c": []}
    path.write_text(json.dumps({"results": results}))
    table = read_results(path)
    assert table.videos.tolist() == ["a"] and table.scores.tolist() == [0.5]
    path.write_text(
        json.dumps({"results": {"a": [{"label": "x", "score": "hi", "segment": [0, 1]}]}})
    )
    with pytest.raises(LocalizationFormatError, match=r"results\['a'\]\[0\]: score 'hi'"):
        read_results(path)
    path.write_text("{not json")
    with pytest.raises(LocalizationFormatError, match="not valid JSON"):
        read_results(path)


def test_thumos14_folder(tmp_path):
    for name in THUMOS14_CLASSES:
        (tmp_path / f"{name}_test.txt").write_text("")
    (tmp_path / "Diving_test.txt").write_text("video_test_1 1.0 2.0\nvideo_test_2  3.5 4.5\n\n")
    (tmp_path / "Ambiguous_test.txt").write_text("video_test_1 5 6\n")
    gt = read_ground_truth(tmp_path, "test")
    assert gt.labels.tolist() == ["Diving", "Diving"]
    assert gt.videos.tolist() == ["video_test_1", "video_test_2"]
    np.testing.assert_array_equal(gt.ambiguous["video_test_1"], [[5, 6]])
    (tmp_path / "Diving_test.txt").write_text("video_test_1 1.0\n")
    with pytest.raises(LocalizationFormatError, match=r"Diving_test.txt:1"):
        read_ground_truth(tmp_path, "test")
    (tmp_path / "Billiards_test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="Billiards_test.txt"):
        read_ground_truth(tmp_path, "test")
