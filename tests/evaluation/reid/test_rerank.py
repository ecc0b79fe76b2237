"""k-reciprocal re-ranking: a constructed hard negative it must demote, shapes and invariances."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.evaluation.reid import evaluate_retrieval, k_reciprocal_rerank, pairwise_distance

# Query q at the origin. Identity 1: three gallery points ~0.5 away, each of which has q among
# its 4 nearest neighbours. Identity 2: a hard negative at 0.4 (closer than every true match)
# sitting next to four of its own kind, all nearer to it (<= 0.35) than q is: q is not in its
# 4-neighbourhood, so the hard negative is not a 4-reciprocal neighbour of q; the identity-1
# points are.
QUERY = np.array([[0.0, 0.0]])
GALLERY = np.array(
    [
        [-0.5, 0.0],
        [-0.35, 0.35],
        [-0.35, -0.35],  # identity 1
        [0.4, 0.0],
        [0.7, 0.05],
        [0.7, -0.05],
        [0.75, 0.0],
        [0.65, 0.0],
    ]  # identity 2
)
G_PIDS = np.array([1, 1, 1, 2, 2, 2, 2, 2])


def _dists(metric: str = "euclidean"):
    return (
        pairwise_distance(QUERY, GALLERY, metric),
        pairwise_distance(QUERY, QUERY, metric),
        pairwise_distance(GALLERY, GALLERY, metric),
    )


def test_rerank_demotes_the_non_reciprocal_hard_negative():
    q_g, q_q, g_g = _dists()
    assert G_PIDS[q_g[0].argmin()] == 2  # the original ranking gets rank 1 wrong
    reranked = k_reciprocal_rerank(q_g, q_q, g_g, k1=4, k2=1, lambda_value=0.3)
    assert reranked.shape == (1, 8) and reranked.dtype == np.float32
    top3 = np.argsort(reranked[0])[:3]
    assert set(G_PIDS[top3]) == {1}  # all three true matches now rank first
    before = evaluate_retrieval(q_g, [1], G_PIDS, [0], np.ones(8, int), max_rank=3)
    after = evaluate_retrieval(reranked, [1], G_PIDS, [0], np.ones(8, int), max_rank=3)
    assert before.rank1 == 0.0 and after.rank1 == 1.0 and after.mAP == 1.0 > before.mAP


def test_lambda_one_keeps_the_original_order():
    q_g, q_q, g_g = _dists()
    reranked = k_reciprocal_rerank(q_g, q_q, g_g, k1=4, k2=2, lambda_value=1.0)
    np.testing.assert_array_equal(np.argsort(reranked[0]), np.argsort(q_g[0]))


def test_shape_and_range_on_random_features():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(7, 16)), rng.normal(size=(30, 16))
    out = k_reciprocal_rerank(
        pairwise_distance(q, g), pairwise_distance(q, q), pairwise_distance(g, g)
    )  # defaults k1=20, k2=6 with fewer samples than k1 + 1 in places
    assert out.shape == (7, 30)
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0 + 1e-6


def test_bad_inputs_are_errors():
    q_g, q_q, g_g = _dists()
    with pytest.raises(ValueError, match=r"g_g_dist \(8, 8\)"):
        k_reciprocal_rerank(q_g, q_q, g_g[:7, :7])
    with pytest.raises(ValueError, match="lambda_value=1.5"):
        k_reciprocal_rerank(q_g, q_q, g_g, lambda_value=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        k_reciprocal_rerank(-q_g, q_q, g_g)
