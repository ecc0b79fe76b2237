"""Functional video transforms on torch tensors.

Frames arrive from the decoders as uint8 (T, H, W, C). `to_tchw` views them as (T, C, H, W)
without copying (the memory stays channels-last, which torchvision's uint8 resize kernels are
fastest on); geometry is done on uint8, and `normalize_video` converts to the float32
(C, T, H, W) layout the models take, in one pass. Crop boxes are computed separately from the
pixels (`*_box` functions) so that random decisions come from an explicit generator and can be
tested without images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import functional as TF

# Inception-style random resized crop defaults (torchvision, pytorchvideo, timm).
RRC_SCALE = (0.08, 1.0)
RRC_RATIO = (3.0 / 4.0, 4.0 / 3.0)
# Tries at drawing a box that fits before falling back to a central crop (torchvision uses 10).
RRC_ATTEMPTS = 10


@dataclass(frozen=True)
class Box:
    """A crop box in pixels: rows [top, top + height), columns [left, left + width)."""

    top: int
    left: int
    height: int
    width: int

    def check_inside(self, height: int, width: int) -> None:
        """Raise ValueError when the box is empty or leaves a height x width frame."""
        if (
            self.height < 1
            or self.width < 1
            or self.top < 0
            or self.left < 0
            or self.top + self.height > height
            or self.left + self.width > width
        ):
            raise ValueError(f"crop {self} does not fit a {height}x{width} frame")


def to_tchw(frames: torch.Tensor) -> torch.Tensor:
    """View uint8 (T, H, W, C) frames as (T, C, H, W) without copying."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames (T, H, W, 3), got shape {tuple(frames.shape)}")
    return frames.permute(0, 3, 1, 2)


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) with the short side scaled to `short_side`, the long side floored
    (the rounding pytorchvideo's `short_side_scale` uses)."""
    if height <= width:
        return short_side, int(math.floor(width * short_side / height))
    return int(math.floor(height * short_side / width)), short_side


def short_side_resize(video: torch.Tensor, short_side: int) -> torch.Tensor:
    """Resize (..., H, W) so its short side is `short_side` (bilinear, antialiased)."""
    size = short_side_size(video.shape[-2], video.shape[-1], short_side)
    if size == tuple(video.shape[-2:]):
        return video
    return TF.resize(video, list(size), antialias=True)


def resized_crop(video: torch.Tensor, box: Box, size: tuple[int, int]) -> torch.Tensor:
    """Crop `box` from (..., H, W) and resize it to `size` (height, width) in one interpolation."""
    box.check_inside(video.shape[-2], video.shape[-1])
    crop = video[..., box.top : box.top + box.height, box.left : box.left + box.width]
    if (box.height, box.width) == tuple(size):
        return crop
    return TF.resize(crop, list(size), antialias=True)


def crop(video: torch.Tensor, box: Box) -> torch.Tensor:
    """Crop `box` from (..., H, W) (a view, no copy)."""
    box.check_inside(video.shape[-2], video.shape[-1])
    return video[..., box.top : box.top + box.height, box.left : box.left + box.width]


def random_resized_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    scale: Sequence[float] = RRC_SCALE,
    ratio: Sequence[float] = RRC_RATIO,
) -> Box:
    """Inception-style box: area fraction in `scale`, aspect ratio (w / h) log-uniform in `ratio`.

    Same sampling as torchvision's RandomResizedCrop.get_params, drawn from `rng`.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(RRC_ATTEMPTS):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return Box(top, left, h, w)
    # Fallback: the largest central box whose aspect ratio is within `ratio`.
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return Box((height - h) // 2, (width - w) // 2, h, w)


def scale_jitter_box(
    height: int, width: int, rng: np.random.Generator, short_side_range: Sequence[int], size: int
) -> Box:
    """Box equivalent to "resize the short side to s ~ U{short_side_range}, random size x size
    crop" (PySlowFast / X3D training), expressed in source pixels so one resize does both."""
    short = int(rng.integers(short_side_range[0], short_side_range[1] + 1))
    side = min(int(round(size * min(height, width) / short)), height, width)
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    return Box(top, left, side, side)


def uniform_crop_box(height: int, width: int, size: int, position: int) -> Box:
    """Square crop of `size` at position 0/1/2 along the long side (start, centre, end);
    position 1 is the centre crop. Offsets round like pytorchvideo's `uniform_crop`."""
    if position not in (0, 1, 2):
        raise ValueError(f"crop position must be 0, 1 or 2, got {position}")
    if size > min(height, width):
        raise ValueError(f"crop size {size} larger than the {height}x{width} frame")
    top = int(math.ceil((height - size) / 2))
    left = int(math.ceil((width - size) / 2))
    if height > width:
        top = {0: 0, 1: top, 2: height - size}[position]
    else:
        left = {0: 0, 1: left, 2: width - size}[position]
    return Box(top, left, size, size)


def hflip(video: torch.Tensor) -> torch.Tensor:
    """Mirror (..., H, W) left to right."""
    return video.flip(-1)


def normalization_constants(
    mean: Sequence[float], std: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift), each (3, 1, 1, 1), with uint8 x -> x * scale - shift == (x/255 - mean)/std."""
    mean_t = torch.as_tensor(mean, dtype=torch.float32)
    std_t = torch.as_tensor(std, dtype=torch.float32)
    if mean_t.shape != (3,) or std_t.shape != (3,) or bool((std_t <= 0).any()):
        raise ValueError(f"mean and std must be 3 values (std > 0), got mean={mean}, std={std}")
    return (1.0 / (255.0 * std_t)).view(3, 1, 1, 1), (mean_t / std_t).view(3, 1, 1, 1)


def normalize_video(video: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """uint8 (..., T, C, H, W) -> normalised float32 (..., C, T, H, W), contiguous, same device.

    Args:
        video: uint8 clip (T, C, H, W) or batch (B, T, C, H, W), any memory layout.
        scale, shift: (3, 1, 1, 1) from `normalization_constants` (moved to video's device).
    """
    *lead, t, c, h, w = video.shape
    out = torch.empty((*lead, c, t, h, w), dtype=torch.float32, device=video.device)
    out.copy_(video.transpose(-4, -3))  # (..., C, T, H, W); the uint8 -> float cast happens here
    scale, shift = scale.to(video.device), shift.to(video.device)
    return out.mul_(scale).sub_(shift)


def pack_pathways(video: torch.Tensor, alpha: int) -> list[torch.Tensor]:
    """SlowFast input [slow, fast] from a clip (C, T, H, W) or batch (B, C, T, H, W).

    The slow pathway takes T // alpha frames evenly spaced over the clip (PySlowFast's
    PackPathway: linspace over [0, T - 1]); the fast pathway is the input.
    """
    frames = video.shape[-3]
    if alpha < 1 or frames < alpha:
        raise ValueError(f"alpha={alpha} needs 1 <= alpha <= T, clip has T={frames}")
    index = torch.linspace(0, frames - 1, frames // alpha, device=video.device).long()
    return [video.index_select(-3, index), video]
