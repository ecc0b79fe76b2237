"""SlowFast Networks for Video Recognition (Feichtenhofer, Fan, Malik, He; ICCV 2019).
https://arxiv.org/abs/1812.03982

Two pathways see the same clip: a Slow pathway at a low frame rate with many channels and a Fast
pathway at `alpha` times the frame rate with `1 / beta_inv` of the channels; time-strided
convolutions fuse Fast into Slow after the stem and after every residual stage.

The network is built by pytorchvideo's `create_slowfast` and keeps its parameter names
(``blocks.0`` .. ``blocks.6``), so pytorchvideo model-zoo checkpoints load without remapping
(PySlowFast checkpoints are remapped by `vidlab.models.weights`). The per-pathway head pools,
whose fixed kernels are tied to the training clip, become global adaptive pools.

Input: a list ``[slow, fast]`` of (B, 3, T / alpha, H, W) and (B, 3, T, H, W) clips (see
`pack_pathways`).
"""

from __future__ import annotations

import torch
from pytorchvideo.models.slowfast import create_slowfast as _pytorchvideo_create_slowfast
from torch import nn

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import basic_head_forward, classifier, global_pool

# Channels of the last residual stage of a bottleneck ResNet (Slow pathway); the Fast pathway
# has `1 / beta_inv` of them.
RESNET_STAGE5_CHANNELS = 2048
# Index of pytorchvideo's `PoolConcatPathway` and of the `ResNetBasicHead` in `blocks`.
POOL_BLOCK = -2
HEAD_BLOCK = -1


def pack_pathways(clip: torch.Tensor, alpha: int) -> list[torch.Tensor]:
    """Split a clip into SlowFast's pathways by temporal subsampling.

    Args:
        clip: (B, 3, T, H, W) clip at the Fast pathway's frame rate.
        alpha: frame-rate ratio Fast / Slow; T must be a multiple of it.

    Returns:
        ``[slow, fast]`` with slow (B, 3, T / alpha, H, W) (every alpha-th frame) and fast = clip.
    """
    num_frames = clip.shape[2]
    if num_frames % alpha:
        raise ValueError(
            f"SlowFast needs a clip length divisible by alpha={alpha}, got T={num_frames}"
        )
    return [clip[:, :, ::alpha], clip]  # (B, 3, T / alpha, H, W), (B, 3, T, H, W)


class SlowFast(VideoBackbone):
    """SlowFast with the vidlab interface. Input ``[slow, fast]``; output logits (B, num_classes).

    Args:
        num_classes: classifier outputs (0: no classifier, `forward` returns the embedding).
        depth: ResNet depth of the Slow pathway (50 or 101).
        alpha: frame-rate ratio between the pathways (8x8 models: 4; 4x16 models: 8).
        beta_inv: channel ratio Slow / Fast.
        fusion_kernel: temporal kernel of the Fast-to-Slow fusion convolutions.
        dropout_rate: dropout before the classifier.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        depth: int = 50,
        alpha: int = 4,
        beta_inv: int = 8,
        fusion_kernel: int = 7,
        dropout_rate: float = 0.5,
    ) -> None:
        super().__init__()
        net = _pytorchvideo_create_slowfast(
            model_num_class=max(num_classes, 1),
            model_depth=depth,
            slowfast_channel_reduction_ratio=(beta_inv,),
            slowfast_fusion_conv_kernel_size=(fusion_kernel, 1, 1),
            slowfast_fusion_conv_stride=(alpha, 1, 1),
            dropout_rate=dropout_rate,
            head_activation=None,
        )
        self.blocks = net.blocks
        pool = self.blocks[POOL_BLOCK]
        pool.pool = nn.ModuleList([global_pool() for _ in pool.pool])
        self.blocks[HEAD_BLOCK].output_pool = None
        self.alpha = alpha
        self.num_features = RESNET_STAGE5_CHANNELS + RESNET_STAGE5_CHANNELS // beta_inv
        self.reset_classifier(num_classes)

    def forward_features(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        """``[slow, fast]`` clips -> stage-5 features ``[(B, 2048, T/alpha, h, w), (B, 256, T, h, w)]``."""
        if not isinstance(x, (list, tuple)) or len(x) != 2:
            raise TypeError(
                "SlowFast takes a list [slow, fast] of two clips (see slowfast.pack_pathways), "
                f"got {type(x).__name__}"
            )
        x = list(x)
        for block in self.blocks[:POOL_BLOCK]:
            x = block(x)
        return x

    def forward_head(self, x: list[torch.Tensor], pre_logits: bool = False) -> torch.Tensor:
        pooled = self.blocks[POOL_BLOCK](x)  # (B, 2048 + 2048 / beta_inv, 1, 1, 1)
        return basic_head_forward(self.blocks[HEAD_BLOCK], pooled, pre_logits)

    def reset_classifier(self, num_classes: int) -> None:
        self.blocks[HEAD_BLOCK].proj = classifier(self.num_features, num_classes)
        self.num_classes = num_classes


def create_slowfast(
    *,
    num_classes: int,
    depth: int = 50,
    alpha: int = 4,
    beta_inv: int = 8,
    fusion_kernel: int = 7,
    dropout_rate: float = 0.5,
) -> SlowFast:
    """Build a SlowFast (see `SlowFast`). Named variants live in `vidlab.models.registry`."""
    return SlowFast(
        num_classes=num_classes,
        depth=depth,
        alpha=alpha,
        beta_inv=beta_inv,
        fusion_kernel=fusion_kernel,
        dropout_rate=dropout_rate,
    )
