"""X3D: Expanding Architectures for Efficient Video Recognition (Feichtenhofer, CVPR 2020).
https://arxiv.org/abs/2004.04730

The network is built by pytorchvideo's builder; this module adapts it to the vidlab backbone
interface (`vidlab.models.base.VideoBackbone`) while keeping pytorchvideo's parameter names
(``blocks.0`` .. ``blocks.5``) so its model-zoo checkpoints load without remapping.

Two changes to pytorchvideo's defaults, both numerically equivalent:
- ``inner_act=nn.SiLU`` instead of pytorchvideo's ``Swish``, a custom autograd function that ONNX
  cannot express (SiLU is the same x * sigmoid(x)).
- the head's fixed-size ``AvgPool3d`` (kernel tied to the training clip size) becomes a global
  adaptive average pool, so one model accepts any clip length and crop size; at the training size
  the two are identical.

One option, off by default (the zoo's X3D is the paper's model): ``standardize_clips``
(`ClipStandardize`) standardises every clip on its own before the stem. It has no parameters, so
checkpoints are the same with and without it. The quickstart's small X3D uses it: on the synthetic
actions, whose colours are random per clip, it removes the plateau that training otherwise sits on
for a seed-dependent number of epochs (README, "The quickstart's recipe").
"""

from __future__ import annotations

import torch
from pytorchvideo.models.x3d import create_x3d as _pytorchvideo_create_x3d
from torch import nn

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.normalization import ClipStandardize


class X3D(VideoBackbone):
    """X3D with the vidlab interface. Input (B, 3, T, H, W); output logits (B, num_classes).

    Args:
        num_classes: classifier outputs.
        num_frames: clip length T used to size the builder (the model accepts any T).
        crop_size: spatial size used to size the builder (the model accepts any size).
        width_factor: channel expansion (X3D-XS/S/M: 2.0).
        depth_factor: stage depth expansion (XS/S/M: 2.2, L: 5.0).
        bottleneck_factor: inner expansion of the bottleneck blocks.
        head_dim_out: pre-logits embedding size.
        dropout_rate: dropout before the classifier.
        standardize_clips: standardise every input clip on its own first (`ClipStandardize`).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int = 16,
        crop_size: int = 160,
        width_factor: float = 2.0,
        depth_factor: float = 2.2,
        bottleneck_factor: float = 2.25,
        head_dim_out: int = 2048,
        dropout_rate: float = 0.5,
        standardize_clips: bool = False,
    ) -> None:
        super().__init__()
        self.input_norm = ClipStandardize() if standardize_clips else nn.Identity()
        net = _pytorchvideo_create_x3d(
            input_clip_length=num_frames,
            input_crop_size=crop_size,
            model_num_class=max(num_classes, 1),
            width_factor=width_factor,
            depth_factor=depth_factor,
            bottleneck_factor=bottleneck_factor,
            head_dim_out=head_dim_out,
            dropout_rate=dropout_rate,
            inner_act=nn.SiLU,
            head_activation=None,
            head_output_with_global_average=False,
        )
        self.blocks = net.blocks
        head = self.blocks[-1]
        head.pool.pool = nn.AdaptiveAvgPool3d(1)
        head.output_pool = None
        self.num_features = head_dim_out
        self.num_classes = num_classes
        if num_classes == 0:
            head.proj = nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> stage-5 features (B, C5, T, H/32, W/32)."""
        x = self.input_norm(x)
        for block in self.blocks[:-1]:
            x = block(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        head = self.blocks[-1]
        x = head.pool(x).flatten(1)  # (B, head_dim_out)
        if pre_logits:
            return x
        if head.dropout is not None:  # pytorchvideo builds no dropout layer for dropout_rate=0
            x = head.dropout(x)
        return head.proj(x)

    def reset_classifier(self, num_classes: int) -> None:
        head = self.blocks[-1]
        head.proj = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.num_classes = num_classes


# The builder that configs name (`vidlab.models.x3d.create_x3d`): the class's keyword-only,
# typed arguments are the builder's arguments.
create_x3d = X3D
