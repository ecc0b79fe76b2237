"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal
Encoding", CVPR 2017, https://arxiv.org/abs/1701.08398).

Queries and gallery items form one set of N = Q + G samples. For each sample p:

1. ``N(p, k)``: its k nearest samples (p itself included, at distance 0), and its k-reciprocal set
   ``R(p, k) = {g in N(p, k) : p in N(g, k)}``.
2. Expansion: ``R*(p, k1) = R(p, k1) U R(q, k1/2)`` for every ``q`` in ``R(p, k1)`` whose half-size
   set shares at least 2/3 of its members with ``R(p, k1)`` (recovers positives hidden by pose or
   occlusion).
3. Encoding: ``V_p`` is an N-vector with ``exp(-d(p, g))`` at the members g of ``R*(p, k1)`` and
   0 elsewhere, normalised to sum 1 (so that the Jaccard denominator is ``2 - sum min``).
4. Local query expansion: ``V_p`` is replaced by the mean of ``V_g`` over ``g`` in ``N(p, k2)``.
5. Jaccard distance ``d_J(p, g) = 1 - sum_j min(V_pj, V_gj) / sum_j max(V_pj, V_gj)`` and the final
   distance ``(1 - lambda) d_J + lambda d``.

The input distances are scaled by their largest value, so ``d`` in steps 3 and 5 lies in [0, 1]
whatever the metric. Memory: one (N, N) float32 matrix (about 2 GB for the full Market-1501 test
set); the Jaccard step uses sparse vectors.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from vidlab.evaluation.reid.distance import as_numpy

EXPANSION_OVERLAP = 2.0 / 3.0  # the paper's inclusion criterion for a candidate's half-size set
_ROW_CHUNK = 1024  # rows partitioned at once: bounds the (chunk, N) index arrays


def _full_distance(q_g: np.ndarray, q_q: np.ndarray, g_g: np.ndarray) -> np.ndarray:
    """(Q + G, Q + G) float32 distances over queries then gallery items, scaled into [0, 1]."""
    n_q, n_g = q_g.shape
    if q_q.shape != (n_q, n_q) or g_g.shape != (n_g, n_g):
        raise ValueError(
            f"q_g_dist {q_g.shape} needs q_q_dist ({n_q}, {n_q}) and g_g_dist ({n_g}, {n_g}), "
            f"got {q_q.shape} and {g_g.shape}"
        )
    full = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float32)
    if not np.isfinite(full).all() or (full < 0).any():
        raise ValueError("distances must be finite and non-negative")
    return full / max(float(full.max()), np.finfo(np.float32).tiny)


def _nearest(dist: np.ndarray, k: int) -> np.ndarray:
    """(N, k) indices of each row's k smallest distances, nearest first (rows in chunks)."""
    k = min(k, dist.shape[1])
    out = np.empty((len(dist), k), np.int64)
    for start in range(0, len(dist), _ROW_CHUNK):
        block = dist[start : start + _ROW_CHUNK]
        idx = np.argpartition(block, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(block, idx, 1), axis=1, kind="stable")
        out[start : start + _ROW_CHUNK] = np.take_along_axis(idx, order, 1)
    return out


def _reciprocal_sets(dist: np.ndarray, k: int) -> list[np.ndarray]:
    """``R(p, k)`` for every sample: members of ``N(p, k + 1)`` that have p in their own list."""
    near = _nearest(dist, k + 1)  # (N, k + 1); +1 because p is its own nearest neighbour
    rows = np.arange(len(dist))[:, None, None]
    mutual = (near[near] == rows).any(-1)  # (N, k + 1): is p in N(g, k + 1) for each g
    return [near[p][mutual[p]] for p in range(len(dist))]


def _expanded_sets(dist: np.ndarray, k1: int) -> list[np.ndarray]:
    """``R*(p, k1)`` for every sample (step 2)."""
    full = _reciprocal_sets(dist, k1)
    half = _reciprocal_sets(dist, int(round(k1 / 2)))
    out = []
    for members in full:
        own = set(members.tolist())
        grown = set(own)
        for q in members.tolist():
            cand = half[q]
            if len(cand) and len(own.intersection(cand.tolist())) >= EXPANSION_OVERLAP * len(cand):
                grown.update(cand.tolist())
        out.append(np.fromiter(sorted(grown), np.int64, len(grown)))
    return out


