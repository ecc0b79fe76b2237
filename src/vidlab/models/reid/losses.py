"""Metric-learning losses for Re-ID: batch-hard triplet and center loss.

Batch-hard triplet: Hermans et al., "In Defense of the Triplet Loss for Person Re-Identification",
2017, https://arxiv.org/abs/1703.07737 (hardest positive and hardest negative of each anchor within a
P x K batch; hinge with a margin, or the soft margin ``log(1 + exp(d_ap - d_an))``).
Center loss: Wen et al., "A Discriminative Feature Learning Approach for Deep Face Recognition",
ECCV 2016; used on the pre-BNNeck feature by Luo et al. (BoT, weight 5e-4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_DIST_EPS = 1e-12


def euclidean_distances(x: torch.Tensor) -> torch.Tensor:
    """(B, D) -> (B, B) Euclidean distances (gradient-safe at zero)."""
    sq = x.pow(2).sum(dim=1, keepdim=True)  # (B, 1)
    d2 = sq + sq.t() - 2.0 * x @ x.t()
    # The expansion cancels catastrophically on the diagonal (a sample against itself: errors
    # up to ~1e-6 in d2, ~1e-3 in the distance); its true value is exactly zero.
    self_pairs = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    return d2.masked_fill(self_pairs, 0.0).clamp(min=_DIST_EPS).sqrt()


def batch_hard_triplet_loss(
    features: torch.Tensor, labels: torch.Tensor, *, margin: float = 0.3, soft_margin: bool = False
) -> torch.Tensor:
    """Mean batch-hard triplet loss.

    Args:
        features: (B, D) embeddings.
        labels: (B,) identity labels; every anchor needs a positive (another sample of its label)
            and a negative, as in P x K sampling with K >= 2.
        margin: hinge margin (ignored with `soft_margin`), in feature-distance units.
        soft_margin: use ``softplus(d_ap - d_an)`` instead of the hinge.

    Returns:
        Scalar loss. Anchors without a positive or a negative are left out.
    """
    dist = euclidean_distances(features)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos_mask, neg_mask = same & ~eye, ~same
    valid = pos_mask.any(dim=1) & neg_mask.any(dim=1)
    if not bool(valid.any()):
        return features.sum() * 0.0  # keeps the graph; nothing to learn from this batch
    hardest_pos = dist.masked_fill(~pos_mask, float("-inf")).amax(dim=1)
    hardest_neg = dist.masked_fill(~neg_mask, float("inf")).amin(dim=1)
    gap = (hardest_pos - hardest_neg)[valid]
    loss = F.softplus(gap) if soft_margin else F.relu(gap + margin)
    return loss.mean()


class CenterLoss(nn.Module):
    """Mean over the batch of half the squared distance of each feature to its class center.

    Args:
        num_classes: identities.
        feat_dim: feature size.
    """

    def __init__(self, num_classes: int, feat_dim: int) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, D) features, (B,) labels -> scalar loss."""
        diff = features - self.centers[labels]  # (B, D)
        return 0.5 * diff.pow(2).sum(dim=1).mean()
