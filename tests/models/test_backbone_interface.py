"""The backbone interface on the foundation's models (issue 4 extends this to every registered name)."""

from __future__ import annotations

import pytest
import torch

from vidlab.models.frame2d import FrameBaseline
from vidlab.models.layers.normalization import ClipStandardize
from vidlab.models.timesformer import create_timesformer
from vidlab.models.x3d import create_x3d

BUILDERS = {
    "x3d": lambda n: create_x3d(
        num_classes=n,
        num_frames=4,
        crop_size=32,
        width_factor=0.5,
        depth_factor=0.5,
        head_dim_out=48,
    ),
    "frame2d": lambda n: FrameBaseline(num_classes=n, backbone="resnet10t"),
    "timesformer_tubelet": lambda n: create_timesformer(
        num_classes=n,
        num_frames=4,
        crop_size=32,
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=2,
        tubelet_size=2,
    ),
    "timesformer_stem": lambda n: create_timesformer(
        num_classes=n,
        num_frames=4,
        crop_size=32,
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=2,
        tubelet_size=2,
        stem_width=8,
        standardize_clips=True,
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_interface(name):
    torch.manual_seed(0)
    net = BUILDERS[name](7).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    logits = net(x)
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    feats = net.forward_features(x)
    pre = net.forward_head(feats, pre_logits=True)
    assert pre.shape == (2, net.num_features)
    assert torch.allclose(net.forward_head(feats), logits)
    net.reset_classifier(3)
    assert net(x).shape == (2, 3) and net.num_classes == 3
    net.reset_classifier(0)
    assert net(x).shape == (2, net.num_features)
    assert isinstance(net.no_weight_decay(), set)


def test_x3d_accepts_other_clip_sizes():
    net = BUILDERS["x3d"](5).eval()
    assert net(torch.randn(1, 3, 8, 48, 48)).shape == (1, 5)


def test_frame_baseline_ignores_frame_order():
    torch.manual_seed(0)
    net = BUILDERS["frame2d"](4).eval()
    x = torch.randn(2, 3, 6, 32, 32)
    assert torch.allclose(net(x), net(x.flip(2)), atol=1e-5)


def test_x3d_without_dropout_trains():
    """dropout_rate=0 makes pytorchvideo build no dropout layer at all; the head must cope."""
    net = create_x3d(
        num_classes=3,
        num_frames=4,
        crop_size=32,
        width_factor=0.5,
        depth_factor=0.5,
        head_dim_out=16,
        dropout_rate=0.0,
    ).train()
    logits = net(torch.randn(2, 3, 4, 32, 32))
    logits.sum().backward()
    assert logits.shape == (2, 3) and net.blocks[-1].proj.weight.grad is not None


def test_tubelet_tokens_span_frames():
    """Tubelets of 2 frames: half as many token frames, and a random tubelet kernel sees order."""
    torch.manual_seed(0)
    net = BUILDERS["timesformer_tubelet"](4).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    assert net.forward_features(x).shape == (2, 1 + 2 * 16, 32)
    assert not torch.allclose(net(x), net(x.flip(2)), atol=1e-4)
    with pytest.raises(ValueError, match="multiple of tubelet_size"):
        create_timesformer(num_classes=4, num_frames=5, crop_size=32, tubelet_size=2)


def test_clip_standardize_removes_each_clips_colour_offset_and_scale():
    torch.manual_seed(0)
    x = torch.randn(3, 3, 4, 8, 8)
    y = ClipStandardize()(x)
    std, mean = torch.std_mean(y, dim=(2, 3, 4))
    torch.testing.assert_close(mean, torch.zeros(3, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(std, torch.ones(3, 3))
    # A per-clip, per-channel gain and offset (another background colour, contrast) is undone.
    gain, offset = torch.rand(3, 3, 1, 1, 1) + 0.5, torch.randn(3, 3, 1, 1, 1)
    torch.testing.assert_close(ClipStandardize()(x * gain + offset), y, atol=1e-5, rtol=1e-5)
    # A constant clip stays finite (the scale is floored).
    assert torch.isfinite(ClipStandardize()(torch.ones(1, 3, 2, 4, 4))).all()


def test_standardized_timesformer_ignores_clip_colour():
    torch.manual_seed(0)
    net = BUILDERS["timesformer_stem"](4).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    shifted = x * torch.tensor([1.5, 0.8, 1.2]).view(1, 3, 1, 1, 1) + torch.tensor(
        [0.3, -1.0, 2.0]
    ).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(net(shifted), net(x), atol=1e-5, rtol=1e-4)
    plain = create_timesformer(
        num_classes=4,
        num_frames=4,
        crop_size=32,
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=2,
        tubelet_size=2,
    ).eval()
    with torch.no_grad():
        assert not torch.allclose(plain(shifted), plain(x), atol=1e-3)


@pytest.mark.parametrize(("patch", "tubelet", "frames"), [(8, 2, 4), (4, 1, 3), (16, 4, 8)])
def test_conv_stem_makes_the_linear_embeddings_token_grid(patch, tubelet, frames):
    kwargs = {
        "num_classes": 3,
        "num_frames": frames,
        "crop_size": 32,
        "patch_size": patch,
        "embed_dim": 16,
        "depth": 1,
        "num_heads": 2,
        "tubelet_size": tubelet,
    }
    linear, stem = create_timesformer(**kwargs), create_timesformer(**kwargs, stem_width=4)
    assert stem.patch_embed.num_patches == linear.patch_embed.num_patches
    x = torch.randn(2, 3, frames, 32, 32)
    tokens = 1 + (frames // tubelet) * (32 // patch) ** 2
    assert stem.forward_features(x).shape == linear.forward_features(x).shape == (2, tokens, 16)
    convs = [m for m in stem.patch_embed.proj if isinstance(m, torch.nn.Conv3d)]
    assert len(convs) == patch.bit_length()  # log2(patch) strided convolutions, then a 1x1x1
    with pytest.raises(ValueError, match="power-of-two patch size"):
        create_timesformer(**{**kwargs, "patch_size": 6, "crop_size": 36}, stem_width=4)


@pytest.mark.parametrize("name", ["x3d", "frame2d"])
def test_standardize_clips_option_ignores_clip_colour_and_adds_no_parameters(name):
    builders = {
        "x3d": (
            create_x3d,
            {
                "num_frames": 4,
                "crop_size": 32,
                "width_factor": 0.5,
                "depth_factor": 0.5,
                "head_dim_out": 48,
            },
        ),
        "frame2d": (FrameBaseline, {"backbone": "resnet10t"}),
    }
    build, kwargs = builders[name]
    torch.manual_seed(0)
    net = build(num_classes=4, standardize_clips=True, **kwargs).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    shifted = x * torch.tensor([1.5, 0.8, 1.2]).view(1, 3, 1, 1, 1) + torch.tensor(
        [0.3, -1.0, 2.0]
    ).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(net(shifted), net(x), atol=1e-4, rtol=1e-4)
    plain = build(num_classes=4, **kwargs).eval()
    # Same parameter names: checkpoints load into either variant.
    assert net.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain(shifted), plain(x), atol=1e-3)
