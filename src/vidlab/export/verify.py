"""Numerical parity between an exported artifact and the eager network it came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidlab.export.runtime import onnx_session

__all__ = ["ParityError", "ParityResult", "check_onnx_parity", "compare_outputs", "onnx_session"]


class ParityError(RuntimeError):
    """An exported artifact disagrees with the eager model beyond tolerance."""


@dataclass(frozen=True)
class ParityResult:
    """Outcome of a parity check.

    Float artifacts must match the logits within `atol`; quantized ones (where
    `min_top1_agreement` is set) must agree on the predicted class instead, since int8 logits
    legitimately differ by far more than a float tolerance.

    Attributes:
        max_abs_diff: largest absolute difference of any output element.
        top1_agreement: fraction of samples whose argmax agrees.
        atol: the tolerance on `max_abs_diff` (float artifacts).
        num_samples: inputs compared.
        min_top1_agreement: the required `top1_agreement` (quantized artifacts), or None.
    """

    max_abs_diff: float
    top1_agreement: float
    atol: float
    num_samples: int
    min_top1_agreement: float | None = None

    @property
    def ok(self) -> bool:
        if self.min_top1_agreement is not None:
            return self.top1_agreement >= self.min_top1_agreement
        return self.max_abs_diff <= self.atol

    def describe(self) -> str:
        """One line naming the failed (or passed) criterion and its figures."""
        if self.min_top1_agreement is not None:
            return (
                f"top-1 agreement {self.top1_agreement:.4f} (required >= "
                f"{self.min_top1_agreement:.4f}) on {self.num_samples} validation clips"
            )
        return (
            f"max |logit difference| {self.max_abs_diff:.3g} (allowed <= {self.atol:.3g}) "
            f"on {self.num_samples} validation clips"
        )

    def as_dict(self) -> dict[str, float | int | bool | None]:
        return {
            "max_abs_diff": self.max_abs_diff,
            "top1_agreement": self.top1_agreement,
            "atol": self.atol,
            "min_top1_agreement": self.min_top1_agreement,
            "num_samples": self.num_samples,
            "ok": self.ok,
        }


def compare_outputs(
    reference: np.ndarray,
    candidate: np.ndarray,
    atol: float,
    min_top1_agreement: float | None = None,
) -> ParityResult:
    """Parity figures of two (N, K) output arrays (eager `reference`, exported `candidate`)."""
    if reference.shape != candidate.shape:
        raise ParityError(
            f"output shapes differ: eager {reference.shape}, export {candidate.shape}"
        )
    return ParityResult(
        max_abs_diff=float(np.max(np.abs(reference - candidate))),
        top1_agreement=float(np.mean(reference.argmax(1) == candidate.argmax(1))),
        atol=atol,
        num_samples=len(reference),
        min_top1_agreement=min_top1_agreement,
    )


def check_onnx_parity(
    path: str | Path, net: nn.Module, inputs: torch.Tensor, atol: float = 1e-4
) -> ParityResult:
    """Run `inputs` (N, ...) through the eager `net` and the ONNX file; compare the outputs.

    The whole batch goes through ONNX Runtime at once, which also exercises the dynamic batch
    dimension (the export used a batch-1 example).
    """
    with torch.no_grad():
        reference = net.eval()(inputs).float().numpy()
    session = onnx_session(path)
    candidate = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})[0]
    return compare_outputs(reference, candidate, atol)
