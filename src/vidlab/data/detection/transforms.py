"""Detection transforms that keep the boxes right.

Samples are dicts ``{"image": (H, W, 3) uint8 RGB, "boxes": (N, 4) float32 xyxy, "ignore": (M, 4)
float32 xyxy}``; every geometric transform maps both box sets with the pixels. A box cut by a crop
keeps its visible part when at least `MIN_KEPT_FRACTION` of its area stays in view, else it turns
into an ignore region (a sliver of a person is neither a person to find nor background).

Letterboxing (the evaluation and inference resize) scales the image to fit ``(H, W)`` keeping its
aspect ratio and pads on the right and bottom, so a box maps back to the original image by dividing
by the scale (`letterbox` returns it). Ignore regions are masked in training images
(`mask_ignore`: their pixels outside every target box get the pad colour), so a detector is never
taught that a person in an ignore region is background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: Pad colour of letterboxing and of masked ignore regions (RGB, as YOLO's grey).
PAD_VALUE = 114
#: A cropped box stays a target when at least this fraction of its area stays in view.
MIN_KEPT_FRACTION = 0.5
_MIN_SIDE = 1.0

Sample = dict[str, Any]


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def _affine_boxes(boxes: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    return (boxes * scale + np.array([dx, dy, dx, dy], np.float32)).astype(np.float32)


def clip_boxes(sample: Sample, width: int, height: int) -> Sample:
    """Clip boxes to the image; targets left with < `MIN_KEPT_FRACTION` of their area (or under a
    pixel wide) become ignore regions, empty ignore regions are dropped."""
    limits = np.array([width, height, width, height], np.float32)
    boxes = sample["boxes"]
    clipped = np.clip(boxes, 0, limits)
    kept = _area(clipped) / np.maximum(_area(boxes), 1e-6)
    sides_ok = np.minimum(clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]) >= _MIN_SIDE
    good = (kept >= MIN_KEPT_FRACTION) & sides_ok
    ignore = np.concatenate(
        [np.clip(sample["ignore"], 0, limits), clipped[~good & (_area(clipped) > 0)]]
    )
    ignore = ignore[_area(ignore) > 0]
    return {**sample, "boxes": clipped[good], "ignore": ignore.astype(np.float32)}


def letterbox(
    sample: Sample, size: tuple[int, int], pad_value: int = PAD_VALUE
) -> tuple[Sample, float]:
    """Resize to fit ``size = (H, W)`` keeping the aspect ratio, pad right/bottom; returns the
    sample and the scale (original = letterboxed / scale)."""
    image = sample["image"]
    h, w = image.shape[:2]
    out_h, out_w = size
    scale = min(out_h / h, out_w / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = np.full((out_h, out_w, 3), pad_value, np.uint8)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=interp)
    out = {
        **sample,
        "image": canvas,
        "boxes": _affine_boxes(sample["boxes"], scale, 0, 0),
        "ignore": _affine_boxes(sample["ignore"], scale, 0, 0),
    }
    return clip_boxes(out, out_w, out_h), scale


def random_scale_crop(
    sample: Sample,
    size: tuple[int, int],
    scale_range: tuple[float, float],
    rng: np.random.Generator,
    pad_value: int = PAD_VALUE,
) -> Sample:
    """Scale by (letterbox scale x a factor drawn from `scale_range`), then cut a ``size`` window at
    a random place (padding where the scaled image is smaller)."""
    image = sample["image"]
    h, w = image.shape[:2]
    out_h, out_w = size
    scale = min(out_h / h, out_w / w) * float(rng.uniform(*scale_range))
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    # Offset of the resized image in the output window (negative: the window starts inside it).
    dx = int(rng.integers(min(0, out_w - new_w), max(0, out_w - new_w) + 1))
    dy = int(rng.integers(min(0, out_h - new_h), max(0, out_h - new_h) + 1))
    canvas = np.full((out_h, out_w, 3), pad_value, np.uint8)
    src_x, src_y = max(0, -dx), max(0, -dy)
    dst_x, dst_y = max(0, dx), max(0, dy)
    cw, ch = min(new_w - src_x, out_w - dst_x), min(new_h - src_y, out_h - dst_y)
    canvas[dst_y : dst_y + ch, dst_x : dst_x + cw] = resized[src_y : src_y + ch, src_x : src_x + cw]
    out = {
        **sample,
        "image": canvas,
        "boxes": _affine_boxes(sample["boxes"], scale, dx, dy),
        "ignore": _affine_boxes(sample["ignore"], scale, dx, dy),
    }
    return clip_boxes(out, out_w, out_h)


def hflip(sample: Sample) -> Sample:
    """Mirror left-right."""
    w = sample["image"].shape[1]

    def flip(boxes: np.ndarray) -> np.ndarray:
        return np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1).astype(
            np.float32
        )

    return {
        **sample,
        "image": np.ascontiguousarray(sample["image"][:, ::-1]),
        "boxes": flip(sample["boxes"]),
        "ignore": flip(sample["ignore"]),
    }


def colour_jitter(
    sample: Sample,
    rng: np.random.Generator,
    *,
    brightness: float = 0.3,
    contrast: float = 0.3,
    saturation: float = 0.3,
    hue: float = 0.02,
) -> Sample:
    """Random brightness, contrast, saturation (factors in ``[1 - x, 1 + x]``) and hue shift
    (fraction of the hue circle in ``[-hue, hue]``); boxes unchanged."""
    image = sample["image"].astype(np.float32)
    image *= rng.uniform(1 - brightness, 1 + brightness)
    mean = image.mean()
    image = (image - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
    grey = image.mean(axis=2, keepdims=True)
    image = (image - grey) * rng.uniform(1 - saturation, 1 + saturation) + grey
    image = np.clip(image, 0, 255).astype(np.uint8)
    if hue > 0:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        shift = int(round(rng.uniform(-hue, hue) * 180))
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
        image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return {**sample, "image": image}


def mask_ignore(sample: Sample, pad_value: int = PAD_VALUE) -> Sample:
    """Paint ignore regions with the pad colour, except where a target box lies."""
    if not len(sample["ignore"]):
        return sample
    h, w = sample["image"].shape[:2]
    mask = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in np.round(sample["ignore"]).astype(int):
        mask[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = True
    for x1, y1, x2, y2 in np.round(sample["boxes"]).astype(int):
        mask[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = False
    image = sample["image"].copy()
    image[mask] = pad_value
    return {**sample, "image": image}


def mosaic(
    samples: list[Sample],
    size: tuple[int, int],
    rng: np.random.Generator,
    pad_value: int = PAD_VALUE,
) -> Sample:
    """Four samples in the four quadrants around a random centre of a ``size`` canvas, each
    letterboxed into its quadrant towards the centre."""
    if len(samples) != 4:
        raise ValueError(f"mosaic needs 4 samples, got {len(samples)}")
    out_h, out_w = size
    cx = int(rng.uniform(0.3, 0.7) * out_w)
    cy = int(rng.uniform(0.3, 0.7) * out_h)
    canvas = np.full((out_h, out_w, 3), pad_value, np.uint8)
    boxes, ignore = [], []
    cells = [(0, 0, cx, cy), (cx, 0, out_w, cy), (0, cy, cx, out_h), (cx, cy, out_w, out_h)]
    for k, (sample, (x0, y0, x1, y1)) in enumerate(zip(samples, cells, strict=True)):
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        part, scale = letterbox(sample, (y1 - y0, x1 - x0), pad_value)
        h, w = sample["image"].shape[:2]
        used_w, used_h = max(1, round(w * scale)), max(1, round(h * scale))
        # Letterboxing pads right/bottom: left and top cells move their content to the centre.
        dx = x0 + ((x1 - x0) - used_w if k in (0, 2) else 0)
        dy = y0 + ((y1 - y0) - used_h if k in (0, 1) else 0)
        canvas[dy : dy + used_h, dx : dx + used_w] = part["image"][:used_h, :used_w]
        boxes.append(_affine_boxes(part["boxes"], 1.0, dx, dy))
        ignore.append(_affine_boxes(part["ignore"], 1.0, dx, dy))
    out = {
        "image": canvas,
        "boxes": np.concatenate([np.zeros((0, 4)), *boxes]).astype(np.float32),
        "ignore": np.concatenate([np.zeros((0, 4)), *ignore]).astype(np.float32),
    }
    return clip_boxes(out, out_w, out_h)


@dataclass(frozen=True)
class TrainAugment:
    """The training pipeline: random scale + crop to ``size``, horizontal flip, colour jitter, and
    the ignore mask. ``mosaic_prob`` is applied by the dataset (it needs four images).

    Attributes:
        size: (H, W) output size.
        scale_range: factor on the letterbox scale.
        flip_prob: probability of a horizontal flip.
        jitter: brightness/contrast/saturation amplitude (0: off).
        hue: hue shift amplitude (fraction of the hue circle).
        mosaic_prob: probability of a 4-image mosaic instead of one image.
        mask_ignore: paint ignore regions (see `mask_ignore`).
    """

    size: tuple[int, int]
    scale_range: tuple[float, float] = (0.6, 1.5)
    flip_prob: float = 0.5
    jitter: float = 0.3
    hue: float = 0.02
    mosaic_prob: float = 0.0
    mask_ignore: bool = True

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        sample = random_scale_crop(sample, self.size, self.scale_range, rng)
        return self.finish(sample, rng)

    def finish(self, sample: Sample, rng: np.random.Generator) -> Sample:
        """Flip, jitter and mask (after the geometric step, single image or mosaic)."""
        if rng.random() < self.flip_prob:
            sample = hflip(sample)
        if self.jitter > 0 or self.hue > 0:
            sample = colour_jitter(
                sample,
                rng,
                brightness=self.jitter,
                contrast=self.jitter,
                saturation=self.jitter,
                hue=self.hue,
            )
        return mask_ignore(sample) if self.mask_ignore else sample
