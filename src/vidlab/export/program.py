"""torch.export programs (.pt2) of a bare network with a dynamic batch dimension."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

# Largest batch the exported programs accept (a bound keeps the symbolic shape checks simple).
MAX_BATCH = 1024


def make_exportable(net: nn.Module) -> nn.Module:
    """Replace layers ONNX cannot express with numerically equivalent standard ones, in place.

    pytorchvideo's ``Swish`` wraps a custom autograd Function (x * sigmoid(x)) that no exporter can
    trace into ONNX operators; ``nn.SiLU`` computes the same function. vidlab's own X3D builder
    already uses SiLU; this covers networks built with pytorchvideo's defaults.
    """
    from pytorchvideo.layers.swish import Swish

    for name, child in net.named_children():
        if isinstance(child, Swish):
            setattr(net, name, nn.SiLU())
        else:
            make_exportable(child)
    return net


def export_dynamic_batch(
    net: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...]
) -> torch.export.ExportedProgram:
    """``torch.export`` of `net` with a dynamic batch dimension, from an example of any batch.

    `example` is one input or a tuple of inputs (a multi-input network, called ``net(*example)``);
    every input's first dimension is the same named ``batch`` dimension. torch.export specialises a
    dimension whose example size is 1 (and ``Dim.AUTO`` then keeps it static), so a batch-1
    example is repeated to batch 2 before tracing; the named dimension still admits batch 1 at
    run time.
    """
    inputs = example if isinstance(example, tuple) else (example,)
    if inputs[0].shape[0] == 1:
        inputs = tuple(x.expand(2, *x.shape[1:]) for x in inputs)
    # The program keeps its example inputs and `torch.export.save` writes them with their whole
    # storage: a slice of a large calibration tensor would store all of it (25 MB, not 0.8 MB).
    inputs = tuple(x.clone(memory_format=torch.contiguous_format) for x in inputs)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    with torch.no_grad():
        return torch.export.export(
            net, inputs, dynamic_shapes=_batch_shapes(net, len(inputs), batch)
        )


def _batch_shapes(net: nn.Module, count: int, batch: torch.export.Dim) -> tuple[Any, ...]:
    """``dynamic_shapes`` with dimension 0 of every input named `batch`, in the structure of
    ``net.forward``'s signature (``forward(*pathways)`` gathers the inputs in one argument)."""
    specs = tuple({0: batch} for _ in range(count))
    params = list(inspect.signature(net.forward).parameters.values())
    if len(params) == 1 and params[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return (specs,)
    return specs


def export_program(
    net: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], path: str | Path
) -> Path:
    """Export `net` (eval mode) with ``torch.export`` and save it with ``torch.export.save``.

    Args:
        net: the network, called as ``net(x)`` (``net(*example)`` for a tuple of inputs).
        example: example input (B, C, T, H, W), or a tuple of them; the batch dimension is
            exported dynamic.
        path: output ``.pt2`` file; load it with ``torch.export.load(path).module()``.

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program = export_dynamic_batch(make_exportable(net).eval(), example)
    torch.export.save(program, str(path))
    log.info("Wrote torch.export program %s", path)
    return path
