"""TimeSformer: "Is Space-Time Attention All You Need for Video Understanding?"
(Bertasius, Wang, Torresani; ICML 2021), https://arxiv.org/abs/2102.05095.

A ViT applied to the patches of every frame, with three ways of attending across frames:

- ``divided_space_time`` (the paper's default): in every block, temporal attention among the
  patches at the same location in all frames, then spatial attention among the patches of one
  frame (with a per-frame copy of the class token), then the MLP.
- ``joint_space_time``: one attention over all T * N patches and the class token.
- ``space_only``: a ViT per frame; frame tokens are averaged at the end.

Built from timm's ViT pieces (`PatchEmbed`, `Attention`, `Mlp`, `Block`) so that timm ImageNet
ViT weights map one to one; `vidlab.models.weights.inflate_vit_into_timesformer` loads them. The
temporal branch ends in ``temporal_fc``, initialised to zero, and the time embedding starts at
zero, so an inflated model equals the image model on a static clip at initialisation. Module
names follow the official TimeSformer code (``temporal_norm1``, ``temporal_attn``,
``temporal_fc``, ``time_embed``) so its checkpoints need no remapping.

Two options, both off by default, make a small TimeSformer trainable from scratch on little data
(the embedded synthetic actions, where without them it stays at chance; see the README):
``standardize_clips`` (`ClipStandardize`) and a convolutional stem instead of the linear patch
embedding (``stem_width``, `conv_stem`).
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import torch
from einops import rearrange, repeat
from timm.layers import DropPath, Mlp, PatchEmbed, trunc_normal_
from timm.models.vision_transformer import Attention, Block
from torch import nn

from vidlab.models.base import VideoBackbone
from vidlab.models.layers.heads import classifier
from vidlab.models.layers.normalization import ClipStandardize

VIT_INIT_STD = 0.02  # timm / ViT truncated-normal std for tokens, embeddings and linear layers
LAYER_NORM_EPS = 1e-6  # timm ViT's LayerNorm epsilon


class AttentionType(str, Enum):
    """How attention spans frames."""

    DIVIDED = "divided_space_time"
    JOINT = "joint_space_time"
    SPACE = "space_only"


def _layer_norm(dim: int, **kwargs: Any) -> nn.LayerNorm:
    """timm ViT's LayerNorm (eps 1e-6); `kwargs` are factory arguments (device, dtype)."""
    return nn.LayerNorm(dim, eps=LAYER_NORM_EPS, **kwargs)


class DividedSpaceTimeBlock(nn.Module):
    """Temporal attention, then spatial attention, then MLP (pre-norm residual branches).

    Args:
        dim: token width D.
        num_heads: attention heads.
        num_frames: T, to split the patch sequence into frames.
        mlp_ratio: MLP hidden width / D.
        drop_path: stochastic-depth rate of the residual branches.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_frames: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.temporal_norm1 = _layer_norm(dim)
        self.temporal_attn = Attention(dim, num_heads=num_heads, qkv_bias=True)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1 = _layer_norm(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=True)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = _layer_norm(dim)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1 + T * N, D) tokens, class token first, patches ordered (t, n) -> same shape."""
        cls, patches = x[:, :1], x[:, 1:]
        t = self.num_frames
        # Temporal attention among the T patches at each spatial location.
        xt = rearrange(patches, "b (t n) d -> (b n) t d", t=t)
        res = self.temporal_fc(self.temporal_attn(self.temporal_norm1(xt)))
        res = rearrange(res, "(b n) t d -> b (t n) d", b=x.shape[0])
        patches = patches + self.drop_path(res)
        # Spatial attention within each frame, each frame with its own copy of the class token.
        xs = rearrange(patches, "b (t n) d -> (b t) n d", t=t)
        xs = torch.cat([repeat(cls, "b 1 d -> (b t) 1 d", t=t), xs], dim=1)  # (B*T, 1 + N, D)
        res = self.attn(self.norm1(xs))
        res_cls = rearrange(res[:, :1], "(b t) 1 d -> b t d", t=t).mean(
            1, keepdim=True
        )  # (B, 1, D)
        res_patches = rearrange(res[:, 1:], "(b t) n d -> b (t n) d", t=t)
        x = torch.cat([cls, patches], dim=1) + self.drop_path(torch.cat([res_cls, res_patches], 1))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def conv_stem(patch_size: int, tubelet: int, width: int, embed_dim: int) -> nn.Sequential:
    """A convolutional stem in place of the ``tubelet x patch x patch`` linear embedding.

    The design of Xiao et al., "Early Convolutions Help Transformers See Better" (NeurIPS 2021),
    made 3D: log2(patch_size) 3x3 convolutions of stride 2 (BatchNorm, ReLU), doubling the width
    from `width`, then a 1x1x1 convolution to the token width. The first convolution is per frame,
    the others see 3 frames; the last one instead spans and strides over `tubelet` frames when
    tubelets are longer than one frame. Its output grid equals the linear embedding's.
    """
    steps = int(math.log2(patch_size))
    if patch_size < 2 or 2**steps != patch_size:
        raise ValueError(f"a convolutional stem needs a power-of-two patch size, got {patch_size}")
    layers: list[nn.Module] = []
    channels = 3
    for i in range(steps):
        if i == steps - 1 and tubelet > 1:
            t_kernel, t_stride, t_pad = tubelet, tubelet, 0
        else:
            t_kernel, t_stride, t_pad = (1, 1, 0) if i == 0 else (3, 1, 1)
        out = width * 2**i
        layers += [
            nn.Conv3d(channels, out, (t_kernel, 3, 3), (t_stride, 2, 2), (t_pad, 1, 1), bias=False),
            nn.BatchNorm3d(out),
            nn.ReLU(inplace=True),
        ]
        channels = out
    layers.append(nn.Conv3d(channels, embed_dim, kernel_size=1))
    return nn.Sequential(*layers)


