"""Retrieval metrics on hand-built rankings whose CMC, AP and INP are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlab.evaluation.reid import RetrievalResult, evaluate_retrieval, pairwise_distance

# One query (identity 1, camera 1) against seven gallery items, listed by increasing distance.
#   g0 pid 1 cam 1  -> same identity and camera: removed by the protocol
#   g1 pid 2 cam 2  -> wrong identity (cleaned rank 1)
#   g2 pid 1 cam 2  -> match (cleaned rank 2)
#   g3 pid -1 cam 2 -> junk: removed
#   g4 pid 0 cam 3  -> distractor: kept, never a match (cleaned rank 3)
#   g5 pid 1 cam 3  -> match (cleaned rank 4)
#   g6 pid 3 cam 2  -> wrong identity (cleaned rank 5)
G_PIDS = np.array([1, 2, 1, -1, 0, 1, 3])
G_CAMS = np.array([1, 2, 2, 2, 3, 3, 2])
DIST = np.array([[0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6]])


def test_market_protocol_by_hand():
    res = evaluate_retrieval(DIST, [1], G_PIDS, [1], G_CAMS, max_rank=5)
    # First match at cleaned rank 2: CMC = [0, 1, 1, 1, 1].
    np.testing.assert_array_equal(res.cmc, [0, 1, 1, 1, 1])
    # AP = mean of precision at each match: (1/2 + 2/4) / 2.
    assert res.mAP == pytest.approx((1 / 2 + 2 / 4) / 2)
    # INP = matches / rank of the hardest match = 2 / 4.
    assert res.mINP == pytest.approx(2 / 4)
    assert (res.num_valid_queries, res.num_skipped_queries) == (1, 0)


def test_same_camera_match_is_not_counted():
    # Without the removal g0 would be a rank-1 hit; moving it to camera 2 makes it one.
    cams = G_CAMS.copy()
    cams[0] = 2
    res = evaluate_retrieval(DIST, [1], G_PIDS, [1], cams, max_rank=5)
    assert res.rank1 == 1.0
    # Matches at cleaned ranks 1, 3 (g2) and 5 (g5; g3 junk is gone): AP = (1 + 2/3 + 3/5) / 3.
    assert res.mAP == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    assert res.mINP == pytest.approx(3 / 5)


def test_junk_is_removed_not_counted_as_negative():
    # Junk placed first would push everything down by one if it were kept.
    dist = np.array([[0.5, 0.2, 0.3, 0.01, 0.4, 0.5, 0.6]])
    res = evaluate_retrieval(dist, [1], G_PIDS, [1], G_CAMS, max_rank=5)
    assert res.cmc[1] == 1.0 and res.cmc[0] == 0.0
    assert res.mAP == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_distractor_never_matches_even_a_distractor_query():
    # A query of identity 0 has no defined match; with a real query it is skipped, not scored.
    dist = np.vstack([DIST, DIST])
    res = evaluate_retrieval(dist, [1, 0], G_PIDS, [1, 1], G_CAMS, max_rank=5)
    assert (res.num_valid_queries, res.num_skipped_queries) == (1, 1)
    assert res.mAP == pytest.approx(0.5)


def test_query_without_valid_match_is_skipped_and_counted():
    # Query 2 (identity 2, camera 2) only has g1, in its own camera: nothing left to find.
    dist = np.vstack([DIST, DIST[:, ::-1]])
    res = evaluate_retrieval(dist, [1, 2], G_PIDS, [1, 2], G_CAMS, max_rank=5)
    assert (res.num_valid_queries, res.num_skipped_queries) == (1, 1)
    np.testing.assert_array_equal(res.cmc, [0, 1, 1, 1, 1])


def test_no_valid_query_raises():
    with pytest.raises(ValueError, match="no valid match|none of the 1 queries"):
        evaluate_retrieval(DIST, [2], G_PIDS, [2], G_CAMS)


def test_two_queries_average_and_ties_keep_gallery_order():
    # Query A: perfect (AP 1). Query B (identity 3, camera 1): all distances tie, so the gallery
    # order is the ranking; g6 is its only match.
    dist = np.vstack([[0.9, 0.9, 0.1, 0.9, 0.9, 0.2, 0.9], np.ones(7)])
    res = evaluate_retrieval(dist, [1, 3], G_PIDS, [1, 1], G_CAMS, max_rank=10)
    # Query B: junk g3 and nothing else removed -> its match is at cleaned rank 6.
    assert res.rank1 == pytest.approx(0.5)
    assert res.rank5 == pytest.approx(0.5)
    assert res.rank10 == pytest.approx(1.0)
    assert res.mAP == pytest.approx((1.0 + 1 / 6) / 2)
    assert res.mINP == pytest.approx((1.0 + 1 / 6) / 2)


def test_as_dict_keys_and_torch_inputs():
    res = evaluate_retrieval(
        torch.from_numpy(DIST),
        torch.tensor([1]),
        torch.from_numpy(G_PIDS),
        torch.tensor([1]),
        torch.from_numpy(G_CAMS),
    )
    assert isinstance(res, RetrievalResult)
    d = res.as_dict("val")
    assert set(d) == {"val/rank1", "val/rank5", "val/rank10", "val/mAP", "val/mINP"}
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in d.values())
    assert len(res.cmc) == 10
    with pytest.raises(ValueError, match="rank 11"):
        res.rank(11)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="g_pids has 6 entries, expected 7"):
        evaluate_retrieval(DIST, [1], G_PIDS[:6], [1], G_CAMS)


def test_pairwise_distance_by_hand():
    q = np.array([[1.0, 0.0]])
    g = np.array([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(
        pairwise_distance(q, g, "cosine"), [[0.0, 1.0, 2.0, 1 - 3 / 5]], atol=1e-6
    )
    np.testing.assert_allclose(
        pairwise_distance(q, g, "euclidean"), [[1.0, np.sqrt(10.0), 2.0, np.sqrt(20.0)]], rtol=1e-6
    )
    as_torch = pairwise_distance(torch.from_numpy(q), torch.from_numpy(g), "euclidean")
    assert isinstance(as_torch, np.ndarray) and as_torch.shape == (1, 4)
    with pytest.raises(ValueError, match="metric='manhattan'"):
        pairwise_distance(q, g, "manhattan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="3 dimensions but gallery_feats have 2"):
        pairwise_distance(np.ones((1, 3)), g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_ranking_is_a_stable_sort_for_every_dtype(dtype):
    from vidlab.evaluation.reid.metrics import _ranking

    rng = np.random.default_rng(0)
    dist = rng.integers(-3, 4, size=(6, 40)).astype(dtype)  # many ties, negative values, zeros
    if dtype is np.float32:
        dist[0, :5] = [-0.0, 0.0, -1.5, 1e-30, -1e-30]
    np.testing.assert_array_equal(_ranking(dist), np.argsort(dist, axis=1, kind="stable"))
