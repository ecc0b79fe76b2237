"""Appearance encoders (histogram, torch, ONNX) and the per-sequence embedding cache."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.tracking.encoders import (
    AppearanceEncoder,
    ColorHistogramEncoder,
    EmbeddingCache,
    OnnxEncoder,
    TorchEncoder,
)

INPUT_SIZE = (32, 16)


def _frame() -> np.ndarray:
    img = np.full((120, 200, 3), 128, np.uint8)
    img[10:90, 10:40] = (0, 0, 220)  # red person
    img[10:90, 60:90] = (220, 0, 0)  # blue person
    img[10:90, 110:140] = (0, 0, 215)  # another red one
    return img


BOXES = np.array([[10.0, 10, 40, 90], [60, 10, 90, 90], [110, 10, 140, 90]])


def _tiny_net():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 12),
    )


def test_histogram_encoder_separates_colours():
    enc = ColorHistogramEncoder()
    assert isinstance(enc, AppearanceEncoder)
    emb = enc.encode(_frame(), BOXES)
    assert emb.shape == (3, enc.dim) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 2] > 0.9 > sim[0, 1]
    np.testing.assert_array_equal(emb, enc.encode(_frame(), BOXES))


def test_histogram_encoder_clips_boxes_outside_image():
    emb = ColorHistogramEncoder().encode(
        _frame(), np.array([[-50.0, -20, 5, 30], [190, 100, 400, 300]])
    )
    assert np.isfinite(emb).all() and emb.shape[0] == 2


def test_torch_and_onnx_encoders_agree(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    net = _tiny_net().eval()
    path = tmp_path / "reid.onnx"
    torch.onnx.export(
        net,
        torch.zeros(1, 3, *INPUT_SIZE),
        str(path),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        dynamo=False,
    )
    t_enc = TorchEncoder(net, input_size=INPUT_SIZE, batch_size=2)
    o_enc = OnnxEncoder(path, input_size=INPUT_SIZE, batch_size=2)
    a, b = t_enc.encode(_frame(), BOXES), o_enc.encode(_frame(), BOXES)
    assert a.shape == (3, 12)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert t_enc.fingerprint.startswith("torch-") and o_enc.fingerprint.startswith("onnx-")


def test_fingerprint_depends_on_weights_and_preprocessing():
    torch = pytest.importorskip("torch")
    net = _tiny_net()
    f1 = TorchEncoder(net, input_size=INPUT_SIZE).fingerprint
    assert TorchEncoder(net, input_size=INPUT_SIZE).fingerprint == f1
    assert TorchEncoder(net, input_size=(64, 32)).fingerprint != f1
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert TorchEncoder(net, input_size=INPUT_SIZE).fingerprint != f1


def test_onnx_encoder_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no ONNX file"):
        OnnxEncoder(tmp_path / "nope.onnx")


def test_embedding_cache_round_trip_and_key(tmp_path):
    enc = ColorHistogramEncoder()
    cache = EmbeddingCache(tmp_path)
    frames = np.array([1, 1, 2])
    emb = enc.encode(_frame(), BOXES)
    assert cache.load(enc, "SEQ", frames, BOXES) is None
    cache.save(enc, "SEQ", frames, BOXES, emb)
    np.testing.assert_array_equal(cache.load(enc, "SEQ", frames, BOXES), emb)
    assert cache.load(enc, "SEQ", frames, BOXES + 1) is None  # other detections
    assert (
        cache.load(ColorHistogramEncoder(hue_bins=8), "SEQ", frames, BOXES) is None
    )  # other encoder


def test_trackers_use_encoder_on_frames():
    from vidlab.tracking import create_tracker

    tracker = create_tracker("deepsort", encoder=ColorHistogramEncoder())
    dets = np.concatenate([BOXES, np.full((3, 1), 0.9)], axis=1)
    for _ in range(4):
        out = tracker.update(dets, _frame())
    assert sorted(out[:, 4].tolist()) == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="appearance embeddings are required"):
        create_tracker("deepsort").update(dets)
