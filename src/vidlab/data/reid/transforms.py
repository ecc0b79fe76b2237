"""Image loading and augmentation for person Re-ID.

Images are read with OpenCV, converted to RGB and resized to ``(H, W)`` with bilinear
interpolation (``cv2.INTER_LINEAR``), exactly as :func:`vidlab.tracking.encoders.crop_batch` prepares
detection crops for an encoder, so a model sees the same pixels in training, evaluation and
tracking. Augmentations then run on ``(3, H, W)`` uint8 tensors with ``torchvision.transforms.v2``:

- random horizontal flip;
- pad-and-random-crop (zero padding of ``pad`` pixels on each side, then a random ``(H, W)`` crop);
- conversion to float in [0, 1] and per-channel normalisation;
- random erasing (Zhong et al., "Random Erasing Data Augmentation", AAAI 2020): a random
  rectangle of 2-33 % of the image with aspect ratio 0.3-3.3 is set to 0 after normalisation,
  i.e. to the mean colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

#: ImageNet statistics in RGB order, in [0, 1] units.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ERASING_SCALE = (0.02, 0.33)  # erased area, fraction of the image (the paper's s_l, s_h)
ERASING_RATIO = (0.3, 3.3)  # erased aspect ratio (the paper's r_1, 1 / r_1)


def read_rgb(path: str | Path, image_size: Sequence[int] | None = None) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, resized to ``image_size = (H, W)`` when given.

    Raises:
        FileNotFoundError: the file is missing or not a readable image.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: missing or not a readable image")
    if image_size is not None:
        height, width = (int(v) for v in image_size)
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_chw_tensor(rgb: np.ndarray) -> tv_tensors.Image:
    """(H, W, 3) uint8 -> (3, H, W) uint8 image tensor."""
    return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))))


def build_transform(
    image_size: Sequence[int],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    *,
    train: bool,
    flip: bool = True,
    pad: int = 10,
    random_erasing: float = 0.5,
) -> v2.Compose:
    """The transform from a resized (3, H, W) uint8 image to a normalised float32 tensor.

    Args:
        image_size: (height, width) in pixels (the input is already this size).
        mean: per-channel RGB mean in [0, 1] units.
        std: per-channel RGB std in [0, 1] units.
        train: add the augmentations below; False gives resize-free normalisation only.
        flip: random horizontal flip with probability 0.5.
        pad: pixels of zero padding before the random crop back to ``image_size`` (0: none).
        random_erasing: probability of random erasing (0: none).
    """
    steps: list[v2.Transform] = []
    if train:
        if flip:
            steps.append(v2.RandomHorizontalFlip(p=0.5))
        if pad > 0:
            steps += [v2.Pad(pad, fill=0), v2.RandomCrop(tuple(int(v) for v in image_size))]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    if train and random_erasing > 0:
        steps.append(
            v2.RandomErasing(p=random_erasing, scale=ERASING_SCALE, ratio=ERASING_RATIO, value=0)
        )
    return v2.Compose(steps)


def load_reid_images(
    paths: Sequence[str | Path],
    image_size: Sequence[int],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """Person crops as a network input batch (the evaluation preprocessing, no augmentation).

    Args:
        paths: image files.
        image_size: (height, width) in pixels.
        mean: RGB mean in [0, 1] units.
        std: RGB std in [0, 1] units.

    Returns:
        (N, 3, H, W) float32 tensor, normalised RGB.
    """
    if len(paths) == 0:
        raise ValueError("load_reid_images: no paths given")
    transform = build_transform(image_size, mean, std, train=False)
    return torch.stack([transform(to_chw_tensor(read_rgb(p, image_size))) for p in paths])
