"""Pairwise distances between query and gallery embeddings."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

Metric = Literal["cosine", "euclidean"]
METRICS: tuple[str, ...] = ("cosine", "euclidean")
_NORM_EPS = 1e-12


def as_numpy(x: Any, name: str = "array") -> np.ndarray:
    """A numpy view of ``x``: numpy arrays pass through, torch tensors are detached and copied."""
    if hasattr(x, "detach"):  # a torch tensor; no torch import needed
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{name}: expected a numeric array or tensor, got {type(x).__name__}")
    return arr


def _features(x: Any, name: str) -> np.ndarray:
    arr = as_numpy(x, name).astype(np.float32, copy=False)
    if arr.ndim != 2:
        raise ValueError(f"{name} has shape {arr.shape}, expected (N, D) embeddings")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or inf values")
    return arr


def pairwise_distance(
    query_feats: Any, gallery_feats: Any, metric: Metric = "cosine"
) -> np.ndarray:
    """Distances between every query and every gallery embedding.

    Args:
        query_feats: (Q, D) query embeddings, numpy array or torch tensor.
        gallery_feats: (G, D) gallery embeddings.
        metric: ``"cosine"``: 1 - cosine similarity of the L2-normalised embeddings, in [0, 2];
            ``"euclidean"``: the plain Euclidean distance (not squared), >= 0.

    Returns:
        (Q, G) float32 distance matrix; smaller is more similar.

    Raises:
        ValueError: an unknown metric, inputs that are not 2-D, or embedding sizes that differ.
    """
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}, expected one of {METRICS}")
    q = _features(query_feats, "query_feats")
    g = _features(gallery_feats, "gallery_feats")
    if q.shape[1] != g.shape[1]:
        raise ValueError(
            f"query_feats have {q.shape[1]} dimensions but gallery_feats have {g.shape[1]}"
        )
    if metric == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), _NORM_EPS)
        gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), _NORM_EPS)
        return np.clip(1.0 - qn @ gn.T, 0.0, 2.0).astype(np.float32)
    squared = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * (q @ g.T)  # (Q, G)
    return np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)
