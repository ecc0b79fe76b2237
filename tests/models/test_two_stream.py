"""The two-stream network: backbone interface, late fusion of the two streams, input checks."""

from __future__ import annotations

import pytest
import torch

from vidlab.models.two_stream import FlowNet3D, TwoStream
from vidlab.models.x3d import create_x3d


def _net(num_classes: int = 7, rgb_weight: float = 0.5) -> TwoStream:
    torch.manual_seed(0)
    rgb = create_x3d(
        num_classes=num_classes, num_frames=4, crop_size=32, width_factor=0.5, depth_factor=0.5,
        head_dim_out=48, standardize_clips=True,
    )  # fmt: skip
    flow = FlowNet3D(num_classes=num_classes, widths=(8, 16, 24))
    return TwoStream(rgb=rgb, flow=flow, num_classes=num_classes, rgb_weight=rgb_weight).eval()


def test_interface() -> None:
    net = _net()
    x = torch.randn(2, 5, 4, 32, 32)
    logits = net(x)
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    feats = net.forward_features(x)
    pre = net.forward_head(feats, pre_logits=True)
    assert pre.shape == (2, net.num_features) and net.num_features == 48 + 24
    assert torch.allclose(net.forward_head(feats), logits)
    net.reset_classifier(3)
    assert net(x).shape == (2, 3) and net.num_classes == 3
    net.reset_classifier(0)
    assert net(x).shape == (2, net.num_features)
    assert isinstance(net.no_weight_decay(), set)
    with pytest.raises(ValueError, match="3 RGB"):
        net(torch.randn(2, 3, 4, 32, 32))


def test_late_fusion_of_the_streams() -> None:
    net = _net(rgb_weight=0.25)
    x = torch.randn(2, 5, 4, 32, 32)
    with torch.no_grad():
        expected = 0.25 * net.rgb(x[:, :3]) + 0.75 * net.flow(x[:, 3:])
        assert torch.allclose(net(x), expected, atol=1e-6)
        rgb_only = _net(rgb_weight=1.0)
        other_flow = x.clone()
        other_flow[:, 3:] = torch.randn_like(other_flow[:, 3:])
        assert torch.allclose(rgb_only(x), rgb_only(other_flow))  # flow has no say at w = 1
        assert not torch.allclose(net(x), net(other_flow))
    with pytest.raises(ValueError, match="rgb_weight"):
        _net(rgb_weight=1.5)


@pytest.mark.slow
def test_two_stream_trains_on_synthetic_flow(make_cfg) -> None:
    """`experiment=synthetic_two_stream` on a few clips: one epoch is well above chance (0.25)."""
    from vidlab.tasks import train

    cfg = make_cfg(
        "train",
        [
            "experiment=synthetic_two_stream", "data.train_size=96", "data.val_size=48",
            "data.test_size=16", "trainer.max_epochs=2", "trainer.accelerator=cpu", "seed=0",
        ],
    )  # fmt: skip
    metrics = train.run(cfg)
    assert metrics["val/top1"] >= 0.6
