"""Each export format written by its function, loaded by its runtime, and compared with eager."""

from __future__ import annotations

import importlib.util
import zipfile

import numpy as np
import onnx
import pytest
import torch

from vidlab.export import onnx as onnx_export
from vidlab.export import openvino as openvino_export
from vidlab.export import program, quantize, torchscript
from vidlab.export.runtime import load_predictor
from vidlab.export.verify import compare_outputs

ATOL = 1e-4


def _clips(count: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(count, 3, 4, 32, 32, generator=torch.Generator().manual_seed(seed))


def _eager(net, clips: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return net(clips).numpy()


@pytest.mark.parametrize(
    ("writer", "runtime", "suffix"),
    [
        (torchscript.export_torchscript, "torchscript", ".ts"),
        (program.export_program, "torch_export", ".pt2"),
    ],
)
def test_torch_formats_match_eager_at_any_batch(tiny_net, tmp_path, writer, runtime, suffix):
    clips = _clips(5)
    path = writer(tiny_net, clips[:1], tmp_path / f"m{suffix}")
    predict = load_predictor(path, runtime)
    expected = _eager(tiny_net, clips)
    for batch in (1, 5):  # exported from a batch-1 example
        result = compare_outputs(expected[:batch], predict(clips[:batch].numpy()), ATOL)
        assert result.ok, result.describe()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="openvino not installed")
def test_openvino_matches_eager(tiny_net, tmp_path):
    clips = _clips(3)
    fp32 = onnx_export.export_onnx(tiny_net, clips[:1], tmp_path / "m.onnx")
    xml = openvino_export.export_openvino(fp32, tmp_path / "ov" / "m.xml")
    assert xml.with_suffix(".bin").is_file()
    result = compare_outputs(
        _eager(tiny_net, clips), load_predictor(xml, "openvino")(clips.numpy()), ATOL
    )
    assert result.ok, result.describe()


def test_onnx_int8_is_quantized_per_channel_and_close(tiny_net, tmp_path):
    calibration, clips = _clips(16, seed=2), _clips(8, seed=3)
    fp32 = onnx_export.export_onnx(tiny_net, clips[:1], tmp_path / "m.onnx")
    path = quantize.quantize_onnx_static(fp32, calibration, tmp_path / "q.onnx")
    model = onnx.load(str(path))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # Per-channel: some weight DequantizeLinear carries a vector of scales (one per channel).
    scales = {i.name: i for i in model.graph.initializer}
    vector_scales = [
        n
        for n in model.graph.node
        if n.op_type == "DequantizeLinear"
        and n.input[1] in scales
        and len(scales[n.input[1]].dims) == 1
        and scales[n.input[1]].dims[0] > 1
    ]
    assert vector_scales
    # The classifier writing the logits stays float: its weight is an fp32 initializer.
    (head,) = [n for n in model.graph.node if "logits" in n.output]
    assert head.op_type == "Gemm" and scales[head.input[1]].data_type == onnx.TensorProto.FLOAT
    expected = _eager(tiny_net, clips)
    result = compare_outputs(
        expected, load_predictor(path, "onnxruntime")(clips.numpy()), ATOL, min_top1_agreement=0.5
    )
    assert result.top1_agreement == pytest.approx(
        np.mean(expected.argmax(1) == load_predictor(path, "onnxruntime")(clips.numpy()).argmax(1))
    )
    # int8 differs from fp32, but far less than the logits themselves vary.
    assert 0 < result.max_abs_diff < 0.5 * float(np.abs(expected).max())


def test_dynamic_int8_quantizes_the_linear_head(tiny_net, tmp_path):
    clips = _clips(4)
    path = quantize.quantize_dynamic_linear(tiny_net, clips[:1], tmp_path / "d.ts")
    graph = str(torch.jit.load(str(path)).inlined_graph)
    assert "linear_dynamic" in graph
    expected = _eager(tiny_net, clips)
    got = load_predictor(path, "torchscript")(clips.numpy())
    assert 0 < np.abs(got - expected).max() < 0.1 * np.abs(expected).max()


@pytest.mark.slow
def test_pt2e_int8_program_runs_at_any_batch(tiny_net, tmp_path):
    calibration, clips = _clips(8, seed=2), _clips(3, seed=3)
    path = quantize.quantize_pt2e_x86(tiny_net, calibration, tmp_path / "q.pt2")
    predict = load_predictor(path, "torch_export")
    expected = _eager(tiny_net, clips)
    assert predict(clips[:1].numpy()).shape == (1, 5)
    got = predict(clips.numpy())
    assert 0 < np.abs(got - expected).max() < 0.5 * np.abs(expected).max()
    # The saved example input is the 2-clip slice, not the whole calibration tensor behind it.
    with zipfile.ZipFile(path) as archive:
        stored = sum(i.file_size for i in archive.infolist() if "sample_inputs" in i.filename)
    assert stored < 4 * calibration[:2].numel() * calibration.element_size(), stored


def test_calibration_reader_rewinds():
    clips = np.arange(5 * 2, dtype=np.float32).reshape(5, 2)
    reader = quantize._ClipReader("video", clips, batch=2)
    first = [reader.get_next() for _ in range(4)]
    assert [len(b["video"]) for b in first[:3]] == [2, 2, 1] and first[3] is None
    reader.rewind()
    assert np.array_equal(reader.get_next()["video"], clips[:2])
