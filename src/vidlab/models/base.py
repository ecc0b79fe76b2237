"""The interface every vidlab backbone offers.

Distillation, fine-tuning, Re-ID embeddings and export rely on the same four methods:

- ``forward_features(x)``: the backbone up to (not including) the classification head.
- ``forward_head(features, pre_logits=False)``: pooling and classifier; with ``pre_logits=True``
  the pooled embedding (B, num_features) that feeds the classifier.
- ``reset_classifier(num_classes)``: a fresh classifier for another label set (0 removes it).
- ``no_weight_decay()``: parameter names that should not be weight-decayed.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

import torch
from torch import nn


class VideoBackbone(nn.Module, metaclass=ABCMeta):
    """Base class: subclasses implement `forward_features`, `forward_head`, `reset_classifier`.

    Attributes:
        num_classes: size of the classifier output (0 when the classifier was removed).
        num_features: size of the pre-logits embedding.
    """

    num_classes: int
    num_features: int

    @abstractmethod
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features of a clip batch, before pooling."""

    @abstractmethod
    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pooled embedding (pre_logits=True) or logits from `forward_features` output."""

    @abstractmethod
    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a fresh one of `num_classes` outputs (0: identity)."""

    def no_weight_decay(self) -> set[str]:
        """Names of parameters excluded from weight decay (beyond norms and biases, which the
        optimizer setup always excludes)."""
        return set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for a clip batch (B, C, T, H, W)."""
        return self.forward_head(self.forward_features(x))
