"""Int8 artifacts: ONNX Runtime static quantization, PT2E (x86) and dynamic int8 of Linear layers.

* `quantize_onnx_static`: post-training static int8 of an fp32 ONNX model with calibration clips
  (QDQ or QOperator format, per-channel weights, uint8 activations x int8 weights, the pairing
  x86 VNNI kernels run fastest), after ORT's own pre-processing (shape inference and graph
  optimisation, which folds BatchNorm into the convolutions before scales are chosen).
* `quantize_pt2e_x86`: PyTorch's PT2E flow with the x86 Inductor quantizer (torchao). The converted
  program holds quantize/dequantize pairs around fp32 ops; it is only fast once Inductor
  (``torch.compile``) fuses them into int8 kernels.
* `quantize_dynamic_linear`: dynamic int8 of ``nn.Linear`` layers (weights int8, activations
  quantized per batch at run time), for linear-heavy networks such as TimeSformer.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidlab.export.inputs import Batch, as_tuple, batch_len, take, to_numpy
from vidlab.export.program import export_dynamic_batch, make_exportable

log = logging.getLogger(__name__)

# Clips per forward pass while calibrating.
CALIBRATION_BATCH = 8


@dataclass(frozen=True)
class OnnxQuantOptions:
    """Options of ONNX Runtime static quantization (see `configs/export/onnx_int8.yaml`).

    Attributes:
        quant_format: "QDQ" (QuantizeLinear/DequantizeLinear pairs, fused by ORT at load time)
            or "QOperator" (QLinearConv and friends written out).
        per_channel: one weight scale per output channel (recommended for convolutions).
        activation_type / weight_type: "quint8" or "qint8".
        reduce_range: 7-bit weights, for CPUs without VNNI whose int8 dot products can saturate.
        preprocess: run ``quant_pre_process`` (symbolic shape inference + ORT optimisation) first.
        calibration_method: "MinMax", "Entropy" or "Percentile".
        fp32_output_layer: leave the layer(s) that produce the graph outputs (the classifier)
            in float: quantizing the logits themselves to 8 bits costs a step of range / 255,
            which alone flips near-tied predictions, for a negligible share of the compute.
    """

    quant_format: str = "QDQ"
    per_channel: bool = True
    activation_type: str = "quint8"
    weight_type: str = "qint8"
    reduce_range: bool = False
    preprocess: bool = True
    calibration_method: str = "MinMax"
    fp32_output_layer: bool = True


def output_nodes(path: str | Path) -> list[str]:
    """Names of the nodes of the ONNX model at `path` that write a graph output."""
    import onnx

    graph = onnx.load(str(path)).graph
    outputs = {o.name for o in graph.output}
    return [node.name for node in graph.node if outputs.intersection(node.output)]


class _ClipReader:
    """ONNX Runtime calibration data reader over clips, `batch` at a time: one (N, C, T, H, W)
    array, or one array per graph input (a multi-input model), fed under `input_names`."""

    def __init__(self, input_names: str | list[str], clips: Batch, batch: int) -> None:
        input_names = [input_names] if isinstance(input_names, str) else list(input_names)
        arrays = clips if isinstance(clips, tuple) else (clips,)
        if len(arrays) != len(input_names):
            raise ValueError(
                f"calibration data has {len(arrays)} inputs, the model {len(input_names)} "
                f"({input_names})"
            )
        self.chunks = [
            {
                name: np.ascontiguousarray(a[i : i + batch])
                for name, a in zip(input_names, arrays, strict=True)
            }
            for i in range(0, batch_len(clips), batch)
        ]
        self.batches: Iterator[dict[str, np.ndarray]] = iter(self.chunks)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)

    def rewind(self) -> None:
        """Start over from the first batch (CalibrationDataReader's interface)."""
        self.batches = iter(self.chunks)


def _quant_type(name: str):
    from onnxruntime.quantization import QuantType

    types = {"quint8": QuantType.QUInt8, "qint8": QuantType.QInt8}
    if name not in types:
        raise ValueError(f"quantization type must be one of {sorted(types)}, got {name!r}")
    return types[name]


def quantize_onnx_static(
    fp32_path: str | Path,
    calibration: torch.Tensor | tuple[torch.Tensor, ...],
    path: str | Path,
    options: OnnxQuantOptions = OnnxQuantOptions(),
    calibration_batch: int = CALIBRATION_BATCH,
) -> Path:
    """Static int8 of the ONNX model at `fp32_path`, calibrated on `calibration` (N, C, T, H, W),
    or on one tensor per graph input.

    Returns:
        The written int8 ONNX path.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(fp32_path)
        if options.preprocess:
            prepared = Path(tmp) / "prepared.onnx"
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=False)
            source = prepared
        session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        reader = _ClipReader(names, to_numpy(calibration), calibration_batch)
        quantize_static(
            str(source),
            str(path),
            reader,
            quant_format=QuantFormat.from_string(options.quant_format),
            per_channel=options.per_channel,
            activation_type=_quant_type(options.activation_type),
            weight_type=_quant_type(options.weight_type),
            reduce_range=options.reduce_range,
            calibrate_method=CalibrationMethod[options.calibration_method],
            nodes_to_exclude=output_nodes(source) if options.fp32_output_layer else None,
        )
    log.info(
        "Wrote int8 ONNX model %s (%s, per_channel=%s, calibrated on %d clips)",
        path,
        options.quant_format,
        options.per_channel,
        batch_len(calibration),
    )
    return path


def quantize_pt2e_x86(
    net: nn.Module, calibration: torch.Tensor | tuple[torch.Tensor, ...], path: str | Path
) -> Path:
    """PT2E static int8 (torchao's X86InductorQuantizer), saved as a torch.export program.

    Args:
        net: fp32 network (eval mode).
        calibration: (N, C, T, H, W) clips, N >= 2, run through the observed model.
        path: output ``.pt2``.
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = make_exportable(net).eval()
    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config())
    with torch.no_grad():
        first = take(calibration, slice(0, 2))
        observed = prepare_pt2e(export_dynamic_batch(net, first).module(), quantizer)
        for start in range(0, batch_len(calibration), CALIBRATION_BATCH):
            observed(*as_tuple(take(calibration, slice(start, start + CALIBRATION_BATCH))))
        program = export_dynamic_batch(convert_pt2e(observed), first)
    torch.export.save(program, str(path))
    log.info("Wrote PT2E int8 program %s (calibrated on %d clips)", path, batch_len(calibration))
    return path


def quantize_dynamic_linear(
    net: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], path: str | Path
) -> Path:
    """Dynamic int8 of every ``nn.Linear`` (torch.ao), traced and saved as TorchScript.

    Returns:
        The written path; the layers quantized are logged (none: a convolution-only network
        gains nothing, and the log says so).
    """
    from torch.ao.quantization import quantize_dynamic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    linears = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    log.info("Dynamic int8: %d Linear layers (%s)", len(linears), ", ".join(linears) or "none")
    quantized = quantize_dynamic(make_exportable(net).eval(), {nn.Linear}, dtype=torch.qint8)
    with torch.no_grad():
        traced = torch.jit.trace(quantized, example, check_trace=False)
    traced.save(str(path))
    log.info("Wrote dynamic int8 TorchScript model %s", path)
    return path
