"""torchvision's video ResNets: R3D-18 and R(2+1)D-18.

"A Closer Look at Spatiotemporal Convolutions for Action Recognition" (Tran et al., CVPR 2018),
https://arxiv.org/abs/1711.11248. R3D-18 uses full 3x3x3 convolutions; R(2+1)D-18 factorises
each into a 1x3x3 spatial and a 3x1x1 temporal convolution with a width chosen to match the
parameter count of the 3D one.

The wrapper keeps torchvision's module names (``stem``, ``layer1`` .. ``layer4``, ``fc``) so that
torchvision's Kinetics-400 state dicts load unchanged. Both networks end in a global adaptive
pool, so any clip length and crop size work (the published models use 16x112x112).
"""

from __future__ import annotations

import torch
from torchvision.models.video import r2plus1d_18, r3d_18
from torchvision.models.video.resnet import VideoResNet

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import classifier

RESNET18_STAGE4_CHANNELS = 512
STAGES = ("layer1", "layer2", "layer3", "layer4")


class TorchvisionVideoResNet(VideoBackbone):
    """A torchvision `VideoResNet` with the vidlab interface.

    Input (B, 3, T, H, W); output logits (B, num_classes).

    Args:
        net: the torchvision network (its modules are adopted under the same names).
        num_classes: classifier outputs (0: embedding out).
    """

    def __init__(self, net: VideoResNet, *, num_classes: int) -> None:
        super().__init__()
        self.stem = net.stem
        for name in STAGES:
            setattr(self, name, getattr(net, name))
        self.avgpool = net.avgpool
        self.num_features = net.fc.in_features
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> stage-4 features (B, 512, T/8, H/16, W/16)."""
        x = self.stem(x)
        for name in STAGES:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.avgpool(x).flatten(1)  # (B, 512)
        return x if pre_logits else self.fc(x)

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = classifier(self.num_features, num_classes)
        self.num_classes = num_classes


def create_r3d_18(*, num_classes: int) -> TorchvisionVideoResNet:
    """R3D-18 (torchvision ``r3d_18``), randomly initialised."""
    return TorchvisionVideoResNet(r3d_18(weights=None), num_classes=num_classes)


def create_r2plus1d_18(*, num_classes: int) -> TorchvisionVideoResNet:
    """R(2+1)D-18 (torchvision ``r2plus1d_18``), randomly initialised."""
    return TorchvisionVideoResNet(r2plus1d_18(weights=None), num_classes=num_classes)
