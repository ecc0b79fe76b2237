"""Two-stream network: an RGB stream and an optical-flow stream, fused late.

Simonyan and Zisserman, "Two-Stream Convolutional Networks for Action Recognition in Videos",
NeurIPS 2014, https://arxiv.org/abs/1406.2199: one network sees appearance, another the motion
(stacked optical flow), and their class scores are fused at the end. Here both streams are 3D
networks over the same clip, and the input is one tensor (B, 3 + 2, T, H, W): channels 0-2 the
normalised RGB clip, channels 3-4 the flow (dx, dy) from each frame to the next, as the flow data
pipeline stacks them (`vidlab.data.datamodules.synthetic_flow`). The fused logits are
``w * rgb_logits + (1 - w) * flow_logits``; the pre-logit embedding is both streams' embeddings
side by side.
"""

from __future__ import annotations

import torch
from torch import nn

from vidlab.models.base import VideoBackbone

RGB_CHANNELS, FLOW_CHANNELS = 3, 2


class FlowNet3D(VideoBackbone):
    """A small 3D CNN for flow clips (B, 2, T, H, W): three strided conv-BN-ReLU stages, global
    average pool, linear classifier.

    Args:
        num_classes: classifier outputs (0: embedding out).
        in_channels: flow channels.
        widths: channels of the three stages.
        dropout_rate: dropout before the classifier.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = FLOW_CHANNELS,
        widths: tuple[int, int, int] = (16, 32, 64),
        dropout_rate: float = 0.2,
    ) -> None:
        super().__init__()
        layers, c = [], in_channels
        strides = ((1, 2, 2), (1, 2, 2), (2, 2, 2))
        for width, stride in zip(widths, strides, strict=True):
            layers += [
                nn.Conv3d(c, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(inplace=True),
            ]
            c = width
        self.stem = nn.Sequential(*layers)
        self.num_features = c
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout_rate)
        self.fc = nn.Linear(c, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2, T, H, W) -> (B, C, T/2, H/8, W/8)."""
        return self.stem(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean(dim=(2, 3, 4))  # (B, C)
        return x if pre_logits else self.fc(self.dropout(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.num_classes = num_classes


class TwoStream(VideoBackbone):
    """RGB and flow streams over a (B, 3 + 2, T, H, W) clip, late fusion of their logits.

    Args:
        rgb: the appearance stream (any backbone taking (B, 3, T, H, W)).
        flow: the motion stream (any backbone taking (B, 2, T, H, W)).
        num_classes: classifier outputs of both streams (their classifiers are reset to it).
        rgb_weight: w of the fusion ``w * rgb + (1 - w) * flow``.
    """

    def __init__(
        self, *, rgb: VideoBackbone, flow: VideoBackbone, num_classes: int, rgb_weight: float = 0.5
    ) -> None:
        super().__init__()
        if not 0.0 <= rgb_weight <= 1.0:
            raise ValueError(f"rgb_weight={rgb_weight}: expected a value in [0, 1]")
        self.rgb, self.flow = rgb, flow
        self.rgb_weight = rgb_weight
        self.num_features = rgb.num_features + flow.num_features
        self.reset_classifier(num_classes)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] != RGB_CHANNELS + FLOW_CHANNELS:
            raise ValueError(
                f"two-stream input has {x.shape[1]} channels; expected {RGB_CHANNELS} RGB + "
                f"{FLOW_CHANNELS} flow (a data config with flow, e.g. data=synthetic_actions_flow)"
            )
        return x[:, :RGB_CHANNELS], x[:, RGB_CHANNELS:]  # (B, 3, T, H, W), (B, 2, T, H, W)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 5, T, H, W) -> (RGB stream features, flow stream features)."""
        rgb, flow = self._split(x)
        return self.rgb.forward_features(rgb), self.flow.forward_features(flow)

    def forward_head(
        self, x: tuple[torch.Tensor, torch.Tensor], pre_logits: bool = False
    ) -> torch.Tensor:
        rgb_feats, flow_feats = x
        if pre_logits or self.num_classes == 0:
            return torch.cat(
                [
                    self.rgb.forward_head(rgb_feats, pre_logits=True),
                    self.flow.forward_head(flow_feats, pre_logits=True),
                ],
                dim=1,
            )  # (B, num_features)
        w = self.rgb_weight
        return w * self.rgb.forward_head(rgb_feats) + (1 - w) * self.flow.forward_head(flow_feats)

    def reset_classifier(self, num_classes: int) -> None:
        self.rgb.reset_classifier(num_classes)
        self.flow.reset_classifier(num_classes)
        self.num_classes = num_classes

    def no_weight_decay(self) -> set[str]:
        return {f"rgb.{n}" for n in self.rgb.no_weight_decay()} | {
            f"flow.{n}" for n in self.flow.no_weight_decay()
        }
