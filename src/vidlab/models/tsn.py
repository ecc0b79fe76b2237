"""TSN and TSM: 2D ResNets over a clip of segment frames.

- TSN: "Temporal Segment Networks: Towards Good Practices for Deep Action Recognition" (Wang et
  al., ECCV 2016), https://arxiv.org/abs/1608.00859. The video is cut into T segments and one
  frame is taken from each (`vidlab.data.clip_sampling.SegmentSampler`, ``data.sampler=segment``);
  a 2D backbone scores every frame independently and a segmental consensus (the average) fuses them.
- TSM: "TSM: Temporal Shift Module for Efficient Video Understanding" (Lin, Gan, Han; ICCV 2019),
  https://arxiv.org/abs/1811.08383. The same network with a temporal shift at the start of every
  residual branch (before the bottleneck's first convolution): 1/8 of the channels take their
  values from the next frame and 1/8 from the previous one (offline, bidirectional), or 1/8 from
  the previous frame only (online: causal, what a streaming model computes frame by frame). The
  shift has no parameters and no multiply-adds, so TSM costs what TSN costs.

The backbone is torchvision's ResNet, whose module names (``conv1``, ``bn1``, ``layer1`` ..
``layer4``, ``fc``) are kept, so ImageNet torchvision state dicts load unchanged (the shift wraps
``conv1`` of each bottleneck as ``conv1.conv``; `vidlab.models.weights` maps the plain names).
mmaction2's TSN / TSM checkpoints (ResNet / ResNetTSM + TSNHead / TSMHead) are renamed onto
these names by `remap_mmaction2_tsn`.

Input (B, 3, T, H, W) with T = the number of segments; every frame is run as a 2D image.
"""

from __future__ import annotations

import enum
import re

import torch
from torch import nn
from torchvision.models import resnet18, resnet50
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import classifier

STAGES = ("layer1", "layer2", "layer3", "layer4")
BACKBONES = {"resnet50": resnet50, "resnet18": resnet18}
SHIFT_DIV = 8  # the paper's 1/8 of the channels per shifted direction


class ShiftMode(enum.Enum):
    """Temporal shift of TSM: none (TSN), bidirectional (offline) or past-only (online)."""

    NONE = "none"
    OFFLINE = "offline"
    ONLINE = "online"


