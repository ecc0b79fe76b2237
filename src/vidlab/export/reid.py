"""What an exported Re-ID embedder computes, and its embedding parity gate.

The exported graph maps ``image`` (B, 3, H, W) float32, RGB normalised with the card's mean/std, to
``embedding`` (B, D) float32: the BNNeck feature **L2-normalised** (`NormalizedEmbedding`), so a dot
product of two embeddings is their cosine similarity. `embedding_parity` is the per-image cosine
gate of the ``embedding`` export family (`vidlab.export.families`); the downstream tracking gate
lives with the trackers (`vidlab.tracking.parity`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

#: The gate of the issue: every image's two embeddings must have at least this cosine similarity.
MIN_COSINE = 0.9999


class NormalizedEmbedding(nn.Module):
    """``net(x)`` scaled to unit L2 norm per row: what the artifacts compute."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, D) unit-norm embeddings."""
        return F.normalize(self.net(x), dim=1)


@dataclass(frozen=True)
class EmbeddingParity:
    """Agreement of two sets of embeddings of the same images.

    Attributes:
        min_cosine: the lowest per-image cosine similarity.
        mean_cosine: the mean per-image cosine similarity.
        max_abs_diff: the largest absolute difference of any unit-normalised component.
        threshold: the required `min_cosine`.
        num_samples: images compared.
    """

    min_cosine: float
    mean_cosine: float
    max_abs_diff: float
    threshold: float
    num_samples: int

    @property
    def ok(self) -> bool:
        return self.min_cosine >= self.threshold

    @property
    def top1_agreement(self) -> float:
        """Embeddings have no top-1 class (NaN in the export report)."""
        return float("nan")

    def describe(self) -> str:
        """One line with the criterion and its figures."""
        return (
            f"min cosine similarity {self.min_cosine:.6f} (required >= {self.threshold}) on "
            f"{self.num_samples} crops"
        )

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "min_cosine": self.min_cosine,
            "mean_cosine": self.mean_cosine,
            "max_abs_diff": self.max_abs_diff,
            "threshold": self.threshold,
            "num_samples": self.num_samples,
            "ok": self.ok,
        }


def embedding_parity(
    reference: np.ndarray, candidate: np.ndarray, threshold: float = MIN_COSINE
) -> EmbeddingParity:
    """Compare (N, D) reference embeddings with (N, D) candidate ones (any scale)."""
    if reference.shape != candidate.shape or reference.ndim != 2:
        raise ValueError(
            f"embeddings must both be (N, D); got {reference.shape} and {candidate.shape}"
        )
    ref = reference / np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
    cand = candidate / np.maximum(np.linalg.norm(candidate, axis=1, keepdims=True), 1e-12)
    cosine = np.sum(ref * cand, axis=1)
    return EmbeddingParity(
        float(cosine.min()),
        float(cosine.mean()),
        float(np.abs(ref - cand).max()),
        threshold,
        len(cosine),
    )
