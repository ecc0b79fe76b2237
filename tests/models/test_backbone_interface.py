"""The backbone interface on the foundation's models (issue 4 extends this to every registered name)."""

from __future__ import annotations

import pytest
import torch

from vidlab.models.frame2d import FrameBaseline
from vidlab.models.timesformer import create_timesformer
from vidlab.models.x3d import create_x3d

BUILDERS = {
    "x3d": lambda n: create_x3d(num_classes=n, num_frames=4, crop_size=32, width_factor=0.5,
                                depth_factor=0.5, head_dim_out=48),
    "frame2d": lambda n: FrameBaseline(num_classes=n, backbone="resnet10t"),
    "timesformer_tubelet": lambda n: create_timesformer(
        num_classes=n, num_frames=4, crop_size=32, patch_size=8, embed_dim=32, depth=2,
        num_heads=2, tubelet_size=2),
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
    net = create_x3d(num_classes=3, num_frames=4, crop_size=32, width_factor=0.5, depth_factor=0.5,
                     head_dim_out=16, dropout_rate=0.0).train()
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
