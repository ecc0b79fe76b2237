"""Classification heads shared by the pytorchvideo-built models (ResNet, SlowFast).

pytorchvideo's `ResNetBasicHead` pools with a fixed-size `AvgPool3d` whose kernel is tied to the
training clip; vidlab swaps it for a global adaptive pool (identical at the training size) so one
model accepts any clip length and crop. The parameter names (``proj.weight``) are kept so that
pytorchvideo model-zoo checkpoints load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


def global_pool() -> nn.AdaptiveAvgPool3d:
    """Average over (T, H, W) to (B, C, 1, 1, 1)."""
    return nn.AdaptiveAvgPool3d(1)


def classifier(num_features: int, num_classes: int) -> nn.Module:
    """Linear classifier, or identity when `num_classes` is 0 (features out)."""
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    return nn.Linear(num_features, num_classes) if num_classes > 0 else nn.Identity()


def basic_head_forward(head: nn.Module, pooled: torch.Tensor, pre_logits: bool) -> torch.Tensor:
    """Dropout and projection of a pytorchvideo `ResNetBasicHead` on already pooled features.

    Args:
        head: module with `dropout` and `proj` attributes.
        pooled: (B, C, 1, 1, 1) or (B, C) pooled features.
        pre_logits: return the (B, C) embedding instead of logits.

    Returns:
        (B, C) embedding or (B, num_classes) logits.
    """
    x = pooled.flatten(1)  # (B, C)
    if pre_logits:
        return x
    if head.dropout is not None:
        x = head.dropout(x)
    return head.proj(x)
