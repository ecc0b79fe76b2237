"""Identity matching: the component-wise maximum-weight matching equals one global solve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from vidlab.evaluation.mot.identity import _component_labels, _max_weight_matching


def global_optimum(g: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    matrix = np.zeros((g.max() + 1, t.max() + 1))
    matrix[g, t] = w
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return float(matrix[rows, cols].sum())


@pytest.mark.parametrize("seed", range(20))
def test_component_wise_matching_equals_global_matching(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_left, n_right = rng.integers(1, 30, 2)
    edges = rng.integers(1, 3 * max(n_left, n_right))
    key = np.unique(rng.integers(0, n_left, edges) * n_right + rng.integers(0, n_right, edges))
    g, t = key // n_right, key % n_right
    w = rng.integers(1, 50, key.size).astype(float)
    assert _max_weight_matching(g, t, w) == global_optimum(g, t, w)


def test_chain_is_one_component() -> None:
    # g0 - t0 - g1 - t1 - g2 - t2: a path through every node.
    left = np.array([0, 1, 1, 2, 2])
    right = np.array([0, 0, 1, 1, 2])
    assert np.unique(_component_labels(left, right, 3, 3)).size == 1
    # The best matching on the path 5-9-5-9-5 takes the two 9s.
    assert _max_weight_matching(left, right, np.array([5.0, 9, 5, 9, 5])) == 18


def test_separate_components_are_labelled_apart() -> None:
    labels = _component_labels(np.array([0, 1, 2]), np.array([0, 1, 1]), 3, 2)
    assert labels[0] != labels[1] and labels[1] == labels[2]
