"""ONNX export of a bare network (no Lightning module, no loss) with a dynamic batch dimension."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidlab.export.program import export_dynamic_batch, make_exportable

log = logging.getLogger(__name__)

DEFAULT_OPSET = 18
#: Prefix of the ONNX metadata keys vidlab writes (``vidlab.input`` and more).
METADATA_PREFIX = "vidlab."


def onnx_program(
    net: nn.Module,
    example: torch.Tensor | tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    opset: int = DEFAULT_OPSET,
) -> torch.onnx.ONNXProgram:
    """The dynamo exporter's ONNX program of `net` with a dynamic batch dimension.

    The network goes through `export_dynamic_batch` first. Handing the dynamo exporter a batch-1
    example with ``Dim.AUTO`` instead specialises the batch to 1 in PyTorch 2.14.1 (it warns
    "0/1 specialized"): convolutional networks still run at other batch sizes because their ONNX
    operators ignore the batch, but a transformer's reshapes keep the baked-in batch and fail at
    batch 2 (the TimeSformer did).
    """
    with torch.no_grad():
        return torch.onnx.export(
            export_dynamic_batch(net, example),
            example if isinstance(example, tuple) else (example,),
            input_names=input_names,
            output_names=output_names,
            opset_version=opset,
            dynamo=True,
        )


def export_onnx(
    net: nn.Module,
    example: torch.Tensor | tuple[torch.Tensor, ...],
    path: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    input_name: str | tuple[str, ...] = "video",
    output_name: str = "logits",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Export `net` (eval mode) to ONNX with a dynamic batch dimension.

    Args:
        net: the network; called as ``net(x)`` with ``x`` shaped like `example` (``net(*example)``
            for a tuple: a multi-input network such as SlowFast's two pathways).
        example: one example input, batch size 1, e.g. (1, 3, T, H, W), or a tuple of them.
        path: output file.
        opset: ONNX opset version.
        input_name / output_name: the graph's input name(s), one per input, and output name.
        metadata: JSON-serialisable values stored as ``vidlab.<key>`` metadata entries, so the
            file describes its own preprocessing (see `read_onnx_metadata`).

    Returns:
        The written path.
    """
    first = example[0] if isinstance(example, tuple) else example
    if first.shape[0] != 1:
        raise ValueError(f"export from a batch-1 example, got batch {first.shape[0]}")
    names = [input_name] if isinstance(input_name, str) else list(input_name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program = onnx_program(make_exportable(net).eval(), example, names, [output_name], opset)
    program.save(str(path))
    if metadata:
        write_onnx_metadata(path, metadata)
    log.info("Wrote ONNX model %s", path)
    return path


def write_onnx_metadata(path: str | Path, metadata: dict[str, Any]) -> None:
    """Add ``vidlab.<key>`` entries (JSON values) to the metadata of the ONNX file at `path`."""
    import onnx

    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, json.dumps(value)
    onnx.save(model, str(path))


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The ``vidlab.*`` metadata of an ONNX file ({} if it has none)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {
        p.key[len(METADATA_PREFIX) :]: json.loads(p.value)
        for p in model.metadata_props
        if p.key.startswith(METADATA_PREFIX)
    }