def _encode(dist: np.ndarray, sets: list[np.ndarray]) -> sparse.csr_matrix:
    """(N, N) sparse V: Gaussian-kernel weights on each ``R*`` set, rows summing to 1 (step 3)."""
    n = len(dist)
    rows = np.concatenate([np.full(len(s), p) for p, s in enumerate(sets)])
    cols = np.concatenate(sets)
    weights = np.exp(-dist[rows, cols]).astype(np.float64)
    sums = np.bincount(rows, weights, minlength=n)
    return sparse.csr_matrix((weights / sums[rows], (rows, cols)), shape=(n, n))


def _query_expand(v: sparse.csr_matrix, dist: np.ndarray, k2: int) -> sparse.csr_matrix:
    """Replace each V_p by the mean of V over its k2 nearest samples (step 4)."""
    if k2 <= 1:
        return v
    near = _nearest(dist, k2)  # (N, k2)
    n, k = near.shape
    avg = sparse.csr_matrix(
        (np.full(n * k, 1.0 / k), (np.repeat(np.arange(n), k), near.reshape(-1))), shape=(n, n)
    )
    return (avg @ v).tocsr()


def _jaccard(v: sparse.csr_matrix, n_q: int) -> np.ndarray:
    """(Q, G) Jaccard distances between the query rows and the gallery rows of V (step 5)."""
    gallery = v[n_q:].tocsc()  # (G, N): column j lists the gallery items whose V has j
    sums = np.asarray(v.sum(axis=1)).reshape(-1)
    n_g = gallery.shape[0]
    out = np.empty((n_q, n_g), np.float64)
    for p in range(n_q):
        lo, hi = v.indptr[p], v.indptr[p + 1]
        cols, vals = v.indices[lo:hi], v.data[lo:hi]
        sub = gallery[:, cols]  # (G, m) sparse, csc
        col_of_entry = np.repeat(np.arange(len(cols)), np.diff(sub.indptr))
        overlap = np.minimum(sub.data, vals[col_of_entry])
        inter = np.bincount(sub.indices, overlap, minlength=n_g)  # sum_j min(V_pj, V_gj)
        union = sums[p] + sums[n_q:] - inter  # sum max = sum V_p + sum V_g - sum min
        out[p] = 1.0 - inter / np.maximum(union, np.finfo(np.float64).tiny)
    return out


def k_reciprocal_rerank(
    q_g_dist: object,
    q_q_dist: object,
    g_g_dist: object,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> np.ndarray:
    """Re-rank a query-to-gallery distance matrix with k-reciprocal encoding.

    Args:
        q_g_dist: (Q, G) query-to-gallery distances (numpy or torch), any non-negative metric.
        q_q_dist: (Q, Q) query-to-query distances, same metric.
        g_g_dist: (G, G) gallery-to-gallery distances, same metric.
        k1: size of the k-reciprocal neighbourhood (paper: 20).
        k2: size of the local query expansion (paper: 6; 1 disables it).
        lambda_value: weight of the original distance in the final mix (paper: 0.3).

    Returns:
        (Q, G) float32 re-ranked distances in [0, 1]; smaller is more similar.

    Raises:
        ValueError: inconsistent shapes, negative or non-finite distances, or bad parameters.
    """
    if k1 < 1 or k2 < 1:
        raise ValueError(f"k1={k1} and k2={k2} must be >= 1")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"lambda_value={lambda_value}, expected a weight in [0, 1]")
    q_g = as_numpy(q_g_dist, "q_g_dist").astype(np.float32)
    dist = _full_distance(q_g, as_numpy(q_q_dist, "q_q_dist"), as_numpy(g_g_dist, "g_g_dist"))
    n_q = q_g.shape[0]
    v = _encode(dist, _expanded_sets(dist, k1))
    v = _query_expand(v, dist, k2)
    jaccard = _jaccard(v, n_q)
    final = (1.0 - lambda_value) * jaccard + lambda_value * dist[:n_q, n_q:]
    return final.astype(np.float32)
