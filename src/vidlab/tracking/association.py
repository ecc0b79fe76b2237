"""Association costs and gated assignment, vectorised over all track/detection pairs."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

_EPS = 1e-9
#: ``xyxy @ this`` = ``x1, y1, -x2, -y2, width, height`` (each entry exact: one or two unit terms).
_FLIP_AND_SIZE = np.array(
    [
        [1.0, 0.0, 0.0, 0.0, -1.0, 0.0],
        [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
        [0.0, 0.0, -1.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, -1.0, 0.0, 1.0],
    ]
)


class Assignment(NamedTuple):
    """Result of a gated assignment between ``T`` rows (tracks) and ``N`` columns (detections).

    Attributes:
        rows: (K,) int64 matched row indices.
        cols: (K,) int64 matched column indices (``cols[k]`` is matched to ``rows[k]``).
        unmatched_rows: (T - K,) int64 row indices, ascending.
        unmatched_cols: (N - K,) int64 column indices, ascending.
    """

    rows: np.ndarray
    cols: np.ndarray
    unmatched_rows: np.ndarray
    unmatched_cols: np.ndarray


def iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union.

    Args:
        a: (T, 4) finite boxes ``x1, y1, x2, y2`` in pixels.
        b: (N, 4) finite boxes in the same format.

    Returns:
        (T, N) IoU in [0, 1]; zero where a union is empty.
    """
    # One product per side gives the sign-flipped corners and the size: with the far corners
    # negated, a single maximum yields both the near corners of the intersection and its negated
    # far corners, and their sum is minus its width and height. Negation is exact and rounding is
    # symmetric, so the result equals the textbook formula bit for bit in fewer numpy calls.
    fa, fb = a @ _FLIP_AND_SIZE, b @ _FLIP_AND_SIZE  # (T, 6), (N, 6)
    corners = np.maximum(fa[:, None, :4], fb[:, :4])  # (T, N, 4): x1, y1, -x2, -y2
    neg_wh = corners[..., 2:] + corners[..., :2]  # (T, N, 2): -(width, height)
    np.minimum(neg_wh, 0.0, out=neg_wh)
    inter = neg_wh[..., 0] * neg_wh[..., 1]
    union = (fa[:, 4] * fa[:, 5])[:, None] + fb[:, 4] * fb[:, 5] - inter
    return inter / np.maximum(union, _EPS)  # inter <= union, so an empty union gives 0


def iou_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, N) cost ``1 - IoU`` between (T, 4) and (N, 4) xyxy boxes."""
    return 1.0 - iou_xyxy(a, b)


def fuse_score(cost: np.ndarray, det_score: np.ndarray) -> np.ndarray:
    """ByteTrack's score fusion: ``1 - (1 - cost) * score``, so weak detections are matched last.

    Args:
        cost: (T, N) costs in [0, 1] (e.g. ``1 - IoU``).
        det_score: (N,) detection confidences in [0, 1].
    """
    return 1.0 - (1.0 - cost) * det_score[None, :]


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, N) cosine distance in [0, 2] between (T, D) and (N, D) L2-normalised embeddings."""
    return np.clip(1.0 - a.astype(np.float64) @ b.astype(np.float64).T, 0.0, 2.0)


