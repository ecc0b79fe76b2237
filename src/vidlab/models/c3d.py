"""C3D: "Learning Spatiotemporal Features with 3D Convolutional Networks" (Tran, Bourdev, Fergus,
Torresani, Paluri; ICCV 2015), https://arxiv.org/abs/1412.0767.

The Sports-1M network: eight 3x3x3 convolutions (64, 128, 256, 256, 512, 512, 512, 512 channels)
in five groups, each closed by a max pool (the first 1x2x2, the others 2x2x2), then two 4096-wide
fully connected layers with dropout and the classifier; input 16 frames of 112x112. The last pool
pads H and W by one (as the Caffe model and mmaction2 do) so that a 112 crop ends on 512x1x4x4 =
8192 features. The layer names (``conv1a`` .. ``conv5b``, ``fc6``, ``fc7``, ``fc8``) are the
paper's and mmaction2's backbone names (mmaction2 checkpoints map by `remap_mmaction2_c3d`).

The fully connected layers fix the input size: a clip of ``num_frames`` x ``crop_size`` must end
on the grid the network was built for (16x112 -> 1x4x4); other sizes are built with those
arguments (the synthetic runs use 8x32).
"""

from __future__ import annotations

import re

import torch
from torch import nn

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import classifier

# (name, out channels) of the convolutions; a pool follows each group.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("conv1a",),
    ("conv2a",),
    ("conv3a", "conv3b"),
    ("conv4a", "conv4b"),
    ("conv5a", "conv5b"),
)
WIDTHS = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}
FC_DIM = 4096


def _pooled_size(frames: int, crop: int) -> tuple[int, int]:
    """(T, H) after the five pools (the first keeps T; the last pads H and W by one)."""
    t, s = frames, crop // 2
    for _ in range(3):
        t, s = t // 2, s // 2
    return t // 2, (s + 2) // 2


class C3D(VideoBackbone):
    """C3D with the vidlab interface. Input (B, 3, T, H, W); output (B, num_classes).

    Args:
        num_classes: classifier outputs (0: embedding out, the fc7 features).
        num_frames: T the network is built for (the paper: 16).
        crop_size: H = W the network is built for (the paper: 112).
        width_factor: channel multiplier of every convolution (1.0: the paper's).
        fc_dim: width of fc6 and fc7 (the paper: 4096).
        dropout_rate: dropout after fc6 and fc7 (the paper: 0.5).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int = 16,
        crop_size: int = 112,
        width_factor: float = 1.0,
        fc_dim: int = FC_DIM,
        dropout_rate: float = 0.5,
    ) -> None:
        super().__init__()
        channels = 3
        for index, group in enumerate(GROUPS):
            for name in group:
                width = max(1, round(WIDTHS[name[4]] * width_factor))
                setattr(self, name, nn.Conv3d(channels, width, 3, padding=1))
                channels = width
            if index == 0:
                pool = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
            elif index == len(GROUPS) - 1:
                pool = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
            else:
                pool = nn.MaxPool3d(2, 2)
            setattr(self, f"pool{index + 1}", pool)
        self.relu = nn.ReLU()
        t, s = _pooled_size(num_frames, crop_size)
        if t < 1 or s < 1:
            raise ValueError(f"C3D needs at least 16 frames of 32 px, got {num_frames}x{crop_size}")
        self.grid = (t, s, s)
        self.fc6 = nn.Linear(channels * t * s * s, fc_dim)
        self.fc7 = nn.Linear(fc_dim, fc_dim)
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()
        self.num_features = fc_dim
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> pool5 output (B, 512, T/16, H/32 + 1, W/32 + 1)."""
        for index, group in enumerate(GROUPS):
            for name in group:
                x = self.relu(getattr(self, name)(x))
            x = getattr(self, f"pool{index + 1}")(x)
        if tuple(x.shape[2:]) != self.grid:
            raise ValueError(
                f"C3D was built for a {self.grid} pool5 grid, got {tuple(x.shape[2:])}: build it "
                "with the clip's num_frames and crop_size"
            )
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(self.relu(self.fc6(x.flatten(1))))  # (B, 4096)
        x = self.dropout(self.relu(self.fc7(x)))
        return x if pre_logits else self.fc8(x)

    def reset_classifier(self, num_classes: int) -> None:
        self.fc8 = classifier(self.num_features, num_classes)
        self.num_classes = num_classes


def create_c3d(
    *,
    num_classes: int,
    num_frames: int = 16,
    crop_size: int = 112,
    width_factor: float = 1.0,
    fc_dim: int = FC_DIM,
    dropout_rate: float = 0.5,
) -> C3D:
    """C3D (see `C3D`), randomly initialised."""
    return C3D(
        num_classes=num_classes,
        num_frames=num_frames,
        crop_size=crop_size,
        width_factor=width_factor,
        fc_dim=fc_dim,
        dropout_rate=dropout_rate,
    )


# mmaction2's C3D: backbone.convXy.conv.*, backbone.fc6/fc7.*, cls_head.fc_cls.*
MMACTION_C3D = re.compile(r"^backbone\.(conv\d[ab])\.conv\.(.*)$")


def is_mmaction2_c3d(state: dict[str, torch.Tensor]) -> bool:
    """mmaction2's C3D layout (``backbone.conv1a.conv.weight``)."""
    return "backbone.conv1a.conv.weight" in state


def remap_mmaction2_c3d(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """mmaction2 C3D names -> `C3D`'s; unknown keys keep their name."""
    out = {}
    for name, value in state.items():
        if match := MMACTION_C3D.match(name):
            name = f"{match.group(1)}.{match.group(2)}"
        elif name.startswith("backbone.fc"):
            name = name[len("backbone.") :]
        elif name.startswith("cls_head.fc_cls."):
            name = "fc8." + name[len("cls_head.fc_cls.") :]
        out[name] = value
    return out
