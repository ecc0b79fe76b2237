"""MOTChallenge preprocessing, exactly as TrackEval 1.3.0's `MotChallenge2DBox` does it.

For each frame (MOT16, MOT17, MOT20):

1. Tracker boxes are matched to *all* ground-truth boxes of the frame (every class, zero-marked
   ones included) by a Hungarian assignment on IoU, counting only pairs with IoU >= 0.5.
   Tracker boxes matched to a distractor class (person on vehicle, static person, distractor,
   reflection; MOT20 also non-MOT vehicle) are removed.
2. Ground-truth boxes are kept only if they are pedestrians (class 1) and not zero-marked
   (the "consider" column, truncated to an integer, is not 0).

MOT15 ground truth has no classes: step 1 is skipped and step 2 only drops zero-marked boxes.
Ids are then relabelled to 0..n-1 (in increasing order of the original ids) and the IoU of every
remaining (ground truth, tracker) pair of a frame is computed, keeping the overlapping ones: that,
with the ids, is the `SequenceData` every metric works on.

Row order: within a frame, boxes are taken in increasing id order (the order of `MotTable`),
TrackEval takes them in file order. The two agree for files laid out as MOTChallenge ships them
(ground truth sorted by id, results by frame then id), and then every result is bit-identical.
For other orders the per-frame sums of MOTP and LocA may differ in the last bit, and where two
assignments score exactly the same the Hungarian solver may pick the other one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlab.evaluation.mot.io import MotFormatError, MotTable
from vidlab.evaluation.mot.matching import (
    EPS,
    FrameLayout,
    conflicted_groups,
    overlapping_pairs,
    pair_ious,
)

logger = logging.getLogger(__name__)

BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")
PEDESTRIAN = 1
# The MOTChallenge class ids (MOT16 paper, table 2), valid ground-truth classes are 1..13.
CLASS_IDS = {
    "pedestrian": 1, "person_on_vehicle": 2, "car": 3, "bicycle": 4, "motorbike": 5,
    "non_mot_vehicle": 6, "static_person": 7, "distractor": 8, "occluder": 9,
    "occluder_on_ground": 10, "occluder_full": 11, "reflection": 12, "crowd": 13,
}  # fmt: skip
DISTRACTORS = ("person_on_vehicle", "static_person", "distractor", "reflection")
MOT20_EXTRA_DISTRACTORS = ("non_mot_vehicle",)
DISTRACTOR_IOU = 0.5  # a tracker box must overlap a distractor this much to be removed


def distractor_class_ids(benchmark: str) -> np.ndarray:
    """Ground-truth class ids whose matched tracker boxes are removed, for a benchmark."""
    names = DISTRACTORS + (MOT20_EXTRA_DISTRACTORS if benchmark == "MOT20" else ())
    return np.array(sorted(CLASS_IDS[n] for n in names), dtype=np.int64)


@dataclass(frozen=True)
class SequenceData:
    """One preprocessed sequence: what every MOT metric needs, nothing more.

    Boxes of both tables are sorted by frame then original id. Frames are 0-based here (frame f
    is MOTChallenge frame f + 1). Frame f's similarity matrix, TrackEval's
    `similarity_scores[f]` of shape (n_gt_f, n_tracker_f), is stored sparsely: only the pairs
    with a positive IoU, each with its position in the flat layout of all frames' matrices.

    Attributes:
        name: Sequence name.
        num_frames: Number of frames F of the sequence.
        gt_ids: (Ng,) int64 ground-truth ids relabelled to 0..num_gt_ids-1.
        tracker_ids: (Nt,) int64 tracker ids relabelled to 0..num_tracker_ids-1.
        layout: Frame offsets of both tables and of the flat (n_gt_f x n_tracker_f) blocks.
        pair_gt: (K,) int64 ground-truth box of each overlapping pair.
        pair_tracker: (K,) int64 tracker box of each overlapping pair.
        pair_flat: (K,) int64 position of each pair in the flat layout (sorted: pairs are in
            frame, gt box, tracker box order).
        similarity: (K,) float64 IoU of each pair, in (0, 1].
        num_gt_ids: Number of distinct ground-truth ids.
        num_tracker_ids: Number of distinct tracker ids.
    """

    name: str
    num_frames: int
    gt_ids: np.ndarray
    tracker_ids: np.ndarray
    layout: FrameLayout
    pair_gt: np.ndarray
    pair_tracker: np.ndarray
    pair_flat: np.ndarray
    similarity: np.ndarray
    num_gt_ids: int
    num_tracker_ids: int

    @property
    def num_gt_dets(self) -> int:
        """Number of ground-truth boxes."""
        return int(self.gt_ids.shape[0])

    @property
    def num_tracker_dets(self) -> int:
        """Number of tracker boxes."""
        return int(self.tracker_ids.shape[0])

    @property
    def pair_frame(self) -> np.ndarray:
        """(K,) 0-based frame of each overlapping pair."""
        return np.searchsorted(self.layout.row_offsets, self.pair_gt, side="right") - 1

    def similarity_matrix(self, frame: int) -> np.ndarray:
        """The dense (n_gt, n_tracker) IoU matrix of one 0-based frame."""
        return self.layout.block(self.layout.dense(self.pair_flat, self.similarity), frame)


def preprocess_sequence(
    name: str,
    num_frames: int,
    gt: MotTable,
    results: MotTable,
    *,
    benchmark: str = "MOT17",
    gt_source: str = "ground truth",
    results_source: str = "results",
) -> SequenceData:
    """Apply the MOTChallenge preprocessing to one sequence.

    Args:
        name: Sequence name, for messages and the result.
        num_frames: Sequence length in frames.
        gt: Ground-truth table (`read_mot_txt(..., kind="gt")`).
        results: Tracker output table (`kind="results"`).
        benchmark: One of `BENCHMARKS`; MOT15 has no classes, MOT20 has one more distractor.
        gt_source: How to name the ground truth in error messages (e.g. its file path).
        results_source: How to name the results in error messages.

    Returns:
        The preprocessed sequence.

    Raises:
        ValueError: Unknown benchmark, or frames beyond `num_frames` in either table.
        MotFormatError: A tracker box has a class other than pedestrian; a ground-truth file
            without a class column outside MOT15; a ground-truth class outside 1..13.
    """
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark={benchmark!r}, expected one of {BENCHMARKS}")
    for table, source in ((gt, gt_source), (results, results_source)):
        if len(table) and (table.frame[0] < 1 or table.frame[-1] > num_frames):
            raise ValueError(
                f"{source} ({name}): frames {table.frame[0]}..{table.frame[-1]} fall outside "
                f"1..{num_frames}"
            )
    _check_tracker_classes(results, name, results_source)
    if benchmark == "MOT15":
        keep_gt = np.trunc(gt.score) != 0
    else:
        _check_gt_classes(gt, results, name, gt_source)
        results = results.take(~_distractor_matched(gt, results, num_frames, benchmark))
        keep_gt = (np.trunc(gt.score) != 0) & (gt.class_id == PEDESTRIAN)
    return _build_sequence(name, num_frames, gt.take(keep_gt), results)


def _check_tracker_classes(results: MotTable, name: str, source: str) -> None:
    """TrackEval evaluates pedestrians only: a tracker box of class > 1 is an error."""
    bad = results.class_id > PEDESTRIAN
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MotFormatError(
            f"{source} ({name}), frame {results.frame[i]}: tracker box of class "
            f"{results.class_id[i]}, expected pedestrians only (class 1, or -1 for none)"
        )


def _check_gt_classes(gt: MotTable, results: MotTable, name: str, source: str) -> None:
    """Ground-truth classes must be valid where TrackEval's preprocessing looks at them."""
    if not len(gt):
        return
    if np.all(gt.class_id == -1):
        raise MotFormatError(
            f"{source} ({name}): ground truth has no class column (7 or 10 columns); expected "
            f"the 9-column MOT16/17/20 layout, or benchmark='MOT15'"
        )
    # TrackEval checks only frames that also have tracker boxes.
    has_tracker = np.isin(gt.frame, results.frame)
    invalid = has_tracker & ((gt.class_id < 1) | (gt.class_id > len(CLASS_IDS)))
    if invalid.any():
        i = int(np.flatnonzero(invalid)[0])
        raise MotFormatError(
            f"{source} ({name}), frame {gt.frame[i]}: ground-truth class {gt.class_id[i]}, "
            f"expected a MOTChallenge class 1..{len(CLASS_IDS)}"
        )


