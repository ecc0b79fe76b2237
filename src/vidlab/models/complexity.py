"""Parameters and multiply-adds of a network, counted without running it.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` while the model runs on the
``meta`` device: shapes propagate but nothing is computed or allocated. Like fvcore (PySlowFast,
pytorchvideo) and the papers, the count covers convolutions, matrix products and attention, not
normalisation, activations or pooling. torch counts a multiply-add as 2 FLOPs; papers report
multiply-adds, so GFLOPs here are torch's count / 2 / 1e9.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

FLOPS_PER_MULTIPLY_ADD = 2  # torch's counter: one multiply-add = 2 FLOPs
GIGA = 1e9
MEGA = 1e6


@dataclass(frozen=True)
class Complexity:
    """Size and cost of one forward pass.

    Attributes:
        params: number of parameters (all, trainable or not).
        gflops: multiply-adds per view, in units of 1e9 (the papers' "GFLOPs").
        input_shape: shape of the counted input, (B, 3, T, H, W) per pathway.
    """

    params: int
    gflops: float
    input_shape: list[list[int]]


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters())


def count_complexity(model: nn.Module, inputs: torch.Tensor | list[torch.Tensor]) -> Complexity:
    """Parameters and multiply-adds of ``model(inputs)`` per clip (divided by the batch size).

    The model is deep-copied to the ``meta`` device, so nothing runs for real. Batch-size one
    inputs give per-view figures.

    Args:
        model: the network (left unchanged).
        inputs: a (B, 3, T, H, W) tensor or a list of them (SlowFast pathways); any device.

    Returns:
        `Complexity` with GFLOPs per clip.
    """
    tensors = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    batch = tensors[0].shape[0]
    meta_model = copy.deepcopy(model).to("meta").eval()
    meta_inputs = [torch.empty(t.shape, device="meta") for t in tensors]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        meta_model(meta_inputs if isinstance(inputs, (list, tuple)) else meta_inputs[0])
    gflops = counter.get_total_flops() / FLOPS_PER_MULTIPLY_ADD / GIGA / batch
    return Complexity(count_parameters(model), gflops, [list(t.shape) for t in tensors])
