"""Train / eval clip transforms, RandAugment and Mixup / CutMix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlab.data.transforms.mix import MixOptions, MixupCutmix, smooth_one_hot
from vidlab.data.transforms.video import (
    RandAugmentOptions,
    VideoEvalTransform,
    VideoNormalize,
    VideoTrainTransform,
)


def ramp_frames(frames: int = 4, height: int = 48, width: int = 64) -> torch.Tensor:
    """uint8 (T, H, W, 3): red = frame index * 40, green rising left to right, blue = row."""
    video = torch.zeros(frames, height, width, 3, dtype=torch.uint8)
    video[..., 0] = (torch.arange(frames) * 40).view(-1, 1, 1).to(torch.uint8)
    video[..., 1] = torch.linspace(0, 255, width).to(torch.uint8)
    video[..., 2] = torch.linspace(0, 255, height).to(torch.uint8).view(-1, 1)
    return video


def mirrored(clip: torch.Tensor) -> bool:
    """For (T, C, H, W) uint8: is the green ramp falling from left to right?"""
    green = clip[:, 1].float()
    return bool(green[..., :8].mean() > green[..., -8:].mean())


@pytest.mark.parametrize("crop", ["random_resized", "scale_jitter"])
def test_train_transform_output_and_determinism(crop):
    transform = VideoTrainTransform(crop_size=32, crop=crop, jitter_scales=(36, 44))
    frames = ramp_frames()
    out = transform(frames, np.random.default_rng(3))
    assert out.shape == (4, 3, 32, 32) and out.dtype == torch.uint8
    torch.testing.assert_close(out, transform(frames, np.random.default_rng(3)))
    # Frame order and per-frame colour survive: red still encodes the frame index.
    assert out[:, 0].float().mean((1, 2)).round().tolist() == [0.0, 40.0, 80.0, 120.0]


def test_flip_can_be_switched_off():
    frames = ramp_frames()
    with_flip = VideoTrainTransform(crop_size=32, horizontal_flip=True)
    without = VideoTrainTransform(crop_size=32, horizontal_flip=False)
    flips = [mirrored(with_flip(frames, np.random.default_rng(s))) for s in range(40)]
    assert 5 < sum(flips) < 35
    assert not any(mirrored(without(frames, np.random.default_rng(s))) for s in range(40))


def test_eval_transform_three_crops_cover_the_long_side():
    frames = ramp_frames(height=48, width=96)
    transform = VideoEvalTransform(crop_size=24, short_side=24, num_spatial_views=3)
    assert transform.num_views == 3
    views = [transform(frames, v) for v in range(3)]
    assert all(v.shape == (4, 3, 24, 24) for v in views)
    greens = [v[:, 1].float().mean().item() for v in views]
    assert greens[0] < greens[1] < greens[2]  # left, centre, right
    centre = VideoEvalTransform(crop_size=24, short_side=24)(frames, 0)
    torch.testing.assert_close(centre, views[1])
    with pytest.raises(IndexError, match="spatial view 3"):
        transform(frames, 3)
    with pytest.raises(ValueError, match="num_spatial_views must be 1 or 3, got 2"):
        VideoEvalTransform(crop_size=24, short_side=24, num_spatial_views=2)


def test_randaugment_is_seeded_per_clip():
    transform = VideoTrainTransform(crop_size=32, randaugment=RandAugmentOptions(prob=1.0))
    frames = ramp_frames()
    outs = [transform(frames, np.random.default_rng(s)) for s in range(6)]
    plain = VideoTrainTransform(crop_size=32)
    assert any(
        not torch.equal(o, plain(frames, np.random.default_rng(s))) for s, o in enumerate(outs)
    )
    torch.testing.assert_close(outs[2], transform(frames, np.random.default_rng(2)))
    state = torch.random.get_rng_state()
    transform(frames, np.random.default_rng(0))
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator is untouched


def test_normalize_packs_slowfast_pathways():
    clips = torch.randint(0, 256, (2, 8, 3, 16, 16), dtype=torch.uint8)
    slow, fast = VideoNormalize(slowfast_alpha=4)(clips)
    assert slow.shape == (2, 3, 2, 16, 16) and fast.shape == (2, 3, 8, 16, 16)
    plain = VideoNormalize()(clips)
    torch.testing.assert_close(fast, plain)


def test_smooth_one_hot_rows():
    target = smooth_one_hot(torch.tensor([0, 2]), 4, 0.2)
    torch.testing.assert_close(target.sum(1), torch.ones(2))
    assert target[0].tolist() == pytest.approx([0.85, 0.05, 0.05, 0.05])


def test_mixup_blends_each_clip_with_its_partner():
    video = torch.rand(4, 3, 2, 8, 8)
    labels = torch.tensor([0, 1, 2, 3])
    mix = MixupCutmix(4, MixOptions(mixup_alpha=1.0, cutmix_alpha=0.0, label_smoothing=0.0))
    mixed, target = mix(video.clone(), labels, np.random.default_rng(0))
    lam = target[0, 0].item()  # clip 0 keeps weight lam of its own label, 1 - lam of clip 3's
    assert 0.0 < lam < 1.0 and target[0, 3].item() == pytest.approx(1 - lam)
    torch.testing.assert_close(mixed, lam * video + (1 - lam) * video.flip(0))
    again, _ = mix(video.clone(), labels, np.random.default_rng(0))
    torch.testing.assert_close(again, mixed)
    torch.testing.assert_close(target.sum(1), torch.ones(4))


def test_cutmix_pastes_one_box_and_weights_labels_by_area():
    video = torch.zeros(2, 3, 2, 16, 16)
    video[1] = 1.0
    mix = MixupCutmix(2, MixOptions(mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0))
    mixed, target = mix(video.clone(), torch.tensor([0, 1]), np.random.default_rng(4))
    pasted = mixed[0, 0, 0]  # clip 0 received a box of clip 1 (all ones)
    kept = 1.0 - pasted.mean().item()
    assert target[0, 0].item() == pytest.approx(kept)
    assert torch.equal(mixed[0, :, 0], mixed[0, :, 1])  # the same box in every frame
    torch.testing.assert_close(target.sum(1), torch.ones(2))


def test_mix_options_reject_bad_values():
    with pytest.raises(ValueError, match="both 0"):
        MixOptions(mixup_alpha=0.0, cutmix_alpha=0.0)
    with pytest.raises(ValueError, match="prob must be in \\[0, 1\\], got 2"):
        MixOptions(prob=2)
