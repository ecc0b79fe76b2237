"""Functional transforms: crop geometry against pytorchvideo, normalisation, pathway packing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlab.data.transforms import functional as F
from vidlab.data.transforms._compat import import_pytorchvideo_transforms


def pytorchvideo_functional():
    import_pytorchvideo_transforms()  # installs the torchvision alias first
    import pytorchvideo.transforms.functional as pvf

    return pvf


@pytest.mark.parametrize(("height", "width"), [(48, 64), (64, 48), (40, 40), (257, 341)])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_uniform_crops_match_pytorchvideo(height, width, position):
    video = torch.rand(3, 2, height, width)  # (C, T, H, W), as pytorchvideo takes it
    size = min(height, width) - 7
    box = F.uniform_crop_box(height, width, size, position)
    ours = F.crop(video, box)
    theirs = pytorchvideo_functional().uniform_crop(video, size, position)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


@pytest.mark.parametrize(("height", "width"), [(240, 320), (320, 240), (256, 340), (272, 640)])
def test_short_side_size_matches_pytorchvideo(height, width):
    video = torch.rand(3, 1, height, width)
    expected = pytorchvideo_functional().short_side_scale(video, 224).shape[-2:]
    assert F.short_side_size(height, width, 224) == tuple(expected)
    assert F.short_side_resize(video.transpose(0, 1), 224).shape[-2:] == expected


def test_random_resized_crop_boxes_follow_their_ranges():
    rng = np.random.default_rng(0)
    scale, ratio = (0.08, 1.0), (3 / 4, 4 / 3)
    for _ in range(500):
        box = F.random_resized_crop_box(120, 160, rng, scale, ratio)
        box.check_inside(120, 160)
        area = box.height * box.width / (120 * 160)
        assert 0.07 <= area <= 1.01  # rounding to whole pixels
        assert 0.7 <= box.width / box.height <= 1.4
    first = F.random_resized_crop_box(120, 160, np.random.default_rng(5))
    assert first == F.random_resized_crop_box(120, 160, np.random.default_rng(5))


def test_random_resized_crop_falls_back_to_a_central_box():
    # A frame 100x too wide: no box with aspect in [3/4, 4/3] and 8-100 % of the area fits.
    box = F.random_resized_crop_box(10, 1000, np.random.default_rng(0))
    assert box == F.Box(0, (1000 - 13) // 2, 10, 13)


def test_scale_jitter_box_is_the_crop_of_a_rescaled_frame():
    rng = np.random.default_rng(0)
    sides = set()
    for _ in range(200):
        box = F.scale_jitter_box(256, 340, rng, (256, 320), 224)
        box.check_inside(256, 340)
        assert box.height == box.width
        sides.add(box.height)
    # a 224 crop of a frame whose short side was scaled to s in [256, 320] spans 224 * 256 / s
    # source pixels
    assert sides <= {round(224 * 256 / s) for s in range(256, 321)}
    assert 224 in sides and len(sides) > 20


def test_crop_outside_the_frame_is_an_error():
    with pytest.raises(ValueError, match="does not fit a 10x10 frame"):
        F.crop(torch.zeros(1, 3, 10, 10), F.Box(5, 5, 6, 6))


def test_normalize_video_matches_the_formula_and_layout():
    video = torch.randint(0, 256, (2, 4, 3, 5, 6), dtype=torch.uint8)  # (B, T, C, H, W)
    mean, std = (0.1, 0.5, 0.9), (0.2, 0.3, 0.4)
    out = F.normalize_video(video, *F.normalization_constants(mean, std))
    assert out.shape == (2, 3, 4, 5, 6) and out.dtype == torch.float32 and out.is_contiguous()
    expected = (
        video.permute(0, 2, 1, 3, 4).float() / 255 - torch.tensor(mean).view(3, 1, 1, 1)
    ) / (torch.tensor(std).view(3, 1, 1, 1))
    torch.testing.assert_close(out, expected)
    single = F.normalize_video(video[0], *F.normalization_constants(mean, std))
    torch.testing.assert_close(single, expected[0])
    with pytest.raises(ValueError, match="std > 0"):
        F.normalization_constants(mean, (0.1, 0.0, 0.1))


def test_pack_pathways_subsamples_the_slow_pathway():
    video = torch.arange(16, dtype=torch.float32).view(1, 1, 16, 1, 1).expand(2, 3, 16, 2, 2)
    slow, fast = F.pack_pathways(video, alpha=4)
    assert fast is video
    assert slow.shape == (2, 3, 4, 2, 2)
    assert slow[0, 0, :, 0, 0].tolist() == [0.0, 5.0, 10.0, 15.0]  # linspace(0, 15, 4)
    with pytest.raises(ValueError, match="alpha=32"):
        F.pack_pathways(video, alpha=32)
