"""Frame-level 2D baseline (TSN-style average of per-frame predictions).

Temporal Segment Networks (Wang et al., ECCV 2016), https://arxiv.org/abs/1608.00859, reduced to its
consensus idea: a 2D image network scores every frame on its own and the clip score is the mean over
frames. The model is blind to frame order by construction, which is why it serves as the control
that proves a dataset needs temporal modelling.
"""

from __future__ import annotations

import timm
import torch
from einops import rearrange
from torch import nn

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.normalization import ClipStandardize


class FrameBaseline(VideoBackbone):
    """A timm 2D backbone applied per frame, pooled over time. Input (B, 3, T, H, W).

    Args:
        num_classes: classifier outputs.
        backbone: timm model name (created without pretrained weights unless `pretrained`).
        pretrained: load timm's weights from the local cache (never downloads in tests).
        dropout_rate: dropout before the classifier.
        standardize_clips: standardise every input clip on its own first (`ClipStandardize`; its
            statistics span all frames, so the model stays blind to frame order).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        backbone: str = "resnet10t",
        pretrained: bool = False,
        dropout_rate: float = 0.0,
        standardize_clips: bool = False,
    ) -> None:
        super().__init__()
        self.input_norm = ClipStandardize() if standardize_clips else nn.Identity()
        self.encoder = timm.create_model(backbone, pretrained=pretrained, num_classes=0)
        self.num_features = self.encoder.num_features
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout_rate)
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> per-frame embeddings (B, T, num_features)."""
        batch = x.shape[0]
        x = self.input_norm(x)
        frames = rearrange(x, "b c t h w -> (b t) c h w")
        feats = self.encoder(frames)  # (B*T, F)
        return rearrange(feats, "(b t) f -> b t f", b=batch)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        # Averaging per-frame logits equals the logits of the averaged embedding (fc is linear).
        x = x.mean(dim=1)  # (B, F)
        if pre_logits:
            return x
        return self.fc(self.dropout(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.num_classes = num_classes
