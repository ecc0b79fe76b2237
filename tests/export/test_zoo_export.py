"""Full-size Video Swin-T, TSM-R50 and SlowFast-R50 export to ONNX with parity and a dynamic batch
(small clips keep it to seconds per model; the architecture is the published one). Their
latencies at larger clips: benchmarks/export_zoo.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlab.export.inputs import PathwayInputs, as_tuple, to_numpy
from vidlab.export.onnx import export_onnx
from vidlab.export.runtime import load_predictor
from vidlab.models.registry import create_model, example_input, get_spec

ATOL = 1e-4  # the parity bound on logits
FRAMES, CROP = 8, 32


@pytest.mark.slow
@pytest.mark.parametrize("name", ["swin3d_t", "tsm_r50", "slowfast_r50_8x8"])
def test_full_size_model_exports_to_onnx_with_parity(name, tmp_path):
    torch.manual_seed(0)
    spec = get_spec(name)
    sized = {"num_frames": FRAMES, "crop_size": CROP} if spec.sized_builder else {}
    net = create_model(name, num_classes=400, **sized).eval()
    multi = spec.slowfast_alpha is not None
    module = PathwayInputs(net) if multi else net
    clips = example_input(name, batch_size=3, num_frames=FRAMES, crop_size=CROP)
    clips = tuple(clips) if multi else clips
    example = tuple(c[:1] for c in clips) if multi else clips[:1]
    names = ("slow", "fast") if multi else ("video",)
    path = export_onnx(module, example, tmp_path / "model.onnx", input_name=names)
    with torch.no_grad():
        expected = module(*as_tuple(clips)).numpy()
    got = load_predictor(path, "onnxruntime")(to_numpy(clips))  # batch 3 from a batch-1 export
    assert got.shape == (3, 400)
    assert float(np.abs(got - expected).max()) <= ATOL
