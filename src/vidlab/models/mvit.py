"""MViTv2-S: "MViTv2: Improved Multiscale Vision Transformers for Classification and Detection"
(Li et al., CVPR 2022), https://arxiv.org/abs/2112.01526.

A pooling-attention transformer whose resolution shrinks and width grows over four scales, with
decomposed relative position embeddings and residual pooling connections. Built by torchvision's
``mvit_v2_s`` (the PySlowFast ``MVITv2_S_16x4`` layout); the wrapper keeps torchvision's module
names (``conv_proj``, ``pos_encoding``, ``blocks``, ``norm``, ``head``) so torchvision's
Kinetics-400 weights load unchanged.

torchvision's forward takes the token grid from the size fixed at construction (16x224x224); this
wrapper reads it from the patch embedding's output instead, and the relative position tables are
interpolated to the grid, so other clip sizes run (accuracy away from the trained size is
another matter).
"""

from __future__ import annotations

import torch
from torchvision.models.video import mvit_v2_s

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import classifier

# torchvision's head: Sequential(Dropout, Linear); the classifier is its last entry.
HEAD_CLASSIFIER = 1


class MViTv2(VideoBackbone):
    """MViTv2-S with the vidlab interface. Input (B, 3, T, H, W); output logits (B, num_classes).

    Args:
        num_classes: classifier outputs (0: embedding out).
        dropout_rate: dropout before the classifier.
        drop_path_rate: stochastic depth (linearly increasing over blocks), as torchvision's.
    """

    def __init__(
        self, *, num_classes: int, dropout_rate: float = 0.5, drop_path_rate: float = 0.2
    ) -> None:
        super().__init__()
        net = mvit_v2_s(weights=None, dropout=dropout_rate, stochastic_depth_prob=drop_path_rate)
        self.conv_proj = net.conv_proj
        self.pos_encoding = net.pos_encoding
        self.blocks = net.blocks
        self.norm = net.norm
        self.head = net.head
        self.num_features = net.head[HEAD_CLASSIFIER].in_features
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> normalised tokens (B, 1 + T/2 * H/32 * W/32, 768), class token first."""
        x = self.conv_proj(x)  # (B, 96, T/2, H/4, W/4)
        thw = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)  # (B, T/2 * H/4 * W/4, 96)
        x = self.pos_encoding(x)  # class token prepended
        for block in self.blocks:
            x, thw = block(x, thw)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x[:, 0]  # (B, 768) class token
        return x if pre_logits else self.head(x)

    def reset_classifier(self, num_classes: int) -> None:
        self.head[HEAD_CLASSIFIER] = classifier(self.num_features, num_classes)
        self.num_classes = num_classes

    def no_weight_decay(self) -> set[str]:
        return {"pos_encoding.class_token"}


def create_mvit_v2_s(
    *, num_classes: int, dropout_rate: float = 0.5, drop_path_rate: float = 0.2
) -> MViTv2:
    """MViTv2-S (torchvision ``mvit_v2_s``), randomly initialised."""
    return MViTv2(num_classes=num_classes, dropout_rate=dropout_rate, drop_path_rate=drop_path_rate)
