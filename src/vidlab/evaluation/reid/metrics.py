"""CMC, mAP and mINP of a query-to-gallery ranking under the Market-1501 protocol.

For each query the gallery is sorted by increasing distance, then, as the Market-1501 evaluation
prescribes, these gallery items are removed from its ranking before scoring:

- items with the query's identity *and* the query's camera (a same-camera match is too easy);
- junk items (identity ``-1``).

Distractors (identity ``0``) stay in the ranking and never count as a match. A query whose ranking
holds no match after the removal has no defined AP: it is skipped, and the number of skipped
queries is reported. Queries with identity ``-1`` or ``0`` are skipped the same way.

Per valid query, with the positives at 1-based ranks ``r_1 < ... < r_n`` of its cleaned ranking:

- CMC@k is 1 when ``r_1 <= k`` (averaged over queries);
- AP is ``(1/n) * sum_i i / r_i`` (precision at each positive);
- INP is ``n / r_n`` (the share of the list one must inspect to find every positive, inverted;
  Ye et al., "Deep Learning for Person Re-identification: A Survey and Outlook", TPAMI 2021).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vidlab.evaluation.reid.distance import as_numpy

log = logging.getLogger(__name__)

JUNK_PID = -1
DISTRACTOR_PID = 0
REPORTED_RANKS: tuple[int, ...] = (1, 5, 10)
_QUERY_CHUNK = 256  # queries ranked at once: bounds memory at chunk x gallery
_INDEX_BITS = 32  # low half of a float32 sort key: the gallery column
_FLOAT32_MAGNITUDE_MASK = 0x7FFFFFFF  # flips negative floats' magnitude bits so keys are monotonic


@dataclass(frozen=True)
class RetrievalResult:
    """Retrieval scores averaged over the valid queries.

    Attributes:
        cmc: (max_rank,) float64, ``cmc[k - 1]`` is the share of valid queries whose first match
            is within the top ``k``.
        mAP: mean average precision in [0, 1].
        mINP: mean inverse negative penalty in [0, 1].
        num_valid_queries: queries that had at least one match and were scored.
        num_skipped_queries: queries without any valid match (not scored).
    """

    cmc: np.ndarray
    mAP: float  # noqa: N815 (the field's name in every Re-ID paper)
    mINP: float  # noqa: N815
    num_valid_queries: int
    num_skipped_queries: int

    def rank(self, k: int) -> float:
        """CMC at rank ``k`` (1-based)."""
        if not 1 <= k <= len(self.cmc):
            raise ValueError(f"rank {k} is outside 1..{len(self.cmc)} (max_rank={len(self.cmc)})")
        return float(self.cmc[k - 1])

    @property
    def rank1(self) -> float:
        return self.rank(1)

    @property
    def rank5(self) -> float:
        return self.rank(5)

    @property
    def rank10(self) -> float:
        return self.rank(10)

    def as_dict(self, prefix: str = "test") -> dict[str, float]:
        """``{"<prefix>/rank1", "<prefix>/rank5", "<prefix>/rank10", "<prefix>/mAP",
        "<prefix>/mINP"}`` as floats in [0, 1]; ranks above ``max_rank`` are left out."""
        out = {f"{prefix}/rank{k}": self.rank(k) for k in REPORTED_RANKS if k <= len(self.cmc)}
        out[f"{prefix}/mAP"] = float(self.mAP)
        out[f"{prefix}/mINP"] = float(self.mINP)
        return out


def _labels(x: object, name: str, n: int) -> np.ndarray:
    arr = as_numpy(x, name).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries, expected {n} (distmat shape)")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integer identities / cameras, got {arr.dtype}")
    return arr.astype(np.int64)


def _ranking(dist: np.ndarray) -> np.ndarray:
    """(C, G) gallery order of each row by increasing distance; ties keep the gallery order.

    A stable sort is about 4x slower than quicksort, and float32 distances tie often. For float32
    each distance and its column index are packed into one unique int64 key (the float's bits
    mapped to a monotonic signed integer in the high half) and quicksorted: same order as a stable
    sort. Other dtypes are quicksorted, and only rows with ties are re-sorted stably.
    """
    if dist.dtype == np.float32:
        bits = (dist + np.float32(0.0)).view(np.int32).astype(np.int64)  # + 0.0: -0.0 -> 0.0
        bits = np.where(bits < 0, bits ^ _FLOAT32_MAGNITUDE_MASK, bits)  # monotonic in value
        keys = (bits << _INDEX_BITS) | np.arange(dist.shape[1], dtype=np.int64)
        return np.argsort(keys, axis=1)
    order = np.argsort(dist, axis=1)
    tied = (np.diff(np.take_along_axis(dist, order, 1), axis=1) == 0).any(1)
    if tied.any():
        order[tied] = np.argsort(dist[tied], axis=1, kind="stable")
    return order


def _score_chunk(
    dist: np.ndarray,
    q_pids: np.ndarray,
    q_cams: np.ndarray,
    g_pids: np.ndarray,
    g_cams: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-query first-match rank, AP and INP of a chunk of queries (NaN rank: no match).

    Args:
        dist: (C, G) distances of C queries.
        q_pids, q_cams: (C,) query identities and cameras.
        g_pids, g_cams: (G,) gallery identities and cameras.

    Returns:
        (C,) first-match rank (1-based, float, NaN if none), (C,) AP, (C,) INP.
    """
    order = _ranking(dist)  # (C, G)
    pids, cams = g_pids[order], g_cams[order]  # (C, G)
    same_pid = pids == q_pids[:, None]
    removed = (same_pid & (cams == q_cams[:, None])) | (pids == JUNK_PID)
    keep = ~removed
    match = same_pid & keep & (pids != DISTRACTOR_PID)
    kept_rank = np.cumsum(keep, axis=1)  # 1-based rank of each kept item in the cleaned list
    hits = np.cumsum(match, axis=1)  # matches found up to and including each position
    n_pos = hits[:, -1].astype(np.float64)
    valid = n_pos > 0
    safe_pos = np.maximum(n_pos, 1.0)
    precision = np.where(match, hits / np.maximum(kept_rank, 1), 0.0)
    ap = precision.sum(1) / safe_pos
    first = np.where(valid, kept_rank[np.arange(len(dist)), match.argmax(1)], np.nan)
    last_pos = match.shape[1] - 1 - match[:, ::-1].argmax(1)
    inp = n_pos / np.maximum(kept_rank[np.arange(len(dist)), last_pos], 1)
    return first, np.where(valid, ap, np.nan), np.where(valid, inp, np.nan)


