"""ONNX export of a bare network (no Lightning module, no loss) with a dynamic batch dimension."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

DEFAULT_OPSET = 18


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


def export_onnx(net: nn.Module, example: torch.Tensor, path: str | Path, *,
                opset: int = DEFAULT_OPSET) -> Path:
    """Export `net` (eval mode) to ONNX with a dynamic batch dimension.

    Args:
        net: the network; called as ``net(x)`` with ``x`` shaped like `example`.
        example: one example input, batch size 1, e.g. (1, 3, T, H, W).
        path: output file.
        opset: ONNX opset version.

    Returns:
        The written path.
    """
    if example.shape[0] != 1:
        raise ValueError(f"export from a batch-1 example, got batch {example.shape[0]}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = make_exportable(net).eval()
    # The dynamo exporter specialises a dimension whose example size is 1 unless it is declared
    # Dim.AUTO (a named Dim with min=1 is rejected for size-1 examples), hence AUTO for batch.
    batch = torch.export.Dim.AUTO
    with torch.no_grad():
        program = torch.onnx.export(
            net, (example,), input_names=["video"], output_names=["logits"],
            dynamic_shapes=({0: batch},), opset_version=opset, dynamo=True,
        )
    program.save(str(path))
    log.info("Wrote ONNX model %s", path)
    return path
