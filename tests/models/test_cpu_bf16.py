"""The CPU bf16 workaround for temporal convolutions on short clips (vidlab.models.layers.cpu_bf16)."""

from __future__ import annotations

import torch
from torch import nn

from vidlab.models.layers.cpu_bf16 import guard_temporal_convs


def _weight_grad(conv: nn.Conv3d, x: torch.Tensor, autocast: bool) -> torch.Tensor:
    conv.weight.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = conv(x)
    y.float().pow(2).mean().backward()
    return conv.weight.grad.clone()


def test_guarded_temporal_conv_gets_the_float32_gradient_on_short_clips():
    torch.manual_seed(0)
    conv = nn.Conv3d(64, 64, (3, 1, 1), padding=(1, 0, 0), bias=False)
    x = torch.relu(torch.randn(2, 64, 2, 8, 8))  # 2 frames < temporal kernel 3
    reference = _weight_grad(conv, x, autocast=False)
    assert guard_temporal_convs(nn.Sequential(conv, nn.Conv3d(64, 8, 3))) == 1
    guarded = _weight_grad(conv, x, autocast=True)
    assert torch.isfinite(guarded).all()
    torch.testing.assert_close(guarded, reference, rtol=1e-4, atol=1e-6)


def test_guard_leaves_long_clips_in_bf16():
    conv = nn.Conv3d(8, 8, (3, 1, 1), padding=(1, 0, 0))
    guard_temporal_convs(conv)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.randn(1, 8, 4, 4, 4)).dtype == torch.bfloat16
        assert conv(torch.randn(1, 8, 2, 4, 4)).dtype == torch.float32
    assert conv(torch.randn(1, 8, 2, 4, 4)).dtype == torch.float32  # no autocast: as before