def _distractor_matched(
    gt: MotTable, results: MotTable, num_frames: int, benchmark: str
) -> np.ndarray:
    """(Nt,) bool: tracker boxes that the IoU >= 0.5 assignment pairs with a distractor."""
    removed = np.zeros(len(results), dtype=bool)
    distractor = np.isin(gt.class_id, distractor_class_ids(benchmark))
    if not distractor.any() or not len(results):
        return removed
    tr_offsets = results.frame_bounds(num_frames)
    # Frames where some distractor overlaps some tracker box enough to be matched at all.
    d_rows = np.flatnonzero(distractor)
    a, b = overlapping_pairs(gt.tlwh[d_rows], gt.frame[d_rows] - 1, results.tlwh, tr_offsets)
    d_iou = pair_ious(gt.tlwh[d_rows], results.tlwh, a, b)
    frames = np.unique(gt.frame[d_rows[a[d_iou >= DISTRACTOR_IOU - EPS]]] - 1)
    if not frames.size:
        return removed
    # In those frames, candidates among all ground truth (every class competes for a tracker box).
    rows = np.flatnonzero(np.isin(gt.frame - 1, frames))
    a, b = overlapping_pairs(gt.tlwh[rows], gt.frame[rows] - 1, results.tlwh, tr_offsets)
    scores = pair_ious(gt.tlwh[rows], results.tlwh, a, b)
    cand = scores >= DISTRACTOR_IOU - EPS  # TrackEval zeroes the rest, then keeps scores > eps
    g, t, scores = rows[a[cand]], b[cand], scores[cand]
    frame = gt.frame[g] - 1
    conflicts = conflicted_groups(frame, g, t, len(gt), len(results))
    simple = ~np.isin(frame, conflicts)
    matched_rows, matched_cols = [g[simple]], [t[simple]]
    gt_offsets = gt.frame_bounds(num_frames)
    for f in conflicts.tolist():
        mine = frame == f
        g0, t0 = gt_offsets[f], tr_offsets[f]
        block = np.zeros((gt_offsets[f + 1] - g0, tr_offsets[f + 1] - t0))
        block[g[mine] - g0, t[mine] - t0] = scores[mine]
        r, c = linear_sum_assignment(block, maximize=True)
        ok = block[r, c] > EPS
        matched_rows.append(g0 + r[ok])
        matched_cols.append(t0 + c[ok])
    rows_m, cols_m = np.concatenate(matched_rows), np.concatenate(matched_cols)
    removed[cols_m[distractor[rows_m]]] = True
    logger.debug("removed %d tracker boxes matched to distractors", int(removed.sum()))
    return removed


