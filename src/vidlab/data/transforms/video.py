"""Train and eval transforms, in two stages.

Per clip, in the DataLoader workers, on uint8 (`VideoTrainTransform`, `VideoEvalTransform`):
decoded frames (T, H, W, C) -> cropped uint8 clip (T, C, crop, crop).

* Training: a random crop resized to crop_size (Inception-style random resized crop, or the
  PySlowFast short-side scale jitter + random crop, both in one interpolation), horizontal flip
  (switch it off for datasets whose labels depend on direction, such as Something-Something),
  optional RandAugment.
* Evaluation: short-side resize to `short_side`, then the centre crop or one of three crops
  along the long side (the spatial views of multi-view testing).

Per batch, where the batch is used (`VideoNormalize`, on the GPU when training on one):
uint8 (B, T, C, H, W) -> normalised float32 (B, C, T, H, W), optionally packed into SlowFast
pathways. Workers thus ship uint8 clips, a quarter of the bytes of float32, and spend their time
decoding (the float conversion is the costliest per-pixel step after decoding); timm's
prefetching loader splits the work the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch

from vidlab.data.transforms import functional as F

# Spatial views of multi-view testing: 1 = centre crop, 3 = start / centre / end of the long side.
CENTER_POSITION = 1
SPATIAL_VIEW_POSITIONS = {1: (CENTER_POSITION,), 3: (0, 1, 2)}


class TrainCrop(str, Enum):
    """How training crops are drawn."""

    RANDOM_RESIZED = "random_resized"  # Inception-style area and aspect jitter (MViT, VideoMAE)
    SCALE_JITTER = "scale_jitter"  # short side ~ U[min, max], square random crop (SlowFast, X3D)


@dataclass(frozen=True)
class RandAugmentOptions:
    """pytorchvideo's video RandAugment (the same ops and magnitude on every frame).

    Attributes:
        magnitude: operation strength, 0..10.
        num_layers: operations applied per clip.
        prob: probability of applying each chosen operation.
    """

    magnitude: int = 9
    num_layers: int = 2
    prob: float = 0.5


class VideoRandAugment:
    """RandAugment on uint8 (T, C, H, W), seeded per clip so results do not depend on workers."""

    def __init__(self, options: RandAugmentOptions) -> None:
        from vidlab.data.transforms._compat import import_pytorchvideo_transforms

        transforms = import_pytorchvideo_transforms()
        self._op = transforms.RandAugment(
            magnitude=options.magnitude, num_layers=options.num_layers, prob=options.prob
        )

    def __call__(self, video: torch.Tensor, seed: int) -> torch.Tensor:
        # pytorchvideo draws from torch's global generator: fork it so the caller's is untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._op(video)


class VideoNormalize:
    """uint8 clips (..., T, C, H, W) -> normalised float32 (..., C, T, H, W) (or [slow, fast]).

    Args:
        mean, std: per-channel normalisation in 0..1 intensity units.
        slowfast_alpha: return [slow, fast] pathways with this frame-rate ratio, or None.
    """

    def __init__(
        self,
        mean: Sequence[float] = (0.45, 0.45, 0.45),
        std: Sequence[float] = (0.225, 0.225, 0.225),
        slowfast_alpha: int | None = None,
    ) -> None:
        self.scale, self.shift = F.normalization_constants(mean, std)
        self.slowfast_alpha = slowfast_alpha

    def __call__(self, video: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        out = F.normalize_video(video, self.scale, self.shift)  # (..., C, T, H, W)
        return F.pack_pathways(out, self.slowfast_alpha) if self.slowfast_alpha else out


class VideoTrainTransform:
    """Random crop, flip and optional RandAugment on uint8 clips (see the module docstring).

    Args:
        crop_size: output height and width in pixels.
        crop: "random_resized" or "scale_jitter".
        rrc_scale: area fraction range of random resized crops.
        rrc_ratio: aspect ratio (w / h) range of random resized crops.
        jitter_scales: (min, max) short side in pixels for scale jitter.
        horizontal_flip: flip with probability 0.5 (False for direction-dependent labels).
        randaugment: RandAugment settings, or None.
    """

    def __init__(
        self,
        *,
        crop_size: int,
        crop: str = TrainCrop.RANDOM_RESIZED.value,
        rrc_scale: Sequence[float] = F.RRC_SCALE,
        rrc_ratio: Sequence[float] = F.RRC_RATIO,
        jitter_scales: Sequence[int] = (256, 320),
        horizontal_flip: bool = True,
        randaugment: RandAugmentOptions | None = None,
    ) -> None:
        self.crop_size = crop_size
        self.crop = TrainCrop(crop)
        self.rrc_scale, self.rrc_ratio = tuple(rrc_scale), tuple(rrc_ratio)
        self.jitter_scales = tuple(int(s) for s in jitter_scales)
        if (
            self.crop is TrainCrop.SCALE_JITTER
            and not crop_size <= self.jitter_scales[0] <= self.jitter_scales[1]
        ):
            raise ValueError(
                f"jitter_scales {self.jitter_scales} must satisfy crop_size "
                f"({crop_size}) <= min <= max"
            )
        self.horizontal_flip = horizontal_flip
        self.randaugment = VideoRandAugment(randaugment) if randaugment else None

    def decode_short_side(self) -> int | None:
        """Short side frames can be decoded at without losing pixels this transform uses."""
        return self.jitter_scales[1] if self.crop is TrainCrop.SCALE_JITTER else None

    def __call__(self, frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> uint8 (T, 3, crop, crop); random choices drawn from `rng`."""
        video = F.to_tchw(frames)  # (T, C, H, W), channels-last memory
        height, width = video.shape[-2:]
        if self.crop is TrainCrop.SCALE_JITTER:
            box = F.scale_jitter_box(height, width, rng, self.jitter_scales, self.crop_size)
        else:
            box = F.random_resized_crop_box(height, width, rng, self.rrc_scale, self.rrc_ratio)
        video = F.resized_crop(video, box, (self.crop_size, self.crop_size))
        if self.horizontal_flip and rng.uniform() < 0.5:
            video = F.hflip(video)
        if self.randaugment is not None:
            video = self.randaugment(video, int(rng.integers(0, 2**31 - 1)))
        return video


