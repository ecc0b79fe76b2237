"""TorchScript export of a bare network by tracing (X3D has no data-dependent control flow)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from vidlab.export.program import make_exportable

log = logging.getLogger(__name__)


def export_torchscript(
    net: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], path: str | Path
) -> Path:
    """Trace `net` (eval mode) on `example` (B, C, T, H, W), or a tuple of inputs called as
    ``net(*example)``, and save it to `path`.

    A traced X3D accepts any batch size: its only shape-dependent op is an adaptive pool.

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = make_exportable(net).eval()
    with torch.no_grad(), warnings.catch_warnings():
        # torch.jit is in maintenance mode; its deprecation warning is not news to the user.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        traced = torch.jit.trace(net, example, check_trace=False)
        traced = torch.jit.freeze(traced.eval())
    traced.save(str(path))
    log.info("Wrote TorchScript model %s", path)
    return path
