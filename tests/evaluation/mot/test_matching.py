"""Exact-arithmetic building blocks: vidlab.evaluation.mot.matching.

The metrics promise TrackEval's floating-point results bit for bit on canonically ordered files;
these tests pin the pieces of that promise against the straightforward dense per-frame numpy code
that TrackEval runs (written out here, independently).
"""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.evaluation.mot import matching
from vidlab.evaluation.mot.hota import _global_alignment
from vidlab.evaluation.mot.io import MotTable
from vidlab.evaluation.mot.matching import (
    FrameLayout,
    conflicted_groups,
    frame_col_sums,
    frame_row_sums,
    numpy_row_sums,
    overlapping_pairs,
    pair_ious,
    sequential_frame_sums,
)
from vidlab.evaluation.mot.preprocess import SequenceData, preprocess_sequence


def dense_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of tlwh boxes, computed as TrackEval's `_calculate_box_ious` does it."""
    a, b = a.copy(), b.copy()
    a[:, 2:] += a[:, :2]
    b[:, 2:] += b[:, :2]
    lo = np.minimum(a[:, None, :], b[None, :, :])
    hi = np.maximum(a[:, None, :], b[None, :, :])
    inter = np.maximum(lo[..., 2] - hi[..., 0], 0) * np.maximum(lo[..., 3] - hi[..., 1], 0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    eps = np.finfo(float).eps
    inter[area_a <= eps, :] = 0
    inter[:, area_b <= eps] = 0
    inter[union <= eps] = 0
    union[union <= eps] = 1
    return inter / union


def random_scene(rng: np.random.Generator, num_frames: int, max_a: int, max_b: int):
    """Frame-sorted boxes a and b with random counts per frame (empty frames included)."""
    a_counts = rng.integers(0, max_a + 1, num_frames)
    b_counts = rng.integers(0, max_b + 1, num_frames)
    a_offsets = np.concatenate([[0], np.cumsum(a_counts)])
    b_offsets = np.concatenate([[0], np.cumsum(b_counts)])
    a = np.round(rng.uniform(0, 300, (a_offsets[-1], 4)), 2)
    b = np.round(rng.uniform(0, 300, (b_offsets[-1], 4)), 2)
    a[::7, 2] = 0.0  # degenerate boxes: zero width ...
    b[::5, 3] = 0.0  # ... and zero height
    b[::11] = a[: b[::11].shape[0]]  # some exact duplicates across the tables
    return FrameLayout.from_offsets(a_offsets, b_offsets), a, b


def dense_blocks(layout: FrameLayout, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    ro, co = layout.row_offsets, layout.col_offsets
    return [dense_iou(a[ro[f] : ro[f + 1]], b[co[f] : co[f + 1]]) for f in range(layout.num_frames)]


def sparse_ious(layout: FrameLayout, a: np.ndarray, b: np.ndarray):
    frame_a = np.repeat(np.arange(layout.num_frames), layout.n_rows)
    ia, ib = overlapping_pairs(a, frame_a, b, layout.col_offsets)
    iou = pair_ious(a, b, ia, ib)
    keep = iou > 0
    return ia[keep], ib[keep], iou[keep], layout.flat_index(frame_a[ia[keep]], ia[keep], ib[keep])


def test_sparse_ious_equal_trackevals_dense_matrices_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    layout, a, b = random_scene(rng, 40, 15, 15)
    ia, ib, iou, flat = sparse_ious(layout, a, b)
    assert np.all(np.diff(flat) > 0)  # sorted in the flat layout, no duplicates
    dense = layout.dense(flat, iou)
    expected = dense_blocks(layout, a, b)
    for f in range(layout.num_frames):
        np.testing.assert_array_equal(layout.block(dense, f), expected[f])
    assert sum(int((e > 0).sum()) for e in expected) == iou.size > 0


def test_overlapping_pairs_handles_far_apart_and_huge_coordinates() -> None:
    a = np.array([[1e9, 0, 10, 10], [-5e8, 0, 1e9, 10], [0, 0, 1, 1]])
    b = np.array([[1e9 + 5, 0, 10, 10], [1e9 + 5, 0, 10, 10], [0.5, 0, 1, 1]])
    ia, ib = overlapping_pairs(a, np.array([0, 0, 1]), b, np.array([0, 2, 3]))
    # Box 1 spans [-5e8, 5e8): no overlap with frame 0's boxes at 1e9; frames never mix.
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == [(0, 0), (0, 1), (2, 2)]


@pytest.mark.parametrize("width", [1, 5, 7, 8, 9, 16, 100, 128, 129, 200, 257, 700])
def test_numpy_row_sums_reproduce_numpys_pairwise_summation(width: int) -> None:
    rng = np.random.default_rng(width)
    rows = 40
    dense = rng.random((rows, width)) ** 8 * 10.0 ** rng.integers(-6, 6, (rows, width))
    dense[rng.random((rows, width)) < 0.5] = 0.0
    row, pos = np.nonzero(dense)
    np.testing.assert_array_equal(
        numpy_row_sums(row, pos, dense[row, pos], width, rows), dense.sum(axis=1)
    )


def test_numpy_row_sums_differ_from_naive_summation() -> None:
    # The emulation matters: a sequential sum of these values rounds differently from numpy.
    rng = np.random.default_rng(0)
    dense = rng.random((200, 64)) * 10.0 ** rng.integers(-8, 8, (200, 64))
    row, pos = np.nonzero(dense)
    naive = np.bincount(row, weights=dense[row, pos], minlength=200)
    assert not np.array_equal(naive, dense.sum(axis=1))


def test_numpy_row_sums_in_chunks_equal_one_dense_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    dense = rng.random((37, 150)) * 10.0 ** rng.integers(-8, 8, (37, 150))
    dense[rng.random((37, 150)) < 0.7] = 0.0
    dense[[3, 4, 20]] = 0.0  # empty rows, also at a chunk boundary
    row, pos = np.nonzero(dense)
    monkeypatch.setattr(matching, "DENSE_CHUNK", 4 * 150)  # chunks of 4 rows
    np.testing.assert_array_equal(
        numpy_row_sums(row, pos, dense[row, pos], 150, 37), dense.sum(axis=1)
    )


@pytest.mark.parametrize(("max_a", "max_b"), [(6, 6), (30, 30), (12, 200), (200, 1), (1, 140)])
def test_row_and_column_sums_match_numpy_per_frame(max_a: int, max_b: int) -> None:
    rng = np.random.default_rng(max_a * 1000 + max_b)
    layout = FrameLayout.from_offsets(
        np.concatenate([[0], np.cumsum(rng.integers(0, max_a + 1, 30))]),
        np.concatenate([[0], np.cumsum(rng.integers(0, max_b + 1, 30))]),
    )
    # Values of very different magnitudes, many zeros: summation order shows in the last bits.
    size = int(layout.offsets[-1])
    values = rng.random(size) ** 6 * 10.0 ** rng.integers(-6, 6, size)
    values[rng.random(size) < 0.5] = 0.0
    flat = np.flatnonzero(values)
    frame = layout.frame_of(flat)
    local = flat - layout.offsets[frame]
    row = layout.row_offsets[frame] + local // layout.n_cols[frame]
    col = layout.col_offsets[frame] + local % layout.n_cols[frame]
    row_sums = frame_row_sums(layout, row, col, values[flat])
    col_sums = frame_col_sums(layout, row, col, values[flat])
    ro, co = layout.row_offsets, layout.col_offsets
    for f in range(layout.num_frames):
        block = layout.block(values, f)
        np.testing.assert_array_equal(row_sums[ro[f] : ro[f + 1]], block.sum(1))
        if block.shape[0]:
            np.testing.assert_array_equal(col_sums[co[f] : co[f + 1]], block.sum(0))


def test_sequential_frame_sums_follow_trackevals_loop() -> None:
    rng = np.random.default_rng(3)
    frame = np.sort(rng.integers(0, 50, 400))
    values = rng.random((3, 400)) * 10.0 ** rng.integers(-8, 8, (3, 400))
    expected = np.zeros(3)
    for k in range(3):
        total = 0
        for f in range(50):
            if np.any(frame == f):
                total += sum(values[k, frame == f])  # TrackEval: builtin sum per frame
        expected[k] = total
    np.testing.assert_array_equal(sequential_frame_sums(values, frame, 50), expected)
    assert not np.array_equal(expected, values.sum(axis=1))  # the order does matter here


def test_conflicted_groups_flags_shared_rows_or_columns() -> None:
    group = np.array([0, 0, 1, 1, 2, 3, 3])
    row = np.array([0, 1, 2, 2, 3, 4, 5])  # group 1: row 2 twice
    col = np.array([0, 1, 2, 3, 4, 5, 5])  # group 3: column 5 twice
    assert conflicted_groups(group, row, col, 6, 6).tolist() == [1, 3]


def test_layout_indexing_round_trips() -> None:
    layout = FrameLayout.from_offsets(np.array([0, 2, 2, 5]), np.array([0, 3, 4, 6]))
    assert layout.offsets.tolist() == [0, 6, 6, 12]
    flat = layout.flat_index(np.array([0, 2]), np.array([1, 4]), np.array([2, 5]))
    assert flat.tolist() == [5, 11] and layout.frame_of(flat).tolist() == [0, 2]
    assert layout.block(np.arange(12.0), 2).shape == (3, 2)


def crowded_sequence(rng: np.random.Generator, num_frames: int) -> SequenceData:
    """Ground truth and results piled into a small area: rows with many overlapping columns."""
    tables = []
    for max_boxes, pool in ((30, 40), (150, 200)):
        counts = rng.integers(0, max_boxes + 1, num_frames)
        frame = np.repeat(np.arange(1, num_frames + 1), counts)
        ids = np.concatenate([rng.choice(pool, n, replace=False) for n in counts])
        tlwh = np.round(np.column_stack([rng.uniform(0, 200, (frame.size, 2)),
                                         rng.uniform(10, 120, (frame.size, 2))]), 2)  # fmt: skip
        tables.append(MotTable.from_arrays(frame, ids, tlwh))
    return preprocess_sequence("crowd", num_frames, tables[0], tables[1], benchmark="MOT15")


def trackevals_alignment(data: SequenceData, row_sum=None) -> np.ndarray:
    """The global alignment score of TrackEval's HOTA.eval_sequence, its loop written out.

    `row_sum(S)` replaces `S.sum(1)`, to show that the summation order shows in the result.
    """
    row_sum = row_sum or (lambda s: s.sum(1))
    ro, co = data.layout.row_offsets, data.layout.col_offsets
    potential = np.zeros((data.num_gt_ids, data.num_tracker_ids))
    gt_count, tr_count = np.zeros((data.num_gt_ids, 1)), np.zeros((1, data.num_tracker_ids))
    for f in range(data.num_frames):
        gt_ids, tr_ids = data.gt_ids[ro[f] : ro[f + 1]], data.tracker_ids[co[f] : co[f + 1]]
        s = data.similarity_matrix(f)
        denom = s.sum(0)[np.newaxis, :] + row_sum(s)[:, np.newaxis] - s
        sim_iou = np.zeros_like(s)
        mask = denom > 0 + np.finfo("float").eps
        sim_iou[mask] = s[mask] / denom[mask]
        potential[gt_ids[:, np.newaxis], tr_ids[np.newaxis, :]] += sim_iou
        gt_count[gt_ids] += 1
        tr_count[0, tr_ids] += 1
    return potential / (gt_count + tr_count - potential)


def test_hota_alignment_equals_trackevals_bit_for_bit() -> None:
    # The HOTA parity tests cannot see the rounding of these sums (it only matters where it
    # flips a Hungarian tie); the alignment matrix itself shows every last bit.
    rng = np.random.default_rng(7)
    order_shows = 0
    for _ in range(6):
        data = crowded_sequence(rng, 8)
        gt_count = np.bincount(data.gt_ids, minlength=data.num_gt_ids).astype(float)
        tr_count = np.bincount(data.tracker_ids, minlength=data.num_tracker_ids).astype(float)
        expected = trackevals_alignment(data)
        np.testing.assert_array_equal(_global_alignment(data, gt_count, tr_count), expected)
        left_to_right = trackevals_alignment(data, lambda s: np.cumsum(s, axis=1)[:, -1])
        order_shows += not np.array_equal(left_to_right, expected)
    assert order_shows > 0  # the data are crowded enough for numpy's pairwise sums to matter
