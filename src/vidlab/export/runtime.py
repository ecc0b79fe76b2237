"""Load an exported model file and run it on numpy batches, whatever the runtime.

Every artifact becomes a `Predictor`: a callable from float32 clips (N, C, T, H, W) to float32
logits (N, K). Parity checks, latency measurements and the video inference entry all use this one
interface, so what is verified is exactly what is benchmarked and served.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

# (N, C, T, H, W) float32 -> (N, K) float32 logits.
Predictor = Callable[[np.ndarray], np.ndarray]

# Runtime names as written on bundle cards.
RUNTIMES = ("onnxruntime", "torchscript", "torch_export", "openvino")


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session for `path` with `threads` intra-op threads (None: ORT default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnx_predictor(path: Path, threads: int | None) -> Predictor:
    session = onnx_session(path, threads)
    name = session.get_inputs()[0].name

    def predict(clips: np.ndarray) -> np.ndarray:
        return session.run(None, {name: np.ascontiguousarray(clips, dtype=np.float32)})[0]

    return predict


def torch_predictor(module: Callable[[torch.Tensor], torch.Tensor]) -> Predictor:
    """Wrap a torch callable (eager, scripted or exported) as a numpy predictor."""

    def predict(clips: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(np.ascontiguousarray(clips))).float().numpy()

    return predict


def _openvino_predictor(path: Path, threads: int | None) -> Predictor:
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(path), "CPU", config)

    def predict(clips: np.ndarray) -> np.ndarray:
        result = compiled(np.ascontiguousarray(clips, dtype=np.float32))
        return np.asarray(result[compiled.output(0)])

    return predict


def load_predictor(path: str | Path, runtime: str, threads: int | None = None) -> Predictor:
    """Load the artifact at `path` with `runtime` (one of `RUNTIMES`).

    Args:
        path: model file (.onnx, .ts, .pt2 or .xml).
        runtime: how to run it.
        threads: CPU threads for the runtime; torch runtimes use ``torch.set_num_threads``.

    Raises:
        ValueError: unknown runtime.
    """
    path = Path(path)
    if runtime == "onnxruntime":
        return _onnx_predictor(path, threads)
    if runtime == "openvino":
        return _openvino_predictor(path, threads)
    if threads:
        torch.set_num_threads(threads)
    if runtime == "torchscript":
        return torch_predictor(torch.jit.load(str(path), map_location="cpu").eval())
    if runtime == "torch_export":
        return torch_predictor(torch.export.load(str(path)).module())
    raise ValueError(f"unknown runtime {runtime!r} for {path}; expected one of {RUNTIMES}")