class TubeletEmbed(nn.Module):
    """Non-overlapping ``tubelet x patch x patch`` cubes embedded as tokens: linearly (a strided
    Conv3d, the tubelet embedding of ViViT, Arnab et al., ICCV 2021, sec. 3.2), or by `conv_stem`.

    With ``tubelet > 1`` every token sees a few consecutive frames, so local motion is in the
    tokens themselves rather than only in what temporal attention can work out from single-frame
    patches: a strong bias for a small model trained from scratch. It mirrors timm's `PatchEmbed`
    attributes (``img_size``, ``grid_size``, ``num_patches``, ``proj``) so the rest of the model
    does not care which one it has.

    Args:
        img_size: input crop size (H = W).
        patch_size: square patch side in pixels.
        tubelet: frames per token.
        embed_dim: token width D.
        stem_width: 0 for the linear embedding, else the first width of a `conv_stem`.
    """

    def __init__(
        self, img_size: int, patch_size: int, tubelet: int, embed_dim: int, stem_width: int = 0
    ) -> None:
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"crop size {img_size} is not a multiple of patch size {patch_size}")
        self.img_size = (img_size, img_size)
        self.grid_size = (img_size // patch_size,) * 2
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        kernel = (tubelet, patch_size, patch_size)
        self.proj: nn.Module = (
            conv_stem(patch_size, tubelet, stem_width, embed_dim)
            if stem_width > 0
            else nn.Conv3d(3, embed_dim, kernel_size=kernel, stride=kernel)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B * T / tubelet, N, D) tokens, frame-major like `PatchEmbed`."""
        return rearrange(self.proj(x), "b d t h w -> (b t) (h w) d")


class TimeSformer(VideoBackbone):
    """TimeSformer with the vidlab interface. Input (B, 3, T, H, W); output (B, num_classes).

    Args:
        num_classes: classifier outputs (0: embedding out).
        num_frames: T, fixed by the time embedding.
        img_size: input crop size (H = W), fixed by the position embedding.
        patch_size: square patch side in pixels.
        embed_dim: token width D.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / D.
        attention_type: an `AttentionType` value.
        dropout_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, increasing linearly to this value over the blocks.
        tubelet_size: frames per token (1: the paper's per-frame patches; > 1: `TubeletEmbed`,
            and attention spans ``num_frames / tubelet_size`` token frames).
        stem_width: 0 (the paper's linear patch embedding), or the first width of a
            convolutional stem (`conv_stem`; ImageNet ViT weights then leave it untouched).
        standardize_clips: standardise every input clip on its own first (`ClipStandardize`).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        num_frames: int = 8,
        img_size: int = 224,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        attention_type: str = AttentionType.DIVIDED.value,
        dropout_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        tubelet_size: int = 1,
        stem_width: int = 0,
        standardize_clips: bool = False,
    ) -> None:
        super().__init__()
        if tubelet_size < 1 or num_frames % tubelet_size:
            raise ValueError(
                f"num_frames ({num_frames}) must be a multiple of tubelet_size ({tubelet_size})"
            )
        self.attention_type = AttentionType(attention_type)
        self.input_frames = num_frames
        self.tubelet_size = tubelet_size
        self.num_frames = num_frames // tubelet_size  # token frames: what attention spans
        self.num_features = embed_dim
        self.input_norm = ClipStandardize() if standardize_clips else nn.Identity()
        self.patch_embed: nn.Module = (
            PatchEmbed(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim)
            if tubelet_size == 1 and stem_width == 0
            else TubeletEmbed(img_size, patch_size, tubelet_size, embed_dim, stem_width)
        )
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        if self.attention_type is not AttentionType.SPACE:
            self.time_embed = nn.Parameter(torch.zeros(1, self.num_frames, embed_dim))  # identity
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            [self._block(embed_dim, num_heads, mlp_ratio, r) for r in rates]
        )
        self.norm = _layer_norm(embed_dim)
        self.head_drop = nn.Dropout(dropout_rate)
        self.head = classifier(embed_dim, num_classes)
        self.num_classes = num_classes
        self._init_weights()

    def _block(self, dim: int, num_heads: int, mlp_ratio: float, drop_path: float) -> nn.Module:
        if self.attention_type is AttentionType.DIVIDED:
            return DividedSpaceTimeBlock(dim, num_heads, self.num_frames, mlp_ratio, drop_path)
        return Block(
            dim,
            num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=True,
            drop_path=drop_path,
            norm_layer=_layer_norm,
        )

    def _init_weights(self) -> None:
        trunc_normal_(self.pos_embed, std=VIT_INIT_STD)
        trunc_normal_(self.cls_token, std=VIT_INIT_STD)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=VIT_INIT_STD)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            if isinstance(block, DividedSpaceTimeBlock):
                nn.init.zeros_(block.temporal_fc.weight)
                nn.init.zeros_(block.temporal_fc.bias)

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.input_frames, *self.patch_embed.img_size)
        if x.ndim != 5 or tuple(x.shape[2:]) != expected:
            raise ValueError(
                f"TimeSformer was built for clips (B, 3, {expected[0]}, {expected[1]}, "
                f"{expected[2]}), got {tuple(x.shape)}; rebuild it with num_frames / img_size"
            )

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded tokens, T token frames: (B*T, 1 + N, D) for space-only, else (B, 1 + T * N, D)."""
        b, t = x.shape[0], self.num_frames
        x = self.input_norm(x)
        if isinstance(self.patch_embed, PatchEmbed):
            patches = self.patch_embed(rearrange(x, "b c t h w -> (b t) c h w"))  # (B*T, N, D)
        else:
            patches = self.patch_embed(x)
        patches = patches + self.pos_embed[:, 1:]
        cls = self.cls_token + self.pos_embed[:, :1]  # (1, 1, D)
        if self.attention_type is AttentionType.SPACE:
            return torch.cat([cls.expand(b * t, -1, -1), patches], dim=1)
        patches = rearrange(patches, "(b t) n d -> (b n) t d", b=b) + self.time_embed
        patches = rearrange(patches, "(b n) t d -> b (t n) d", b=b)
        return torch.cat([cls.expand(b, -1, -1), patches], dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> normalised tokens (B, 1 + L, D), class token first.

        L is T * N for the space-time variants and N (frame tokens averaged over time) for
        ``space_only``.
        """
        self._check_input(x)
        b = x.shape[0]
        x = self._tokens(x)
        for block in self.blocks:
            x = block(x)
        if self.attention_type is AttentionType.SPACE:
            x = rearrange(x, "(b t) n d -> b t n d", b=b).mean(1)  # (B, 1 + N, D)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x[:, 0]  # (B, D) class token
        return x if pre_logits else self.head(self.head_drop(x))

    def reset_classifier(self, num_classes: int) -> None:
        self.head = classifier(self.num_features, num_classes)
        self.num_classes = num_classes

    def no_weight_decay(self) -> set[str]:
        names = {"pos_embed", "cls_token"}
        return names | ({"time_embed"} if hasattr(self, "time_embed") else set())


def create_timesformer(
    *,
    num_classes: int,
    num_frames: int = 8,
    crop_size: int = 224,
    patch_size: int = 16,
    embed_dim: int = 768,
    depth: int = 12,
    num_heads: int = 12,
    attention_type: str = AttentionType.DIVIDED.value,
    dropout_rate: float = 0.0,
    drop_path_rate: float = 0.1,
    tubelet_size: int = 1,
    stem_width: int = 0,
    standardize_clips: bool = False,
) -> TimeSformer:
    """Build a TimeSformer (ViT-Base defaults). Named variants live in `vidlab.models.registry`."""
    return TimeSformer(
        num_classes=num_classes,
        num_frames=num_frames,
        img_size=crop_size,
        patch_size=patch_size,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        attention_type=attention_type,
        dropout_rate=dropout_rate,
        drop_path_rate=drop_path_rate,
        tubelet_size=tubelet_size,
        stem_width=stem_width,
        standardize_clips=standardize_clips,
    )