def evaluate_retrieval(
    distmat: object,
    q_pids: object,
    g_pids: object,
    q_camids: object,
    g_camids: object,
    max_rank: int = 10,
) -> RetrievalResult:
    """Score a query-to-gallery distance matrix with the Market-1501 protocol.

    Args:
        distmat: (Q, G) distances (numpy or torch); smaller is more similar.
        q_pids: (Q,) query identities.
        g_pids: (G,) gallery identities (``-1`` junk, ``0`` distractor).
        q_camids: (Q,) query cameras.
        g_camids: (G,) gallery cameras.
        max_rank: length of the CMC curve.

    Returns:
        The averaged scores over the valid queries.

    Raises:
        ValueError: shapes that disagree, ``max_rank < 1``, or no query with a valid match.
    """
    dist = as_numpy(distmat, "distmat")
    if not np.issubdtype(dist.dtype, np.floating):
        dist = dist.astype(np.float64)
    if dist.ndim != 2:
        raise ValueError(f"distmat has shape {dist.shape}, expected (Q, G)")
    if max_rank < 1:
        raise ValueError(f"max_rank={max_rank}, expected >= 1")
    n_q, n_g = dist.shape
    qp, qc = _labels(q_pids, "q_pids", n_q), _labels(q_camids, "q_camids", n_q)
    gp, gc = _labels(g_pids, "g_pids", n_g), _labels(g_camids, "g_camids", n_g)
    if n_q == 0 or n_g == 0:
        raise ValueError(f"distmat has shape {dist.shape}: no queries or no gallery items")
    chunks = [slice(s, s + _QUERY_CHUNK) for s in range(0, n_q, _QUERY_CHUNK)]
    parts = [_score_chunk(dist[c], qp[c], qc[c], gp, gc) for c in chunks]
    first, ap, inp = (np.concatenate(p) for p in zip(*parts, strict=True))
    valid = ~np.isnan(first) & (qp > DISTRACTOR_PID)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise ValueError(
            f"none of the {n_q} queries has a valid match in the gallery of {n_g} items "
            "(same identity in another camera, not junk); check pids and camids"
        )
    if n_valid < n_q:
        log.info("%d of %d queries have no valid gallery match: skipped", n_q - n_valid, n_q)
    ks = np.arange(1, max_rank + 1)
    cmc = (first[valid][:, None] <= ks[None, :]).mean(0)
    return RetrievalResult(
        cmc=cmc.astype(np.float64),
        mAP=float(ap[valid].mean()),
        mINP=float(inp[valid].mean()),
        num_valid_queries=n_valid,
        num_skipped_queries=n_q - n_valid,
    )
