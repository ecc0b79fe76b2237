"""Numerical parity between an exported artifact and the eager network it came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn


class ParityError(RuntimeError):
    """An exported artifact disagrees with the eager model beyond tolerance."""


@dataclass(frozen=True)
class ParityResult:
    """Outcome of a parity check.

    Attributes:
        max_abs_diff: largest absolute difference of any output element.
        top1_agreement: fraction of samples whose argmax agrees.
        atol: the tolerance on `max_abs_diff`.
        num_samples: inputs compared.
    """

    max_abs_diff: float
    top1_agreement: float
    atol: float
    num_samples: int

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.atol

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"max_abs_diff": self.max_abs_diff, "top1_agreement": self.top1_agreement,
                "atol": self.atol, "num_samples": self.num_samples, "ok": self.ok}


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU inference session for `path`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def compare_outputs(reference: np.ndarray, candidate: np.ndarray, atol: float) -> ParityResult:
    """Parity figures of two (N, K) output arrays."""
    if reference.shape != candidate.shape:
        raise ParityError(f"output shapes differ: eager {reference.shape}, export {candidate.shape}")
    return ParityResult(
        max_abs_diff=float(np.max(np.abs(reference - candidate))),
        top1_agreement=float(np.mean(reference.argmax(1) == candidate.argmax(1))),
        atol=atol,
        num_samples=len(reference),
    )


def check_onnx_parity(path: str | Path, net: nn.Module, inputs: torch.Tensor,
                      atol: float = 1e-4) -> ParityResult:
    """Run `inputs` (N, ...) through the eager `net` and the ONNX file; compare the outputs.

    The whole batch goes through ONNX Runtime at once, which also exercises the dynamic batch
    dimension (the export used a batch-1 example).
    """
    with torch.no_grad():
        reference = net.eval()(inputs).float().numpy()
    session = onnx_session(path)
    candidate = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})[0]
    return compare_outputs(reference, candidate, atol)