def _build_sequence(name: str, num_frames: int, gt: MotTable, results: MotTable) -> SequenceData:
    """Relabel ids to 0..n-1 and find the IoU of every overlapping same-frame (gt, tracker) pair."""
    gt_unique, gt_ids = np.unique(gt.track_id, return_inverse=True)
    tr_unique, tr_ids = np.unique(results.track_id, return_inverse=True)
    layout = FrameLayout.from_offsets(gt.frame_bounds(num_frames), results.frame_bounds(num_frames))
    a, b = overlapping_pairs(gt.tlwh, gt.frame - 1, results.tlwh, layout.col_offsets)
    iou = pair_ious(gt.tlwh, results.tlwh, a, b)
    positive = iou > 0
    a, b, iou = a[positive], b[positive], iou[positive]
    return SequenceData(
        name=name,
        num_frames=num_frames,
        gt_ids=gt_ids.astype(np.int64).reshape(-1),
        tracker_ids=tr_ids.astype(np.int64).reshape(-1),
        layout=layout,
        pair_gt=a,
        pair_tracker=b,
        pair_flat=layout.flat_index(gt.frame[a] - 1, a, b),
        similarity=iou,
        num_gt_ids=int(gt_unique.shape[0]),
        num_tracker_ids=int(tr_unique.shape[0]),
    )