def temporal_shift(
    x: torch.Tensor, num_segments: int, shift_div: int = SHIFT_DIV, online: bool = False
) -> torch.Tensor:
    """Shift a fraction of the channels along time (zeros enter at the clip's ends).

    Args:
        x: (B * T, C, H, W) frame features, the T frames of a clip consecutive.
        num_segments: T.
        shift_div: 1 / fraction of the channels shifted per direction.
        online: shift only from the past (channels [0, C / div) of frame t come from t - 1); else
            channels [0, C / div) come from t + 1 and [C / div, 2C / div) from t - 1.

    Returns:
        (B * T, C, H, W), the same shape.
    """
    nt, c, h, w = x.shape
    x = x.view(nt // num_segments, num_segments, c, h, w)  # (B, T, C, H, W)
    fold = c // shift_div
    zero = x.new_zeros(x.shape[0], 1, fold, h, w)
    from_past = torch.cat([zero, x[:, :-1, :fold]], dim=1)  # frame t gets t - 1
    if online:
        out = torch.cat([from_past, x[:, :, fold:]], dim=2)
    else:
        from_future = torch.cat([x[:, 1:, :fold], zero], dim=1)  # frame t gets t + 1
        past_part = torch.cat([zero, x[:, :-1, fold : 2 * fold]], dim=1)
        out = torch.cat([from_future, past_part, x[:, :, 2 * fold :]], dim=2)
    return out.view(nt, c, h, w)


class TemporalShift(nn.Module):
    """`temporal_shift` followed by the wrapped convolution (the residual branch's first).

    Args:
        conv: the wrapped layer (kept as ``conv``).
        num_segments: frames per clip T.
        shift_div: 1 / fraction of channels shifted per direction.
        online: past-only shift (see `temporal_shift`).
    """

    def __init__(
        self, conv: nn.Module, num_segments: int, shift_div: int = SHIFT_DIV, online: bool = False
    ) -> None:
        super().__init__()
        self.conv = conv
        self.num_segments = num_segments
        self.shift_div = shift_div
        self.online = online

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(temporal_shift(x, self.num_segments, self.shift_div, self.online))


def insert_temporal_shift(
    net: ResNet, num_segments: int, shift_div: int = SHIFT_DIV, online: bool = False
) -> int:
    """Wrap ``conv1`` of every residual block of `net` in a `TemporalShift`; returns the count."""
    count = 0
    for stage in STAGES:
        for block in getattr(net, stage):
            if isinstance(block, (Bottleneck, BasicBlock)):
                block.conv1 = TemporalShift(block.conv1, num_segments, shift_div, online)
                count += 1
    return count


class TSN(VideoBackbone):
    """TSN / TSM with the vidlab interface. Input (B, 3, T, H, W); output (B, num_classes).

    Args:
        num_classes: classifier outputs (0: embedding out).
        num_segments: T, frames per clip (the shift needs it; TSN accepts any T).
        backbone: ``resnet50`` (the papers') or ``resnet18`` (small runs).
        shift: ``none`` (TSN), ``offline`` or ``online`` (TSM).
        shift_div: 1 / fraction of channels shifted per direction (TSM).
        dropout_rate: dropout before the classifier (the papers: 0.5 for TSN, 0.5 / 0.8 TSM).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_segments: int = 8,
        backbone: str = "resnet50",
        shift: str = "none",
        shift_div: int = SHIFT_DIV,
        dropout_rate: float = 0.5,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(
                f"unknown TSN backbone {backbone!r}; expected one of {list(BACKBONES)}"
            )
        net = BACKBONES[backbone](weights=None)
        self.shift = ShiftMode(shift)
        self.num_segments = num_segments
        if self.shift is not ShiftMode.NONE:
            insert_temporal_shift(net, num_segments, shift_div, self.shift is ShiftMode.ONLINE)
        for name in ("conv1", "bn1", "relu", "maxpool", *STAGES, "avgpool"):
            setattr(self, name, getattr(net, name))
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()
        self.num_features = net.fc.in_features
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> per-frame features (B, T, C, H/32, W/32)."""
        b, c, t, h, w = x.shape
        if self.shift is not ShiftMode.NONE and t != self.num_segments:
            raise ValueError(f"TSM was built for {self.num_segments} segments, got T={t}")
        x = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B * T, 3, H, W)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in STAGES:
            x = getattr(self, stage)(x)
        return x.view(b, t, *x.shape[1:])  # (B, T, C, h, w)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        # Average consensus: the mean of per-frame scores is the score of the mean feature.
        x = x.mean(dim=(1, 3, 4))  # (B, C)
        return x if pre_logits else self.fc(self.dropout(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.fc = classifier(self.num_features, num_classes)
        self.num_classes = num_classes


# mmaction2's 2D ResNet (ResNet, ResNetTSM) wraps every convolution with its BatchNorm in a
# ConvModule: backbone.conv1.{conv,bn}.*, backbone.layerK.I.convJ.{conv,bn}.*,
# backbone.layerK.I.downsample.{conv,bn}.*; the heads (TSNHead, TSMHead) are cls_head.fc_cls.*.
# ResNetTSM's shift (shift_place="blockres") wraps conv1 of every block in a module holding it as
# `net`: around the convolution in mmaction2 1.x (conv1.conv.net.*), around the whole ConvModule in
# 0.x (conv1.net.conv.*, conv1.net.bn.*).
MMACTION_TSN_STEM = re.compile(r"^backbone\.conv1\.(conv|bn)\.(?:net\.)?([^.]+)$")
MMACTION_TSN_BLOCK = re.compile(
    r"^backbone\.(layer\d\.\d+)\.conv(\d)\.(?:net\.)?(conv|bn)\.(?:net\.)?([^.]+)$"
)
MMACTION_TSN_DOWNSAMPLE = re.compile(r"^backbone\.(layer\d\.\d+)\.downsample\.(conv|bn)\.([^.]+)$")
# mmaction2 TSN with a torchvision / timm backbone (backbone.type="torchvision.resnet50"): the
# backbone keeps torchvision's names under backbone.
TORCHVISION_IN_MMACTION = re.compile(
    r"^backbone\.((?:conv1|bn1|layer\d\.\d+\.(?:conv\d|bn\d|downsample\.[01]))\.[^.]+)$"
)
MMACTION_HEAD = "cls_head.fc_cls."
# torchvision keeps the shortcut as downsample = Sequential(conv, bn).
DOWNSAMPLE_INDEX = {"conv": "0", "bn": "1"}


def is_mmaction2_tsn(state: dict[str, torch.Tensor]) -> bool:
    """mmaction2's TSN / TSM layout: a 2D stem convolution under ``backbone.conv1`` (mmaction2's
    I3D has the same names around a 3D one)."""
    stem = state.get("backbone.conv1.conv.weight", state.get("backbone.conv1.weight"))
    return stem is not None and stem.ndim == 4


def remap_mmaction2_tsn(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """mmaction2 TSN / TSM names -> `TSN`'s (torchvision ResNet names: the shift-wrapped
    ``conv1.conv`` of TSM is reached by `vidlab.models.weights.fit_shifted_names`).

    Keys with no counterpart keep their mmaction2 name, so that loading reports them unexpected
    (a non-local block, shift_place="block", an auxiliary head).
    """
    out = {}
    for name, value in state.items():
        if match := MMACTION_TSN_STEM.match(name):
            unit, rest = match.groups()
            name = f"{unit}1.{rest}"
        elif match := MMACTION_TSN_BLOCK.match(name):
            block, index, unit, rest = match.groups()
            name = f"{block}.{unit}{index}.{rest}"
        elif match := MMACTION_TSN_DOWNSAMPLE.match(name):
            block, unit, rest = match.groups()
            name = f"{block}.downsample.{DOWNSAMPLE_INDEX[unit]}.{rest}"
        elif match := TORCHVISION_IN_MMACTION.match(name):
            name = match.group(1)
        elif name.startswith(MMACTION_HEAD):
            name = "fc." + name[len(MMACTION_HEAD) :]
        out[name] = value
    return out


def create_tsn(
    *,
    num_classes: int,
    num_frames: int = 8,
    backbone: str = "resnet50",
    shift: str = "none",
    shift_div: int = SHIFT_DIV,
    dropout_rate: float = 0.5,
) -> TSN:
    """TSN (``shift="none"``) or TSM (``"offline"`` / ``"online"``), randomly initialised.

    `num_frames` is the number of segments T (one frame each), as the data config calls it.
    """
    return TSN(
        num_classes=num_classes,
        num_segments=num_frames,
        backbone=backbone,
        shift=shift,
        shift_div=shift_div,
        dropout_rate=dropout_rate,
    )


def create_tsm(
    *,
    num_classes: int,
    num_frames: int = 8,
    backbone: str = "resnet50",
    shift: str = "offline",
    shift_div: int = SHIFT_DIV,
    dropout_rate: float = 0.5,
) -> TSN:
    """TSM: `create_tsn` with the temporal shift on (offline by default)."""
    if shift == ShiftMode.NONE.value:
        raise ValueError("TSM needs shift='offline' or 'online' (shift='none' is TSN)")
    return create_tsn(
        num_classes=num_classes,
        num_frames=num_frames,
        backbone=backbone,
        shift=shift,
        shift_div=shift_div,
        dropout_rate=dropout_rate,
    )
