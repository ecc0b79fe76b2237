"""ActivityNet detection protocol on hand-built cases whose AP is worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.evaluation.localization import (
    ACTIVITYNET_TIOU,
    THUMOS14_TIOU,
    SegmentTable,
    evaluate_localization,
    segment_iou_matrix,
    threshold_key,
)


def table(rows, scores=None, ambiguous=None) -> SegmentTable:
    """rows: (video, t0, t1, label)."""
    return SegmentTable.from_rows(
        [r[0] for r in rows],
        [(r[1], r[2]) for r in rows],
        [r[3] for r in rows],
        scores,
        ambiguous,
    )


def test_presets():
    assert THUMOS14_TIOU == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7])
    assert ACTIVITYNET_TIOU == pytest.approx(np.arange(10) * 0.05 + 0.5)
    assert [threshold_key(t) for t in ACTIVITYNET_TIOU[:3]] == ["0.50", "0.55", "0.60"]


def test_segment_iou():
    iou = segment_iou_matrix(
        np.array([[0.0, 10.0], [5.0, 15.0]]), np.array([[0.0, 10.0], [20.0, 30.0]])
    )
    np.testing.assert_allclose(iou, [[1.0, 0.0], [5 / 15, 0.0]])


def test_perfect_predictions_score_one():
    gt = table([("v", 0, 10, "a"), ("v", 20, 30, "a"), ("w", 5, 9, "b")])
    pred = table([("v", 20, 30, "a"), ("w", 5, 9, "b"), ("v", 0, 10, "a")], [0.3, 0.2, 0.9])
    result = evaluate_localization(gt, pred, THUMOS14_TIOU)
    assert result.classes == ["a", "b"]
    np.testing.assert_array_equal(result.ap, np.ones((5, 2)))
    assert result.average_mAP == 1.0


def test_interpolated_envelope():
    # 3 ground truths; ranked predictions: TP, FP, TP, FP -> precision 1, 1/2, 2/3, 1/2 at recall
    # 1/3, 1/3, 2/3, 2/3: AP = 1/3 * 1 + 1/3 * 2/3 (the envelope lifts rank 2's precision).
    gt = table([("v", 0, 10, "a"), ("v", 20, 30, "a"), ("v", 40, 50, "a")])
    pred = table(
        [("v", 0, 10, "a"), ("v", 60, 70, "a"), ("v", 20, 30, "a"), ("v", 80, 90, "a")],
        [0.9, 0.8, 0.7, 0.6],
    )
    assert evaluate_localization(gt, pred, [0.5]).ap[0, 0] == pytest.approx(5 / 9, abs=1e-12)


def test_duplicates_are_false_positives_and_threshold_decides():
    # One ground truth, two predictions: the better-scored one overlaps 0.6, the other exactly.
    gt = table([("v", 0, 10, "a")])
    pred = table([("v", 0, 6, "a"), ("v", 0, 10, "a")], [0.9, 0.8])
    ap = evaluate_localization(gt, pred, [0.5, 0.7]).ap[:, 0]
    # 0.5: rank 1 matches, rank 2 is a duplicate -> AP 1. 0.7: rank 1 misses, rank 2 matches -> 1/2.
    np.testing.assert_allclose(ap, [1.0, 0.5])


def test_tied_scores_rank_as_the_official_argsort():
    # Tied scores rank as scores.argsort()[::-1]: the later of two tied predictions first. So the
    # 0.6-overlap prediction (listed second) comes first; a stable sort would give 1.0 at 0.7.
    gt = table([("v", 0, 10, "a")])
    pred = table([("v", 0, 10, "a"), ("v", 0, 6, "a")], [0.5, 0.5])
    np.testing.assert_allclose(evaluate_localization(gt, pred, [0.5, 0.7]).ap[:, 0], [1.0, 0.5])


def test_tied_tiou_takes_the_later_ground_truth():
    # [5, 15] overlaps both ground truths by 1/3: like tiou.argsort()[::-1], it takes the second,
    # so [10, 20] (tIoU 1 with it) then finds it taken and [0, 10] out of reach: a false positive.
    gt = table([("v", 0, 10, "a"), ("v", 10, 20, "a")])
    pred = table([("v", 5, 15, "a"), ("v", 10, 20, "a")], [0.9, 0.8])
    assert evaluate_localization(gt, pred, [0.3]).ap[0, 0] == pytest.approx(0.5)


def test_class_without_predictions_scores_zero():
    gt = table([("v", 0, 10, "a"), ("v", 20, 30, "b")])
    pred = table([("v", 0, 10, "a")], [0.9])
    result = evaluate_localization(gt, pred, [0.5])
    np.testing.assert_array_equal(result.ap, [[1.0, 0.0]])
    assert result.mAP.tolist() == [0.5]
    assert result.num_predictions.tolist() == [1, 0]


def test_predictions_in_videos_without_ground_truth_are_false_positives():
    gt = table([("v", 0, 10, "a"), ("w", 0, 10, "b")])
    # Video "x" has no ground truth; "w" has none of class a.
    pred = table([("x", 0, 10, "a"), ("w", 0, 10, "a"), ("v", 0, 10, "a")], [0.9, 0.8, 0.7])
    assert evaluate_localization(gt, pred, [0.5]).ap[0, 0] == pytest.approx(1 / 3)


def test_unknown_labels_are_not_scored():
    gt = table([("v", 0, 10, "a")])
    pred = table([("v", 0, 10, "zzz"), ("v", 0, 10, "a")], [0.9, 0.1])
    result = evaluate_localization(gt, pred, [0.5])
    assert result.classes == ["a"] and result.ignored_predictions == 1
    assert result.ap[0, 0] == 1.0


def test_no_predictions_at_all():
    gt = table([("v", 0, 10, "a")])
    result = evaluate_localization(gt, table([], []), ACTIVITYNET_TIOU)
    assert result.average_mAP == 0.0 and result.mAP.shape == (10,)


def test_thumos_ambiguous_segments_remove_overlapping_false_positives():
    gt_rows = [("v", 0, 10, "a")]
    pred = table([("v", 21, 29, "a"), ("v", 0, 10, "a"), ("v", 50, 60, "a")], [0.9, 0.8, 0.7])
    plain = evaluate_localization(table(gt_rows), pred, [0.5]).ap[0, 0]
    amb = evaluate_localization(table(gt_rows, ambiguous={"v": [(20, 30)]}), pred, [0.5]).ap[0, 0]
    assert plain == pytest.approx(0.5)  # FP then TP
    assert amb == pytest.approx(1.0)  # the FP inside the ambiguous segment is not counted
    # A prediction that matches ground truth stays a true positive even inside an ambiguous one.
    both = table(gt_rows, ambiguous={"v": [(0, 30)]})
    assert evaluate_localization(both, pred, [0.5]).ap[0, 0] == pytest.approx(1.0)
