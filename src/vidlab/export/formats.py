"""The export formats `export.py` knows: how each is written, run, and judged.

A format is a small frozen record (`ExportFormat`): the runtime that loads it, whether it is
quantized (judged on top-1 agreement instead of a logit tolerance), why it is unavailable on this
machine (None when it is available), and the function that writes its files into a bundle folder.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidlab.export import onnx as onnx_export
from vidlab.export import openvino as openvino_export
from vidlab.export import program, quantize, torchscript
from vidlab.export.inputs import batch_len

log = logging.getLogger(__name__)


@dataclass
class ExportContext:
    """What the format writers share: the eager network, clips, options, and a cached fp32 ONNX.

    Attributes:
        net: the fp32 network (eval mode), called as ``net(*inputs)``.
        example: (1, C, T, H, W) example input, or one per graph input (a multi-input model).
        calibration: (N, C, T, H, W) calibration clips (training split), for static int8; a tuple
            of one tensor per input for a multi-input model.
        options: the ``export`` config node as a plain dict.
        work_dir: scratch folder for intermediate files (the fp32 ONNX of int8 / OpenVINO).
        input_names / output_name: tensor names of the graph (the family's), one per input.
        onnx_metadata: ``vidlab.*`` metadata for ONNX files (None: none).
    """

    net: nn.Module
    example: torch.Tensor | tuple[torch.Tensor, ...]
    calibration: torch.Tensor | tuple[torch.Tensor, ...] | None
    options: dict[str, Any]
    work_dir: Path
    input_names: tuple[str, ...] = ("video",)
    output_name: str = "logits"
    onnx_metadata: dict[str, Any] | None = None
    _fp32_onnx: Path | None = field(default=None, init=False)

    def fp32_onnx(self) -> Path:
        """The fp32 ONNX model, exported once and reused by the formats built on it."""
        if self._fp32_onnx is None or not self._fp32_onnx.is_file():
            self._fp32_onnx = self.write_onnx(self.work_dir / "model_fp32.onnx")
        return self._fp32_onnx

    def write_onnx(self, path: Path) -> Path:
        """The fp32 network as ONNX at `path`, with the family's names and metadata."""
        return onnx_export.export_onnx(
            self.net,
            self.example,
            path,
            opset=int(self.options["opset"]),
            input_name=self.input_names,
            output_name=self.output_name,
            metadata=self.onnx_metadata,
        )

    def calibration_clips(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if self.calibration is None or batch_len(self.calibration) == 0:
            raise ValueError(
                "static int8 needs calibration clips; export.num_calibration_clips must be > 0"
            )
        return self.calibration


Writer = Callable[[ExportContext, Path], list[Path]]


@dataclass(frozen=True)
class ExportFormat:
    """One export format.

    Attributes:
        name: what users type (``export=<name>`` or in ``export.formats``).
        runtime: how the first file is loaded (`vidlab.export.runtime.RUNTIMES`).
        quantized: judged on top-1 agreement with fp32 rather than on a logit tolerance.
        write: writes the files into a bundle folder; returns them, the one to load first.
        requires: importable module this format needs (None: nothing beyond the core stack).
    """

    name: str
    runtime: str
    quantized: bool
    write: Writer
    requires: str | None = None

    def unavailable_reason(self) -> str | None:
        """Why this format cannot be written here, or None."""
        if self.requires and importlib.util.find_spec(self.requires) is None:
            return f"the {self.requires!r} package is not installed"
        return None


def _onnx(ctx: ExportContext, folder: Path) -> list[Path]:
    path = ctx.write_onnx(folder / "model.onnx")
    ctx._fp32_onnx = path  # reused by int8 / OpenVINO unless it is rejected (renamed) meanwhile
    return [path]


def _torchscript(ctx: ExportContext, folder: Path) -> list[Path]:
    return [torchscript.export_torchscript(ctx.net, ctx.example, folder / "model.ts")]


def _torch_export(ctx: ExportContext, folder: Path) -> list[Path]:
    return [program.export_program(ctx.net, ctx.example, folder / "model.pt2")]


def _onnx_int8(ctx: ExportContext, folder: Path) -> list[Path]:
    options = quantize.OnnxQuantOptions(**ctx.options.get("onnx_int8", {}))
    return [
        quantize.quantize_onnx_static(
            ctx.fp32_onnx(), ctx.calibration_clips(), folder / "model_int8.onnx", options
        )
    ]


def _pt2e_int8(ctx: ExportContext, folder: Path) -> list[Path]:
    return [quantize.quantize_pt2e_x86(ctx.net, ctx.calibration_clips(), folder / "model_int8.pt2")]


def _dynamic_int8(ctx: ExportContext, folder: Path) -> list[Path]:
    return [quantize.quantize_dynamic_linear(ctx.net, ctx.example, folder / "model_dyn_int8.ts")]


def _openvino(ctx: ExportContext, folder: Path) -> list[Path]:
    xml = openvino_export.export_openvino(ctx.fp32_onnx(), folder / "model.xml")
    return [xml, xml.with_suffix(".bin")]


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("onnx", "onnxruntime", False, _onnx),
        ExportFormat("torchscript", "torchscript", False, _torchscript),
        ExportFormat("torch_export", "torch_export", False, _torch_export),
        ExportFormat("onnx_int8", "onnxruntime", True, _onnx_int8),
        ExportFormat("pt2e_int8", "torch_export", True, _pt2e_int8, requires="torchao"),
        ExportFormat("dynamic_int8", "torchscript", True, _dynamic_int8),
        ExportFormat("openvino", "openvino", False, _openvino, requires="openvino"),
    )
}


def get_format(name: str) -> ExportFormat:
    """The format called `name`.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    if name not in FORMATS:
        raise ValueError(f"unknown export format {name!r}; expected one of {sorted(FORMATS)}")
    return FORMATS[name]


def scratch_dir() -> tempfile.TemporaryDirectory:
    """A temporary folder for `ExportContext.work_dir`."""
    return tempfile.TemporaryDirectory(prefix="vidlab_export_")
