"""3D ResNet baselines: I3D R50 and C2D R50, as in the non-local / SlowFast model zoos.

- I3D: "Quo Vadis, Action Recognition?" (Carreira, Zisserman; CVPR 2017),
  https://arxiv.org/abs/1705.07750, in the ResNet-50 form of "Non-local Neural Networks"
  (Wang et al., CVPR 2018), https://arxiv.org/abs/1711.07971: a 5x7x7 stem, 3x1x1 temporal
  kernels in alternating bottlenecks, and a temporal max pool after stage 2.
- C2D: the same ResNet-50 with purely 2D (1xkxk) kernels and the same temporal pool.

Built by pytorchvideo's `create_resnet` with its hub settings, keeping its parameter names
(``blocks.0`` .. ``blocks.5``) so pytorchvideo zoo checkpoints load unchanged; the head's fixed
pool becomes a global adaptive pool.
"""

from __future__ import annotations

import torch
from pytorchvideo.models.resnet import create_resnet
from torch import nn

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import basic_head_forward, classifier, global_pool

RESNET50_DEPTH = 50
RESNET_STAGE5_CHANNELS = 2048
# Kernel of the first (pointwise in a 2D ResNet) convolution of each bottleneck, per stage; a list
# cycles over the blocks of its stage. I3D inflates it to 3x1x1 in every block of stage 2,
# every other block of stages 3 and 4 (from the first) and of stage 5 (from the second).
I3D_CONV_A_KERNELS = (
    (3, 1, 1),
    [(3, 1, 1), (1, 1, 1)],
    [(3, 1, 1), (1, 1, 1)],
    [(1, 1, 1), (3, 1, 1)],
)
C2D_CONV_A_KERNELS = ((1, 1, 1),) * 4
I3D_STEM_KERNEL = (5, 7, 7)
C2D_STEM_KERNEL = (1, 7, 7)


class ResNet3D(VideoBackbone):
    """A pytorchvideo bottleneck ResNet with the vidlab interface.

    Input (B, 3, T, H, W); output logits (B, num_classes).

    Args:
        num_classes: classifier outputs (0: embedding out).
        stem_kernel: (t, h, w) kernel of the stem convolution.
        conv_a_kernels: per-stage temporal kernels of the bottlenecks' first convolution.
        depth: ResNet depth.
        temporal_pool: max-pool time by 2 after stage 2 (the I3D / C2D zoo models do).
        dropout_rate: dropout before the classifier.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        stem_kernel: tuple[int, int, int],
        conv_a_kernels: tuple,
        depth: int = RESNET50_DEPTH,
        temporal_pool: bool = True,
        dropout_rate: float = 0.5,
    ) -> None:
        super().__init__()
        net = create_resnet(
            model_num_class=max(num_classes, 1),
            model_depth=depth,
            stem_conv_kernel_size=stem_kernel,
            stage1_pool=nn.MaxPool3d if temporal_pool else None,
            stage_conv_a_kernel_size=conv_a_kernels,
            dropout_rate=dropout_rate,
            head_activation=None,
        )
        self.blocks = net.blocks
        head = self.blocks[-1]
        head.pool = global_pool()
        head.output_pool = None
        self.num_features = RESNET_STAGE5_CHANNELS
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> stage-5 features (B, 2048, T', H/32, W/32)."""
        for block in self.blocks[:-1]:
            x = block(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        head = self.blocks[-1]
        return basic_head_forward(head, head.pool(x), pre_logits)  # pool: (B, 2048, 1, 1, 1)

    def reset_classifier(self, num_classes: int) -> None:
        self.blocks[-1].proj = classifier(self.num_features, num_classes)
        self.num_classes = num_classes


def create_i3d_r50(*, num_classes: int, dropout_rate: float = 0.5) -> ResNet3D:
    """I3D ResNet-50 (pytorchvideo zoo ``I3D_8x8_R50`` layout)."""
    return ResNet3D(
        num_classes=num_classes,
        stem_kernel=I3D_STEM_KERNEL,
        conv_a_kernels=I3D_CONV_A_KERNELS,
        dropout_rate=dropout_rate,
    )


def create_c2d_r50(*, num_classes: int, dropout_rate: float = 0.5) -> ResNet3D:
    """C2D ResNet-50 (pytorchvideo zoo ``C2D_8x8_R50`` layout)."""
    return ResNet3D(
        num_classes=num_classes,
        stem_kernel=C2D_STEM_KERNEL,
        conv_a_kernels=C2D_CONV_A_KERNELS,
        dropout_rate=dropout_rate,
    )
