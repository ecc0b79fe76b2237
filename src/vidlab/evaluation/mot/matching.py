"""Vectorised building blocks shared by the MOT preprocessing and metrics.

Per frame, TrackEval works on dense (n_gt, n_tracker) similarity matrices. Here all frames share
one flat layout (`FrameLayout`: frame f's matrix is a row-major block of a flat array) and only the
overlapping pairs are stored (most pairs of a frame do not overlap at all). Everything reproduces
TrackEval's floating-point arithmetic bit for bit, so thresholds and Hungarian assignments take
exactly the decisions TrackEval takes:

- `overlapping_pairs` + `pair_ious`: TrackEval's `_calculate_box_ious(..., box_format='xywh')` for
  the pairs where it is not 0, found with a sort-and-sweep over x instead of trying every pair.
- `frame_row_sums` / `frame_col_sums`: `S.sum(1)` / `S.sum(0)` of every per-frame matrix `S`
  exactly as numpy computes them: numpy's own `sum(axis=1)` over the rows of all frames of one
  width stacked densely (`numpy_row_sums`), and sequential accumulation across rows.
- `sequential_frame_sums`: `total = 0; for frame: total += sum(values_of_frame)`, TrackEval's
  way of accumulating MOTP and LocA, in that order.
- `conflicted_groups`: the frames where a maximum-weight assignment is not simply "every
  candidate pair", so the Hungarian algorithm only runs where it can change the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(float).eps)  # TrackEval's tolerance in every threshold comparison
DENSE_CHUNK = 1 << 20  # entries (8 MiB) of the dense matrices that `numpy_row_sums` sums at once
KEY_MARGIN_ULPS = 8  # slack, in units of the last place, of the sort keys of `overlapping_pairs`


@dataclass(frozen=True)
class FrameLayout:
    """Flat layout of per-frame (rows x columns) matrices: frame f is a row-major block.

    Rows (e.g. ground-truth boxes) and columns (tracker boxes) are two frame-sorted tables.

    Attributes:
        row_offsets: (F + 1,) int64; rows of frame f are `row_offsets[f]:row_offsets[f + 1]`.
        col_offsets: (F + 1,) int64; columns of frame f, likewise.
        offsets: (F + 1,) int64 start of each frame's block in the flat layout.
    """

    row_offsets: np.ndarray
    col_offsets: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_offsets(cls, row_offsets: np.ndarray, col_offsets: np.ndarray) -> FrameLayout:
        sizes = np.diff(row_offsets) * np.diff(col_offsets)
        offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        return cls(np.asarray(row_offsets), np.asarray(col_offsets), offsets)

    @property
    def num_frames(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_rows(self) -> np.ndarray:
        """(F,) rows per frame."""
        return np.diff(self.row_offsets)

    @property
    def n_cols(self) -> np.ndarray:
        """(F,) columns per frame."""
        return np.diff(self.col_offsets)

    def flat_index(self, frame: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Flat position of (global row, global column) pairs of the given frames."""
        local_row = row - self.row_offsets[frame]
        local_col = col - self.col_offsets[frame]
        return self.offsets[frame] + local_row * np.diff(self.col_offsets)[frame] + local_col

    def frame_of(self, flat: np.ndarray) -> np.ndarray:
        """0-based frame of each flat position."""
        return np.searchsorted(self.offsets, flat, side="right") - 1

    def dense(self, flat: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(P,) flat array of every frame's matrix: `values` at `flat`, 0 elsewhere."""
        out = np.zeros(int(self.offsets[-1]))
        out[flat] = values
        return out

    def block(self, dense: np.ndarray, frame: int) -> np.ndarray:
        """The (n_rows, n_cols) matrix view of frame `frame` in a dense flat array."""
        lo, hi = self.offsets[frame], self.offsets[frame + 1]
        n_rows = self.row_offsets[frame + 1] - self.row_offsets[frame]
        n_cols = self.col_offsets[frame + 1] - self.col_offsets[frame]
        return dense[lo:hi].reshape(n_rows, n_cols)


def overlapping_pairs(
    tlwh_a: np.ndarray, frame_a: np.ndarray, tlwh_b: np.ndarray, b_offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All same-frame (a, b) box pairs that overlap horizontally (x-extents intersect).

    Boxes `b` of each frame are sorted by left edge; a box `a` can only overlap those whose left
    edge lies in (a.x0 - widest b of the frame, a.x1), a range found by binary search. The exact
    test (TrackEval's arithmetic) then runs on these candidates only.

    Args:
        tlwh_a: (Na, 4) boxes in pixels.
        frame_a: (Na,) 0-based frame of each `a` box.
        tlwh_b: (Nb, 4) boxes, frame-sorted.
        b_offsets: (F + 1,) start of each frame's `b` boxes.

    Returns:
        (a index, b index) of each overlapping pair, sorted by a then b.
    """
    num_frames = b_offsets.shape[0] - 1
    empty = np.zeros(0, dtype=np.int64)
    if tlwh_a.shape[0] == 0 or tlwh_b.shape[0] == 0:
        return empty, empty
    ax0, bx0 = tlwh_a[:, 0], tlwh_b[:, 0]
    ax1, bx1 = ax0 + tlwh_a[:, 2], bx0 + tlwh_b[:, 2]
    b_frame = np.repeat(np.arange(num_frames), np.diff(b_offsets))
    widest = np.zeros(num_frames)
    np.maximum.at(widest, b_frame, np.maximum(bx1 - bx0, 0))
    low = min(ax0.min(), bx0.min()) - widest.max()
    span = max(ax1.max(), bx1.max()) - low + 2.0  # keys of different frames never interleave
    key_b = b_frame * span + (bx0 - low)
    order = np.argsort(key_b, kind="stable")
    key_b = key_b[order]
    margin = 1.0 + KEY_MARGIN_ULPS * np.spacing(num_frames * span)
    base = frame_a * span - low
    lo = np.searchsorted(key_b, base + ax0 - widest[frame_a] - margin, side="left")
    hi = np.searchsorted(key_b, base + ax1 + margin, side="right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(tlwh_a.shape[0]), count)
    b = order[np.repeat(lo, count) + _rank_in_group(count)]
    keep = np.minimum(ax1[a], bx1[b]) - np.maximum(ax0[a], bx0[b]) > 0
    keep &= b_frame[b] == frame_a[a]  # guaranteed by the key spacing; checked all the same
    a, b = a[keep], b[keep]
    sort = np.lexsort((b, a))
    return a[sort], b[sort]


def pair_ious(tlwh_a: np.ndarray, tlwh_b: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes `tlwh_a[a]` and `tlwh_b[b]`, pair by pair, with TrackEval's exact arithmetic.

    Args:
        tlwh_a: (Na, 4) boxes, top-left x, y, width, height in pixels.
        tlwh_b: (Nb, 4) boxes in the same format.
        a: (P,) indices into `tlwh_a`.
        b: (P,) indices into `tlwh_b`.

    Returns:
        (P,) float64 IoU in [0, 1]; 0 where either box or the union has no area.
    """
    ax0, ay0, bx0, by0 = tlwh_a[:, 0], tlwh_a[:, 1], tlwh_b[:, 0], tlwh_b[:, 1]
    ax1, ay1 = ax0 + tlwh_a[:, 2], ay0 + tlwh_a[:, 3]
    bx1, by1 = bx0 + tlwh_b[:, 2], by0 + tlwh_b[:, 3]
    # Areas from the corner coordinates, as TrackEval computes them (not w * h).
    area_a, area_b = (ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0)
    iw = np.minimum(ax1[a], bx1[b]) - np.maximum(ax0[a], bx0[b])
    ih = np.minimum(ay1[a], by1[b]) - np.maximum(ay0[a], by0[b])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    pa, pb = area_a[a], area_b[b]
    union = pa + pb - inter
    inter[(pa <= EPS) | (pb <= EPS) | (union <= EPS)] = 0
    union[union <= EPS] = 1
    return inter / union


def numpy_row_sums(
    row: np.ndarray, pos: np.ndarray, values: np.ndarray, width: int, num_rows: int
) -> np.ndarray:
    """`M.sum(axis=1)` of a (num_rows, width) matrix M given by its nonzeros, summed by numpy.

    The rows are scattered into dense (rows, width) chunks of at most `DENSE_CHUNK` entries and
    reduced with `ndarray.sum(axis=1)`: numpy sums every row of a C-contiguous matrix as one
    contiguous run of `width` values (pairwise, not left to right), whatever the number of rows,
    so each sum is bit-identical to the per-frame `S.sum(1)` TrackEval runs.

    Args:
        row: (K,) row of each nonzero entry, non-decreasing.
        pos: (K,) column of each entry, in 0..width-1.
        values: (K,) the entries.
        width: Number of columns of M.
        num_rows: Number of rows of M.

    Returns:
        (num_rows,) float64 row sums.
    """
    sums = np.zeros(num_rows)
    step = max(1, DENSE_CHUNK // max(width, 1))
    bounds = np.searchsorted(row, np.arange(0, num_rows + step, step)).tolist()
    for i, start in enumerate(range(0, num_rows, step)):
        lo, hi = bounds[i], bounds[i + 1]
        chunk = np.zeros((min(step, num_rows - start), width))  # (rows, width)
        chunk[row[lo:hi] - start, pos[lo:hi]] = values[lo:hi]
        sums[start : start + chunk.shape[0]] = chunk.sum(axis=1)
    return sums


def frame_row_sums(
    layout: FrameLayout, row: np.ndarray, col: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Row sums of every per-frame matrix, bit-identical to numpy's `S.sum(1)`.

    Args:
        layout: The frames' layout.
        row: (K,) global row of each nonzero entry; entries sorted by (row, col).
        col: (K,) global column of each entry.
        values: (K,) the entries.

    Returns:
        (R,) one sum per row of the row table.
    """
    num_rows = int(layout.row_offsets[-1])
    sums = np.zeros(num_rows)
    if values.shape[0] == 0:
        return sums
    frame = np.searchsorted(layout.row_offsets, row, side="right") - 1
    width = layout.n_cols[frame]
    local_col = col - layout.col_offsets[frame]
    order = np.argsort(width, kind="stable")  # keeps (row, col) order inside each width
    bounds = np.flatnonzero(np.diff(width[order])) + 1
    for group in np.split(order, bounds):
        rows, local_row = np.unique(row[group], return_inverse=True)
        w = int(width[group[0]])
        sums[rows] = numpy_row_sums(local_row, local_col[group], values[group], w, rows.shape[0])
    return sums


def frame_col_sums(
    layout: FrameLayout, row: np.ndarray, col: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Column sums of every per-frame matrix, bit-identical to numpy's `S.sum(0)`.

    numpy adds the rows one after the other (what `np.bincount` does in input order), except
    when a matrix has a single column: that column is contiguous and numpy sums it pairwise.

    Args:
        layout: The frames' layout.
        row: (K,) global row of each nonzero entry; entries sorted by (row, col).
        col: (K,) global column of each entry.
        values: (K,) the entries.

    Returns:
        (C,) one sum per column of the column table.
    """
    num_cols = int(layout.col_offsets[-1])
    sums = np.bincount(col, weights=values, minlength=num_cols)
    frame = np.searchsorted(layout.row_offsets, row, side="right") - 1
    lone = layout.n_cols[frame] == 1
    if lone.any():
        frames, local_frame = np.unique(frame[lone], return_inverse=True)
        height = layout.n_rows[frame[lone]]
        local_row = row[lone] - layout.row_offsets[frame[lone]]
        for h in np.unique(height):
            sel = height == h
            fr, inv = np.unique(local_frame[sel], return_inverse=True)
            part = numpy_row_sums(inv, local_row[sel], values[lone][sel], int(h), fr.shape[0])
            sums[layout.col_offsets[frames[fr]]] = part
    return sums


def _rank_in_group(group_sizes: np.ndarray) -> np.ndarray:
    """0..size-1 for each group, concatenated: (sum(group_sizes),) int64."""
    total = int(group_sizes.sum())
    starts = np.cumsum(group_sizes) - group_sizes
    return np.arange(total) - np.repeat(starts, group_sizes)


def sequential_frame_sums(values: np.ndarray, frame: np.ndarray, num_frames: int) -> np.ndarray:
    """TrackEval's `total = 0; for frame: total += sum(values_of_frame)`, in that exact order.

    Args:
        values: (K, M) values, K independent series (e.g. one per HOTA alpha), masked entries 0.
        frame: (M,) non-decreasing 0-based frame of each value; order within a frame is kept.
        num_frames: Number of frames.

    Returns:
        (K,) the totals.
    """
    k = values.shape[0]
    if values.shape[1] == 0:
        return np.zeros(k)
    position = _rank_in_group(np.bincount(frame, minlength=num_frames))
    per_frame = np.zeros((k, num_frames))
    order = np.argsort(position, kind="stable")
    bounds = np.searchsorted(position[order], np.arange(int(position.max()) + 2))
    for j in range(bounds.shape[0] - 1):
        sel = order[bounds[j] : bounds[j + 1]]  # the j-th value of every frame that has one
        per_frame[:, frame[sel]] += values[:, sel]
    return np.cumsum(per_frame, axis=1)[:, -1]


def conflicted_groups(
    group: np.ndarray, row: np.ndarray, col: np.ndarray, num_rows: int, num_cols: int
) -> np.ndarray:
    """Groups (frames) where some candidate row or column takes part in more than one pair.

    In a frame without such a conflict, the maximum-weight assignment over positive candidate
    weights is exactly the set of candidates, so no Hungarian solve is needed there.

    Args:
        group: (M,) frame of each candidate pair.
        row: (M,) global row index of each candidate pair.
        col: (M,) global column index of each candidate pair.
        num_rows: Number of rows in the table `row` indexes.
        num_cols: Number of columns in the table `col` indexes.

    Returns:
        Sorted unique frames with a conflict.
    """
    row_used = np.bincount(row, minlength=num_rows)[row] > 1
    col_used = np.bincount(col, minlength=num_cols)[col] > 1
    return np.unique(group[row_used | col_used])