class VideoEvalTransform:
    """Short-side resize and centre (or one of three) crops; deterministic.

    Args:
        crop_size: output height and width in pixels.
        short_side: short side in pixels after resizing (>= crop_size).
        num_spatial_views: 1 (centre crop) or 3 (start, centre, end of the long side).
    """

    def __init__(
        self,
        *,
        crop_size: int,
        short_side: int,
        num_spatial_views: int = 1,
    ) -> None:
        if num_spatial_views not in SPATIAL_VIEW_POSITIONS:
            raise ValueError(f"num_spatial_views must be 1 or 3, got {num_spatial_views}")
        if short_side < crop_size:
            raise ValueError(f"short_side {short_side} must be >= crop_size {crop_size}")
        self.crop_size = crop_size
        self.short_side = short_side
        self.positions = SPATIAL_VIEW_POSITIONS[num_spatial_views]

    @property
    def num_views(self) -> int:
        return len(self.positions)

    def decode_short_side(self) -> int:
        return self.short_side

    def __call__(self, frames: torch.Tensor, view: int = 0) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> uint8 (T, 3, crop, crop), spatial view `view`."""
        if not 0 <= view < self.num_views:
            raise IndexError(f"spatial view {view} out of range for {self.num_views} views")
        video = F.short_side_resize(F.to_tchw(frames), self.short_side)  # (T, C, H', W')
        height, width = video.shape[-2:]
        box = F.uniform_crop_box(height, width, self.crop_size, self.positions[view])
        return F.crop(video, box)
