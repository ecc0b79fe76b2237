"""Video Swin Transformer: "Video Swin Transformer" (Liu et al., CVPR 2022),
https://arxiv.org/abs/2106.13230.

Shifted-window self-attention over 3D windows (8x7x7 tokens) of 2x4x4 patches, in four stages
whose resolution halves (patch merging) while the width doubles. Built by torchvision's
``SwinTransformer3d``; the wrapper keeps torchvision's module names (``patch_embed``,
``features``, ``norm``, ``head``) so torchvision's Kinetics-400 state dicts load unchanged.

Other weights (see `vidlab.models.weights`, which calls the functions here):

- mmaction2 / the official Video Swin checkpoints (``backbone.layers.I.blocks.J.*``,
  ``backbone.layers.I.downsample.*``, ``cls_head.fc_cls.*``): `remap_mmaction2_swin3d`.
- ImageNet 2D Swin weights (torchvision ``swin_t`` layout ``features.K.*`` or timm layout
  ``layers.I.blocks.J.*``): `inflate_swin2d_into_swin3d` repeats the 2D patch kernel over the
  temporal patch size (divided by it) and the 2D relative position bias table over the
  2 * Wd - 1 temporal offsets, as the paper initialises its Kinetics models.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torchvision.models.video.swin_transformer import SwinTransformer3d

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import classifier
from vidlab.models.layers.normalization import ClipStandardize
from vidlab.models.timesformer import conv_stem

# Published architectures (paper Table 1 / torchvision): embed dim, depths, heads.
VARIANTS: dict[str, tuple[int, tuple[int, ...], tuple[int, ...]]] = {
    "t": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "s": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "b": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
}
PATCH_SIZE = (2, 4, 4)
WINDOW_SIZE = (8, 7, 7)


class Swin3D(VideoBackbone):
    """Video Swin with the vidlab interface. Input (B, 3, T, H, W); output (B, num_classes).

    Args:
        num_classes: classifier outputs (0: embedding out).
        embed_dim: channels of the first stage (doubled by every patch merging).
        depths: blocks per stage.
        num_heads: attention heads per stage.
        patch_size: (t, h, w) of the patch embedding.
        window_size: (t, h, w) attention window in tokens (shrunk to small inputs).
        drop_path_rate: stochastic depth, increasing linearly over the blocks.
        dropout_rate: dropout before the classifier.
        standardize_clips: standardise every input clip on its own first (`ClipStandardize`;
            off in the paper's model, on for the small synthetic runs from scratch).
        stem_width: 0 (the paper's linear patch embedding), or the first width of a
            convolutional stem with the same output grid (`vidlab.models.timesformer.conv_stem`;
            pretrained weights then leave it untouched).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        embed_dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (3, 6, 12, 24),
        patch_size: tuple[int, int, int] = PATCH_SIZE,
        window_size: tuple[int, int, int] = WINDOW_SIZE,
        drop_path_rate: float = 0.1,
        dropout_rate: float = 0.0,
        standardize_clips: bool = False,
        stem_width: int = 0,
    ) -> None:
        super().__init__()
        self.input_norm = ClipStandardize() if standardize_clips else nn.Identity()
        net = SwinTransformer3d(
            patch_size=list(patch_size),
            embed_dim=embed_dim,
            depths=list(depths),
            num_heads=list(num_heads),
            window_size=list(window_size),
            stochastic_depth_prob=drop_path_rate,
        )
        self.patch_embed = net.patch_embed
        if stem_width > 0:
            if patch_size[1] != patch_size[2]:
                raise ValueError(f"a convolutional stem needs square patches, got {patch_size}")
            self.patch_embed.proj = conv_stem(patch_size[1], patch_size[0], stem_width, embed_dim)
        self.pos_drop = net.pos_drop
        self.features = net.features
        self.norm = net.norm
        self.avgpool = net.avgpool
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()
        self.num_features = net.num_features
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> normalised tokens (B, T/2, H/32, W/32, 8 * embed_dim)."""
        x = self.patch_embed(self.input_norm(x))  # (B, T/2, H/4, W/4, C)
        x = self.pos_drop(x)
        x = self.features(x)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.avgpool(x.permute(0, 4, 1, 2, 3)).flatten(1)  # (B, C)
        return x if pre_logits else self.head(self.dropout(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = classifier(self.num_features, num_classes)
        self.num_classes = num_classes

    def no_weight_decay(self) -> set[str]:
        return {
            name
            for name, _ in self.named_parameters()
            if name.endswith("relative_position_bias_table")
        }


def create_swin3d(
    *,
    num_classes: int,
    variant: str | None = None,
    embed_dim: int = 96,
    depths: tuple[int, ...] = (2, 2, 6, 2),
    num_heads: tuple[int, ...] = (3, 6, 12, 24),
    patch_size: tuple[int, int, int] = PATCH_SIZE,
    window_size: tuple[int, int, int] = WINDOW_SIZE,
    drop_path_rate: float = 0.1,
    dropout_rate: float = 0.0,
    standardize_clips: bool = False,
    stem_width: int = 0,
) -> Swin3D:
    """A Video Swin; `variant` ("t", "s", "b") sets the published width, depths and heads."""
    if variant is not None:
        if variant not in VARIANTS:
            raise ValueError(
                f"unknown Video Swin variant {variant!r}; expected one of {list(VARIANTS)}"
            )
        embed_dim, depths, num_heads = VARIANTS[variant]
    return Swin3D(
        num_classes=num_classes,
        embed_dim=embed_dim,
        depths=tuple(depths),
        num_heads=tuple(num_heads),
        patch_size=tuple(patch_size),
        window_size=tuple(window_size),
        drop_path_rate=drop_path_rate,
        dropout_rate=dropout_rate,
        standardize_clips=standardize_clips,
        stem_width=stem_width,
    )


# ----------------------------------------------------------------------- checkpoint key remapping

# mmaction2 / official Video Swin: stage I's blocks and its trailing patch merging.
MMACTION_BLOCK = re.compile(r"^backbone\.layers\.(\d+)\.blocks\.(\d+)\.(.*)$")
MMACTION_MERGE = re.compile(r"^backbone\.layers\.(\d+)\.downsample\.(.*)$")
# Sub-module names inside a block: theirs -> torchvision's.
BLOCK_PARTS = (("mlp.fc1.", "mlp.0."), ("mlp.fc2.", "mlp.3."))
# Buffers recomputed by the model (never taken from a file).
SKIPPED_BUFFERS = ("relative_position_index", "attn_mask")


def _block_rest(rest: str) -> str:
    for theirs, ours in BLOCK_PARTS:
        if rest.startswith(theirs):
            return ours + rest[len(theirs) :]
    return rest


def is_mmaction2_swin3d(state: dict[str, torch.Tensor]) -> bool:
    """mmaction2's / the official Video Swin layout (``backbone.layers.0.blocks.0.*``)."""
    return any(MMACTION_BLOCK.match(k) for k in state)


def remap_mmaction2_swin3d(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """mmaction2 Video Swin names -> torchvision's (`Swin3D`). Unknown keys keep their name.

    Stage I of theirs is ``features.{2I}``, its trailing patch merging ``features.{2I + 1}``;
    ``backbone.`` is dropped from the embedding and final norm, ``cls_head.fc_cls`` becomes
    ``head``.
    """
    out = {}
    for name, value in state.items():
        if name.rsplit(".", 1)[-1] in SKIPPED_BUFFERS:
            continue
        if match := MMACTION_BLOCK.match(name):
            stage, block, rest = match.groups()
            name = f"features.{2 * int(stage)}.{block}.{_block_rest(rest)}"
        elif match := MMACTION_MERGE.match(name):
            stage, rest = match.groups()
            name = f"features.{2 * int(stage) + 1}.{rest}"
        elif name.startswith("backbone."):
            name = name[len("backbone.") :]
        elif name.startswith("cls_head.fc_cls."):
            name = "head." + name[len("cls_head.fc_cls.") :]
        out[name] = value
    return out


# 2D Swin layouts. torchvision: features.0 = (Conv2d, Permute, LayerNorm), stages at odd indices
# 1, 3, 5, 7 and patch merging at 2, 4, 6. timm (>= 0.9): layers.I.downsample merges *before*
# stage I (I >= 1); original / mmcls checkpoints merge after it (layers.0.downsample exists).
TV2D_STEM = re.compile(r"^features\.0\.(0|2)\.(.*)$")
TV2D_FEATURE = re.compile(r"^features\.(\d+)\.(.*)$")
TIMM_BLOCK = re.compile(r"^layers\.(\d+)\.blocks\.(\d+)\.(.*)$")
TIMM_MERGE = re.compile(r"^layers\.(\d+)\.downsample\.(.*)$")


def is_swin2d(state: dict[str, torch.Tensor]) -> bool:
    """A 2D Swin state dict: torchvision's (``features.0.0.weight`` 4-D) or timm's layout."""
    stem = state.get("features.0.0.weight")
    return (stem is not None and stem.ndim == 4) or any(TIMM_BLOCK.match(k) for k in state)


def _swin2d_to_3d_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a torchvision or timm 2D Swin state dict to `Swin3D` names (shapes unchanged)."""
    timm_layout = any(TIMM_BLOCK.match(k) for k in state)
    merge_after = "layers.0.downsample.reduction.weight" in state  # original (not timm) order
    out = {}
    for name, value in state.items():
        if name.rsplit(".", 1)[-1] in SKIPPED_BUFFERS:
            continue
        if timm_layout:
            if match := TIMM_BLOCK.match(name):
                stage, block, rest = match.groups()
                name = f"features.{2 * int(stage)}.{block}.{_block_rest(rest)}"
            elif match := TIMM_MERGE.match(name):
                stage, rest = match.groups()
                after = int(stage) if merge_after else int(stage) - 1
                name = f"features.{2 * after + 1}.{rest}"
            elif name.startswith("head.fc."):
                name = "head." + name[len("head.fc.") :]
        elif match := TV2D_STEM.match(name):
            part, rest = match.groups()
            name = f"patch_embed.{'proj' if part == '0' else 'norm'}.{rest}"
        elif match := TV2D_FEATURE.match(name):
            index, rest = match.groups()
            name = f"features.{int(index) - 1}.{rest}"
        out[name] = value
    return out


def with_own_buffers(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """`state` plus `model`'s own relative position index buffers (recomputed, never loaded), so
    that a load reports only real gaps as missing."""
    own = {k: v for k, v in model.state_dict().items() if k.endswith(SKIPPED_BUFFERS)}
    return {**state, **own}


def inflate_swin2d_state(state: dict[str, torch.Tensor], model: Swin3D) -> dict[str, torch.Tensor]:
    """A 2D ImageNet Swin state dict (torchvision or timm layout) as `model`'s 3D tensors.

    The patch kernel (C, 3, p, p) is repeated over the temporal patch size pt and divided by pt,
    so a static clip embeds as its frame does; every relative position bias table of
    (2W - 1)^2 entries is repeated over the 2 * Wd - 1 temporal offsets (the 3D index runs over
    time slowest, so the copies are consecutive blocks). Tables for another spatial window are
    left for the shape check to report.
    """
    out = _swin2d_to_3d_names(state)
    target = model.state_dict()
    proj = out.get("patch_embed.proj.weight")
    if proj is not None and proj.ndim == 4:
        frames = target["patch_embed.proj.weight"].shape[2]
        out["patch_embed.proj.weight"] = proj.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames
    for name, value in list(out.items()):
        if name.endswith("relative_position_bias_table") and name in target:
            wanted = target[name].shape[0]
            if value.shape[0] != wanted and wanted % value.shape[0] == 0:
                out[name] = value.repeat(wanted // value.shape[0], 1)
    return with_own_buffers(out, model)
