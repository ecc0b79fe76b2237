"""OpenVINO IR (.xml + .bin) converted from the fp32 ONNX model, when `openvino` is installed."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def export_openvino(onnx_path: str | Path, path: str | Path) -> Path:
    """Convert an fp32 ONNX model to OpenVINO IR at `path` (.xml; the weights go to .bin beside it).

    Weights stay fp32 (``compress_to_fp16=False``): the parity check allows 1e-4 of logit error.

    Returns:
        The written .xml path.
    """
    import openvino as ov

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = ov.convert_model(str(onnx_path))
    ov.save_model(model, str(path), compress_to_fp16=False)
    log.info("Wrote OpenVINO IR %s", path)
    return path
