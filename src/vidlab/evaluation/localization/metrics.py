"""Temporal action localization mAP with the ActivityNet detection protocol, in vectorised numpy.

The protocol (ActivityNet's ``Evaluation/eval_detection.py``, the numbers every paper reports):

- classes are the labels of the ground truth (in order of first appearance); predictions of other
  labels are not scored;
- per class, predictions are ranked by score, highest first, in the order of
  ``scores.argsort()[::-1]`` (so tied scores are ranked exactly as the official code ranks them);
- each prediction, in turn, is a true positive at a tIoU threshold when an unmatched ground-truth
  segment of its video has tIoU >= the threshold; it takes the one of highest tIoU (ties in the
  order of ``tiou.argsort()[::-1]``, as the official code); otherwise it is a false positive
  (always so in a video without ground truth of its class);
- AP is the area under the all-point interpolated precision envelope (VOC 2011 style), mAP the
  mean of the per-class APs at a threshold, and the average mAP the mean over thresholds.

`average_precision_detection` equals the official ``compute_average_precision_detection`` to
1e-9 (tests/evaluation/localization/test_reference_parity.py compares them); the greedy matching
is done per (class, video) group with all thresholds at once, so it has no per-threshold or
per-ground-truth Python loop.

THUMOS14 adds *ambiguous* segments: a prediction that would be a false positive but overlaps an
ambiguous segment of its video (positive intersection) is removed from the ranking instead
(TH14evalDet's rule); without ambiguous segments the result is the ActivityNet one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: ActivityNet v1.3's thresholds 0.50:0.05:0.95 and THUMOS14's 0.3:0.1:0.7.
ACTIVITYNET_TIOU = tuple(float(t) for t in np.linspace(0.5, 0.95, 10))
THUMOS14_TIOU = tuple(float(t) for t in np.linspace(0.3, 0.7, 5))
TIOU_PRESETS: dict[str, tuple[float, ...]] = {
    "activitynet": ACTIVITYNET_TIOU,
    "thumos14": THUMOS14_TIOU,
}


@dataclass(frozen=True)
class SegmentTable:
    """Temporal segments of several videos, one row each, in file order.

    Attributes:
        videos: (N,) video ids (object array of str).
        segments: (N, 2) float64 ``[t_start, t_end]`` in seconds.
        labels: (N,) class names (object array of str).
        scores: (N,) float64 confidences (predictions), or None (ground truth).
        ambiguous: video id -> (M, 2) float64 segments that no prediction is penalised for
            overlapping (THUMOS14's ``Ambiguous`` class); empty for ActivityNet.
    """

    videos: np.ndarray
    segments: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None = None
    ambiguous: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.videos)
        if self.segments.shape != (n, 2) or len(self.labels) != n:
            raise ValueError(
                f"videos ({n},), segments {self.segments.shape} and labels ({len(self.labels)},) "
                "must describe the same rows (segments (N, 2))"
            )
        if self.scores is not None and self.scores.shape != (n,):
            raise ValueError(f"scores {self.scores.shape} for {n} segments, expected ({n},)")

    @classmethod
    def from_rows(
        cls,
        videos: Sequence[str],
        segments: Sequence[Sequence[float]] | np.ndarray,
        labels: Sequence[str],
        scores: Sequence[float] | None = None,
        ambiguous: Mapping[str, Sequence[Sequence[float]]] | None = None,
    ) -> SegmentTable:
        """Build a table from plain lists (ids, ``[t0, t1]`` pairs, labels, optional scores)."""
        return cls(
            videos=np.asarray(list(videos), dtype=object),
            segments=np.asarray(segments, dtype=np.float64).reshape(-1, 2),
            labels=np.asarray(list(labels), dtype=object),
            scores=None if scores is None else np.asarray(scores, dtype=np.float64),
            ambiguous={
                v: np.asarray(s, dtype=np.float64).reshape(-1, 2)
                for v, s in (ambiguous or {}).items()
            },
        )

    def __len__(self) -> int:
        return len(self.videos)

    def select(self, rows: np.ndarray) -> SegmentTable:
        """The rows at `rows` (indices or a boolean mask), same ambiguous segments."""
        return SegmentTable(
            videos=self.videos[rows],
            segments=self.segments[rows],
            labels=self.labels[rows],
            scores=None if self.scores is None else self.scores[rows],
            ambiguous=self.ambiguous,
        )

    def classes(self) -> list[str]:
        """Distinct labels in order of first appearance (the official class index order)."""
        return list(dict.fromkeys(self.labels.tolist()))


@dataclass(frozen=True)
class LocalizationResult:
    """AP per threshold and class, and their means.

    Attributes:
        thresholds: (T,) tIoU thresholds.
        classes: the C class names (ground-truth labels, first-appearance order).
        ap: (T, C) average precision.
        num_ground_truth / num_predictions: (C,) segments per class.
        ignored_predictions: predictions whose label is not a ground-truth class (not scored).
    """

    thresholds: np.ndarray
    classes: list[str]
    ap: np.ndarray
    num_ground_truth: np.ndarray
    num_predictions: np.ndarray
    ignored_predictions: int = 0

    @property
    def mAP(self) -> np.ndarray:  # noqa: N802 (the name every paper uses)
        """(T,) mean AP over classes at each threshold."""
        return self.ap.mean(axis=1) if self.classes else np.zeros(len(self.thresholds))

    @property
    def average_mAP(self) -> float:  # noqa: N802
        """Mean of `mAP` over the thresholds."""
        return float(self.mAP.mean())

    def mAP_by_threshold(self) -> dict[str, float]:  # noqa: N802
        """``{"0.50": mAP, ...}``: thresholds written with two decimals."""
        return {threshold_key(t): float(m) for t, m in zip(self.thresholds, self.mAP, strict=True)}

    def ap_by_class(self) -> dict[str, dict[str, float]]:
        """``{class: {"0.50": AP, ...}}``."""
        return {
            name: {threshold_key(t): float(a) for t, a in zip(self.thresholds, column, strict=True)}
            for name, column in zip(self.classes, self.ap.T, strict=True)
        }


def threshold_key(threshold: float) -> str:
    """A threshold as written in metrics.json: two decimals (``0.5`` -> ``"0.50"``)."""
    return f"{threshold:.2f}"


def segment_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P, G) temporal IoU of segments `a` (P, 2) and `b` (G, 2), float64.

    The arithmetic is the official ``segment_iou``'s, operation for operation (so that results are
    bitwise equal): intersection ``max(0, min(ends) - max(starts))`` over
    ``len(b) + len(a) - intersection``. Zero-length pairs give NaN as there.
    """
    start = np.maximum(a[:, None, 0], b[None, :, 0])
    end = np.minimum(a[:, None, 1], b[None, :, 1])
    inter = (end - start).clip(0)  # (P, G)
    union = (b[None, :, 1] - b[None, :, 0]) + (a[:, None, 1] - a[:, None, 0]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def interpolated_average_precision(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """All-point interpolated AP of each row of (T, N) precision / recall curves, (T,).

    The precision envelope (the running maximum from the right) is integrated over the recall
    steps, with recall 0 and precision 0 prepended and recall 1, precision 0 appended.
    """
    rows = precision.shape[0]
    zeros = np.zeros((rows, 1))
    mprec = np.hstack([zeros, precision, zeros])
    mrec = np.hstack([zeros, recall, np.ones((rows, 1))])
    envelope = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    ap = np.empty(rows)
    for t in range(rows):  # T thresholds: a short loop over rows, each a vector operation
        steps = np.flatnonzero(mrec[t, 1:] != mrec[t, :-1]) + 1
        ap[t] = np.sum((mrec[t, steps] - mrec[t, steps - 1]) * envelope[t, steps])
    return ap


def _group_indices(keys: np.ndarray) -> dict[str, np.ndarray]:
    """Key -> positions of its rows, ascending (a stable group-by)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return {
        group[0]: positions
        for group, positions in zip(np.split(sorted_keys, cuts), np.split(order, cuts), strict=True)
        if len(group)
    }


def _match_video(
    pred_segments: np.ndarray, gt_segments: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Greedy matching of one video's predictions (already in rank order) to its ground truth.

    Returns:
        (T, P) bool: prediction p is a true positive at threshold t.
    """
    tiou = segment_iou_matrix(pred_segments, gt_segments)  # (P, G)
    ranked = np.argsort(tiou, axis=1)[:, ::-1]  # per prediction, as tiou.argsort()[::-1]
    ranked_tiou = np.take_along_axis(tiou, ranked, axis=1)
    # The official loop walks each prediction's ranked ground truth and stops at the first tIoU
    # below the threshold: the reachable ones are a prefix (NaN never stops it, as there).
    reachable = np.logical_and.accumulate(
        ~(ranked_tiou[:, None, :] < thresholds[None, :, None]), axis=2
    )  # (P, T, G)
    num_thresholds = len(thresholds)
    matched = np.zeros((num_thresholds, len(gt_segments)), dtype=bool)  # (T, G)
    tp = np.zeros((num_thresholds, len(pred_segments)), dtype=bool)
    rows = np.arange(num_thresholds)
    for p in range(len(pred_segments)):
        free = reachable[p] & ~matched[:, ranked[p]]  # (T, G) in this prediction's rank order
        hit = free.any(axis=1)
        if not hit.any():
            continue
        first = ranked[p][free.argmax(axis=1)]
        tp[hit, p] = True
        matched[rows[hit], first[hit]] = True
    return tp


def average_precision_detection(
    gt: SegmentTable,
    pred: SegmentTable,
    thresholds: Sequence[float] | np.ndarray = ACTIVITYNET_TIOU,
) -> np.ndarray:
    """AP of one class at every tIoU threshold (the official ``compute_average_precision_detection``).

    Args:
        gt: the class's ground-truth segments (labels and scores unused); `gt.ambiguous` holds
            the segments that turn overlapping false positives into ignored predictions.
        pred: the class's predictions with scores, in file order (which decides how ties rank).
        thresholds: tIoU thresholds.

    Returns:
        (T,) float64 AP; zeros when there is no prediction.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    num_pred = len(pred)
    ap = np.zeros(len(thresholds))
    if num_pred == 0:
        return ap
    if pred.scores is None:
        raise ValueError("predictions need scores")
    order = pred.scores.argsort()[::-1]  # the official ranking, ties included
    videos, segments = pred.videos[order], pred.segments[order]
    tp = np.zeros((len(thresholds), num_pred), dtype=bool)
    ignored = np.zeros(num_pred, dtype=bool)  # false positives that overlap an ambiguous segment
    gt_groups = _group_indices(gt.videos) if len(gt) else {}
    for video, positions in _group_indices(videos).items():
        if video in gt_groups:
            tp[:, positions] = _match_video(
                segments[positions], gt.segments[gt_groups[video]], thresholds
            )
        amb = gt.ambiguous.get(video)
        if amb is not None and len(amb):
            inter = np.minimum(segments[positions, None, 1], amb[None, :, 1]) - np.maximum(
                segments[positions, None, 0], amb[None, :, 0]
            )
            ignored[positions] = (inter > 0).any(axis=1)
    fp = ~tp & ~ignored[None, :]
    tp_cumsum = np.cumsum(tp, axis=1).astype(np.float64)
    fp_cumsum = np.cumsum(fp, axis=1).astype(np.float64)
    recall = tp_cumsum / float(len(gt))
    counted = tp_cumsum + fp_cumsum
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(counted > 0, tp_cumsum / counted, 0.0)
    return interpolated_average_precision(precision, recall)


def evaluate_localization(
    gt: SegmentTable,
    pred: SegmentTable,
    thresholds: Sequence[float] | np.ndarray = ACTIVITYNET_TIOU,
) -> LocalizationResult:
    """Per-class AP, mAP and average mAP of `pred` against `gt` (ActivityNet protocol).

    Args:
        gt: ground-truth segments of the evaluated subset (their labels define the classes).
        pred: predictions with scores, in file order; predictions whose label is no
            ground-truth class are counted in `LocalizationResult.ignored_predictions`.
        thresholds: tIoU thresholds (`ACTIVITYNET_TIOU`, `THUMOS14_TIOU` or any).
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.ndim != 1 or not len(thresholds):
        raise ValueError(f"tiou thresholds must be a non-empty list, got {thresholds.tolist()}")
    classes = gt.classes()
    ap = np.zeros((len(thresholds), len(classes)))
    num_gt = np.zeros(len(classes), dtype=np.int64)
    num_pred = np.zeros(len(classes), dtype=np.int64)
    gt_by_class = _group_indices(gt.labels) if len(gt) else {}
    pred_by_class = _group_indices(pred.labels) if len(pred) else {}
    for c, name in enumerate(classes):
        gi = gt_by_class[name]
        pi = pred_by_class.get(name, np.zeros(0, dtype=np.int64))
        ap[:, c] = average_precision_detection(gt.select(gi), pred.select(pi), thresholds)
        num_gt[c], num_pred[c] = len(gi), len(pi)
    ignored = int(len(pred) - num_pred.sum())
    return LocalizationResult(thresholds, classes, ap, num_gt, num_pred, ignored)
