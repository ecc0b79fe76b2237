"""Detection transforms keep boxes on the pixels they describe."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.detection.transforms import (
    PAD_VALUE,
    TrainAugment,
    clip_boxes,
    hflip,
    letterbox,
    mask_ignore,
    mosaic,
    random_scale_crop,
)

RED, GREEN = (255, 0, 0), (0, 255, 0)


def _sample(h=90, w=160, box=(40, 20, 70, 80), colour=RED):
    image = np.full((h, w, 3), 30, np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = colour
    return {
        "image": image,
        "boxes": np.array([box], np.float32),
        "ignore": np.zeros((0, 4), np.float32),
    }


def _extent(image, colour=RED):
    """xyxy extent of the pixels close to `colour`."""
    ys, xs = np.nonzero(np.abs(image.astype(int) - colour).sum(axis=2) < 60)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def test_letterbox_maps_boxes_and_back():
    sample = _sample()
    out, scale = letterbox(sample, (64, 96))
    assert out["image"].shape == (64, 96, 3)
    assert scale == pytest.approx(0.6)
    np.testing.assert_allclose(out["boxes"][0], _extent(out["image"]), atol=1.0)
    np.testing.assert_allclose(out["boxes"][0] / scale, sample["boxes"][0], atol=1e-4)
    assert (out["image"][55:, :] == PAD_VALUE).all()  # padding at the bottom


@pytest.mark.parametrize("seed", range(6))
def test_random_scale_crop_and_flip_follow_the_pixels(seed):
    rng = np.random.default_rng(seed)
    out = random_scale_crop(_sample(), (64, 96), (0.8, 1.6), rng)
    out = hflip(out)
    if len(out["boxes"]):
        np.testing.assert_allclose(out["boxes"][0], _extent(out["image"]), atol=1.5)
    else:  # mostly cut away: an ignore region, never a silent loss
        assert len(out["ignore"]) == 1


def test_clip_turns_slivers_into_ignore_regions():
    sample = _sample()
    sample["boxes"] = np.array([[150, 10, 190, 50], [10, 10, 40, 50]], np.float32)
    out = clip_boxes(sample, 160, 90)
    np.testing.assert_allclose(out["boxes"], [[10, 10, 40, 50]])
    np.testing.assert_allclose(out["ignore"], [[150, 10, 160, 50]])


def test_mosaic_places_four_images_with_their_boxes():
    rng = np.random.default_rng(0)
    colours = [RED, GREEN, (0, 0, 255), (255, 255, 0)]
    parts = [_sample(colour=c) for c in colours]
    out = mosaic(parts, (128, 192), rng)
    assert out["image"].shape == (128, 192, 3) and len(out["boxes"]) == 4
    for box, colour in zip(out["boxes"], colours, strict=True):
        np.testing.assert_allclose(box, _extent(out["image"], colour), atol=1.5)


def test_mask_ignore_spares_target_pixels():
    sample = _sample()
    sample["ignore"] = np.array([[30, 10, 100, 60]], np.float32)
    out = mask_ignore(sample)
    assert (out["image"][15, 35] == PAD_VALUE).all()  # ignore, not target
    assert tuple(out["image"][30, 50]) == RED  # inside the target box: kept
    assert (out["image"][85, 150] == 30).all()  # elsewhere untouched


def test_train_augment_is_deterministic_in_its_generator():
    aug = TrainAugment(size=(64, 96), mosaic_prob=0.0)
    a = aug(_sample(), np.random.default_rng(3))
    b = aug(_sample(), np.random.default_rng(3))
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["boxes"], b["boxes"])