def linear_assignment(cost: np.ndarray, thresh: float) -> Assignment:
    """Minimum-cost matching where leaving a row or a column unmatched costs ``thresh / 2``.

    This is the ``cost_limit`` semantics of ``lap.lapjv`` used by ByteTrack, BoT-SORT and OC-SORT
    style trackers: a pair is matched only when that beats leaving both ends unmatched, i.e. only
    pairs with cost below ``thresh`` can be matched, and the total cost is minimised jointly.
    ``inf`` entries are forbidden pairs.

    Args:
        cost: (T, N) pairwise costs; NaN is not allowed.
        thresh: the gate; must be finite and positive.

    Returns:
        The matches and the unmatched rows and columns.
    """
    t, n = cost.shape
    if t == 0 or n == 0:
        return Assignment(_EMPTY, _EMPTY, np.arange(t), np.arange(n))
    if not thresh > 0 or not math.isfinite(thresh):
        raise ValueError(f"linear_assignment: thresh must be finite and > 0, got {thresh}")
    rows, cols = (cost < thresh).nonzero()  # admissible pairs
    row_list, col_list = rows.tolist(), cols.tolist()
    # When no two admissible pairs share a row or a column (including when there are none), each
    # pair is worth matching on its own (cost < thresh beats leaving both ends unmatched at
    # thresh / 2 each), so they are the optimal assignment and no solver is needed. Python sets
    # are cheaper than numpy reductions on these tiny arrays.
    if len(set(row_list)) < len(row_list) or len(set(col_list)) < len(col_list):
        r_idx = np.array(sorted(set(row_list)), dtype=np.int64)
        c_idx = np.array(sorted(set(col_list)), dtype=np.int64)
        # Costs clipped at the gate: a pair at the gate is no better than none. A full
        # rectangular assignment on them has the same optimum as the one that may leave ends
        # unmatched at thresh / 2 each (a forced pair at the gate costs exactly that much).
        sub = np.minimum(cost[r_idx[:, None], c_idx], thresh)
        row_ind, col_ind = linear_sum_assignment(sub)
        keep = sub[row_ind, col_ind] < thresh
        rows, cols = r_idx[row_ind[keep]], c_idx[col_ind[keep]]
        row_list, col_list = rows.tolist(), cols.tolist()
    return Assignment(rows, cols, _complement(row_list, t), _complement(col_list, n))


def hungarian_gated(
    similarity: np.ndarray, min_similarity: float, gate: np.ndarray | None = None
) -> Assignment:
    """SORT/OC-SORT style matching: maximise total similarity, then drop pairs under the gate.

    Unlike :func:`linear_assignment`, every row and column takes part in the optimal assignment
    first and weak pairs are rejected afterwards (as in the SORT reference code). When the
    admissible pairs are already one-to-one they are taken directly.

    Args:
        similarity: (T, N) scores to maximise (e.g. IoU plus a direction bonus).
        min_similarity: matched pairs whose gate value is below this are unmatched again.
        gate: (T, N) values compared with ``min_similarity`` (default: ``similarity`` itself;
            OC-SORT maximises IoU plus a direction term but gates on IoU alone).
    """
    t, n = similarity.shape
    if t == 0 or n == 0:
        return Assignment(_EMPTY, _EMPTY, np.arange(t), np.arange(n))
    gate = similarity if gate is None else gate
    passing = gate >= min_similarity
    if passing.sum(axis=1).max() <= 1 and passing.sum(axis=0).max() <= 1:
        # Every row and column has at most one admissible partner: those pairs are the matching
        # (SORT's shortcut; it also keeps such pairs from being traded for inadmissible ones).
        rows, cols = np.nonzero(passing)
    else:
        rows, cols = linear_sum_assignment(similarity, maximize=True)
    keep = gate[rows, cols] >= min_similarity
    rows, cols = rows[keep].astype(np.int64), cols[keep].astype(np.int64)
    return Assignment(rows, cols, _complement(rows.tolist(), t), _complement(cols.tolist(), n))


def _complement(taken: list[int], size: int) -> np.ndarray:
    """Ascending int64 indices in ``range(size)`` that are not in ``taken`` (distinct indices).

    Sizes are a few dozen at most: Python sets beat numpy's per-call overhead here.
    """
    if not taken:
        return np.arange(size)
    if len(taken) == size:  # ``taken`` holds distinct indices: all of them
        return _EMPTY
    taken_set = set(taken)
    return np.array([i for i in range(size) if i not in taken_set], dtype=np.int64)


_EMPTY = np.zeros(0, dtype=np.int64)
