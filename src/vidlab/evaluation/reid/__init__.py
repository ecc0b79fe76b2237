"""Person Re-ID retrieval evaluation: distances, CMC / mAP / mINP and k-reciprocal re-ranking.

Numpy only (torch tensors are accepted as inputs and converted), so importing this package does not
import torch.
"""

from __future__ import annotations

from vidlab.evaluation.reid.distance import pairwise_distance
from vidlab.evaluation.reid.metrics import RetrievalResult, evaluate_retrieval
from vidlab.evaluation.reid.rerank import k_reciprocal_rerank

__all__ = ["RetrievalResult", "evaluate_retrieval", "k_reciprocal_rerank", "pairwise_distance"]
