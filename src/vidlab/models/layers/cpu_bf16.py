"""Workaround for a PyTorch CPU bug in bf16 autocast: temporal convolutions on short clips.

Measured on torch 2.14.1 (CPU, oneDNN): under ``torch.autocast("cpu", dtype=torch.bfloat16)`` the
weight gradient of a dense ``nn.Conv3d`` whose kernel is temporal only, ``(k, 1, 1)`` with
``k > 1``, is wrong when the input has fewer than ``k`` frames: NaN, values around 1e35, or just
wrong (a (5, 1, 1) kernel on 2 frames: 0.0075 instead of 0.011). The forward pass and the input
gradient are right; dense 3x3x3 and depthwise kernels are unaffected. R(2+1)D hits it at every
clip length, because its temporal strides bring some stage down to 2 frames (the Kinetics recipe
trains NaN after one step on the CPU).

`guard_temporal_convs` makes exactly those convolutions compute in float32 on such inputs, and
only under CPU autocast; everything else keeps running in bf16. The Lightning module applies it
at fit start when the run trains in bf16 on the CPU.
"""

from __future__ import annotations

import types

import torch
from torch import nn


def _affected(conv: nn.Conv3d) -> bool:
    kt, kh, kw = conv.kernel_size
    return kt > 1 and kh == 1 and kw == 1 and conv.groups == 1


def _guarded_forward(self: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    if (
        x.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and x.shape[2] < self.kernel_size[0]
    ):
        with torch.autocast("cpu", enabled=False):
            return nn.Conv3d.forward(self, x.float())
    return nn.Conv3d.forward(self, x)


def guard_temporal_convs(net: nn.Module) -> int:
    """Route the affected temporal convolutions of `net` through float32 on short CPU clips
    under autocast (in place, idempotent); returns how many convolutions are guarded."""
    count = 0
    for module in net.modules():
        if type(module) is nn.Conv3d and _affected(module):
            module.forward = types.MethodType(_guarded_forward, module)
            count += 1
    return count
