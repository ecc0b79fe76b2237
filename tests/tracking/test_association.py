"""IoU and gated assignment against direct (loop / brute-force) computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vidlab.tracking.association import (
    cosine_distance,
    fuse_score,
    hungarian_gated,
    iou_xyxy,
    linear_assignment,
)


def _iou_loop(a, b):
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            iw = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            ih = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = iw * ih
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union if union > 0 else 0.0
    return out


def _random_boxes(rng, n):
    tl = rng.uniform(0, 100, (n, 2))
    return np.concatenate([tl, tl + rng.uniform(1, 60, (n, 2))], axis=1)


def test_iou_matches_loop():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 17), _random_boxes(rng, 11)
    np.testing.assert_allclose(iou_xyxy(a, b), _iou_loop(a, b), rtol=1e-12)


def test_iou_known_values_and_empty_shapes():
    a = np.array([[0.0, 0, 10, 10]])
    b = np.array([[0.0, 0, 10, 10], [5.0, 0, 15, 10], [20.0, 20, 30, 30], [3, 3, 3, 3]])
    np.testing.assert_allclose(iou_xyxy(a, b), [[1.0, 1 / 3, 0.0, 0.0]])
    assert iou_xyxy(np.zeros((0, 4)), b).shape == (0, 4)
    assert iou_xyxy(a, np.zeros((0, 4))).shape == (1, 0)


def _best_lap_cost(cost, thresh):
    """Brute force: min over partial matchings of sum(matched) + thresh/2 per unmatched end."""
    t, n = cost.shape
    best = (t + n) * thresh / 2
    for k in range(1, min(t, n) + 1):
        for rows in itertools.combinations(range(t), k):
            for cols in itertools.permutations(range(n), k):
                c = sum(cost[r, q] for r, q in zip(rows, cols, strict=True))
                best = min(best, c + (t + n - 2 * k) * thresh / 2)
    return best


@pytest.mark.parametrize("seed", range(8))
def test_linear_assignment_is_optimal_under_the_gate(seed):
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 1, (3, 4))
    thresh = 0.6
    a = linear_assignment(cost, thresh)
    assert np.all(cost[a.rows, a.cols] < thresh)
    total = (
        cost[a.rows, a.cols].sum() + (len(a.unmatched_rows) + len(a.unmatched_cols)) * thresh / 2
    )
    assert total == pytest.approx(_best_lap_cost(cost, thresh), abs=1e-12)
    assert sorted([*a.rows, *a.unmatched_rows]) == [0, 1, 2]
    assert sorted([*a.cols, *a.unmatched_cols]) == [0, 1, 2, 3]


def test_linear_assignment_agrees_with_lap_when_installed():
    lap = pytest.importorskip("lap")
    rng = np.random.default_rng(11)
    for _ in range(20):
        cost = rng.uniform(0, 1, (rng.integers(1, 9), rng.integers(1, 9)))
        _, x, _ = lap.lapjv(cost, extend_cost=True, cost_limit=0.7)
        ours = linear_assignment(cost, 0.7)
        theirs = {(i, j) for i, j in enumerate(x) if j >= 0}
        assert set(zip(ours.rows.tolist(), ours.cols.tolist(), strict=True)) == theirs


def test_linear_assignment_empty_and_forbidden():
    a = linear_assignment(np.zeros((0, 3)), 0.5)
    assert a.rows.size == 0 and a.unmatched_cols.tolist() == [0, 1, 2]
    cost = np.array([[np.inf, 0.1], [0.2, np.inf]])
    a = linear_assignment(cost, 0.5)
    assert sorted(zip(a.rows.tolist(), a.cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    with pytest.raises(ValueError, match="thresh"):
        linear_assignment(np.ones((2, 2)), 0.0)


def test_hungarian_gated_gates_on_given_matrix():
    sim = np.array([[0.9, 0.0], [0.0, 0.25]])
    a = hungarian_gated(sim, 0.3)
    assert list(zip(a.rows.tolist(), a.cols.tolist(), strict=True)) == [(0, 0)]
    assert a.unmatched_rows.tolist() == [1] and a.unmatched_cols.tolist() == [1]
    gate = np.array([[0.9, 0.0], [0.0, 0.5]])
    b = hungarian_gated(sim, 0.3, gate=gate)
    assert sorted(zip(b.rows.tolist(), b.cols.tolist(), strict=True)) == [(0, 0), (1, 1)]


def test_fuse_score_and_cosine_distance():
    np.testing.assert_allclose(
        fuse_score(np.array([[0.2, 1.0]]), np.array([0.5, 0.9])), [[0.6, 1.0]]
    )
    e = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    np.testing.assert_allclose(
        cosine_distance(e, np.array([[1.0, 0.0], [-1.0, 0.0]])), [[0, 2], [1, 1]], atol=1e-7
    )
