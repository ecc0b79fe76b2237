"""MOTChallenge preprocessing into SequenceData: vidlab.evaluation.mot.preprocess."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.evaluation.mot.io import MotFormatError
from vidlab.evaluation.mot.preprocess import distractor_class_ids, preprocess_sequence

BOX = (0.0, 0.0, 10.0, 20.0)


def test_ids_are_relabelled_and_pairs_cover_each_frame(motkit) -> None:
    gt = motkit.table(
        [(1, 40, *BOX, 1, 1, 1), (1, 7, 50, 0, 10, 20, 1, 1, 1), (3, 40, *BOX, 1, 1, 1)]
    )
    res = motkit.table([(1, 900, *BOX, 1, -1, -1), (2, 3, *BOX, 1, -1, -1)])
    data = preprocess_sequence("s", 3, gt, res)
    # Original ids 7 and 40 become 0 and 1 (increasing order), tracker ids 3, 900 -> 0, 1.
    assert data.gt_ids.tolist() == [0, 1, 1] and data.tracker_ids.tolist() == [1, 0]
    assert (data.num_gt_ids, data.num_tracker_ids) == (2, 2)
    layout = data.layout
    assert layout.row_offsets.tolist() == [0, 2, 2, 3]
    assert layout.col_offsets.tolist() == [0, 1, 2, 2]
    # Frame 1 is a 2 x 1 similarity matrix: gt id 7's box is elsewhere, gt id 40's coincides;
    # only the overlapping pair is stored.
    np.testing.assert_array_equal(data.similarity_matrix(0), [[0.0], [1.0]])
    assert (data.pair_gt.tolist(), data.pair_tracker.tolist()) == ([1], [0])
    assert data.similarity_matrix(1).shape == (0, 1)
    assert data.similarity_matrix(2).shape == (1, 0)


def test_distractor_classes_per_benchmark() -> None:
    assert distractor_class_ids("MOT17").tolist() == [2, 7, 8, 12]
    assert distractor_class_ids("MOT20").tolist() == [2, 6, 7, 8, 12]


def test_removal_uses_one_to_one_matching_over_all_classes(motkit) -> None:
    # A distractor and a pedestrian at the same place; two tracker boxes on it. The assignment
    # pairs one box with each, so exactly one tracker box is removed and one is kept.
    gt = motkit.table([(1, 1, *BOX, 1, 1, 1), (1, 2, *BOX, 0, 8, 1)])
    res = motkit.table([(1, 1, *BOX, 1, -1, -1), (1, 2, 0.0, 1.0, 10.0, 20.0, 1, -1, -1)])
    data = preprocess_sequence("s", 1, gt, res)
    assert (data.num_gt_dets, data.num_tracker_dets) == (1, 1)


def test_tracker_boxes_of_other_classes_are_rejected(motkit) -> None:
    gt = motkit.table([(1, 1, *BOX, 1, 1, 1)])
    res = motkit.table([(1, 1, *BOX, 1, 3, 1)])  # 8/9-column results carry a class: car
    with pytest.raises(MotFormatError, match="class 3, expected pedestrians only"):
        preprocess_sequence("s", 1, gt, res, results_source="res/s.txt")


def test_ground_truth_needs_classes_outside_mot15(motkit) -> None:
    gt = motkit.table([(1, 1, *BOX, 1, -1, -1)])
    res = motkit.table([(1, 1, *BOX, 1, -1, -1)])
    with pytest.raises(MotFormatError, match="no class column"):
        preprocess_sequence("s", 1, gt, res, benchmark="MOT17")
    assert preprocess_sequence("s", 1, gt, res, benchmark="MOT15").num_gt_dets == 1


def test_invalid_ground_truth_class_is_an_error(motkit) -> None:
    gt = motkit.table([(1, 1, *BOX, 1, 1, 1), (1, 2, 50, 0, 10, 20, 1, 14, 1)])
    res = motkit.table([(1, 1, *BOX, 1, -1, -1)])
    with pytest.raises(MotFormatError, match=r"gt/gt.txt \(s\), frame 1: ground-truth class 14"):
        preprocess_sequence("s", 1, gt, res, gt_source="gt/gt.txt")


def test_unknown_benchmark_and_frames_out_of_range(motkit) -> None:
    gt = motkit.table([(3, 1, *BOX, 1, 1, 1)])
    with pytest.raises(ValueError, match="benchmark='KITTI'"):
        preprocess_sequence("s", 3, gt, motkit.table([]), benchmark="KITTI")
    with pytest.raises(ValueError, match=r"outside 1..2"):
        preprocess_sequence("s", 2, gt, motkit.table([]))
