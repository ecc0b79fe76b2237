"""`vidlab.detection`: boxes come back in original pixels (letterbox in, un-letterbox out), bad
frames are refused in one line, and the ultralytics YOLO output layout is decoded as ultralytics
does."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from vidlab.detection import Detector, YoloOnnxDetector, load_detector
from vidlab.detection.detector import decode_yolo
from vidlab.errors import UserError
from vidlab.export.bundle import write_card
from vidlab.utils.runinfo import file_sha256

SIZE = (96, 160)  # (H, W) network input
LEVELS = [6, 2]  # two "levels" of anchors, 8 rows in all


class ConstantDetections(nn.Module):
    """A stand-in detector network: the same (L, 4 + 2) rows for every image."""

    def __init__(self, rows: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("rows", rows)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.rows.expand(images.shape[0], -1, -1).clone() + 0 * images.mean()


def _constant_bundle(tmp_path, rows: np.ndarray):
    folder = tmp_path / "bundle"
    folder.mkdir(parents=True)
    traced = torch.jit.trace(ConstantDetections(torch.as_tensor(rows)), torch.zeros(1, 3, *SIZE))
    traced.save(str(folder / "model.ts"))
    card = {
        "card_version": 2,
        "family": "detector",
        "format": "torchscript",
        "runtime": "torchscript",
        "file": "model.ts",
        "files": ["model.ts"],
        "sha256": {"model.ts": file_sha256(folder / "model.ts")},
        "input": {"name": "images", "image_size": list(SIZE), "pad_value": 114},
        "output": {"name": "detections"},
        "postprocessing": {
            "level_sizes": LEVELS,
            "num_classes": 2,
            "score_thresh": 0.05,
            "nms_thresh": 0.6,
            "topk_candidates": 1000,
            "detections_per_img": 100,
            "person_label": 1,
        },
    }
    write_card(folder, card)
    return folder


def _rows() -> np.ndarray:
    rows = np.zeros((sum(LEVELS), 6), np.float32)
    rows[0] = [16, 8, 48, 72, 0.0, 0.9]  # a person in letterboxed pixels
    rows[1] = [17, 9, 49, 73, 0.0, 0.5]  # the same person again: NMS removes it
    rows[2] = [100, 10, 140, 90, 0.0, 0.3]  # another person
    rows[3] = [60, 40, 70, 60, 0.8, 0.01]  # background class, and a person below threshold
    rows[7] = [0, 0, 10, 10, 0.0, 0.7]  # a person in the second level
    return rows


def test_bundle_boxes_come_back_in_original_pixels(tmp_path):
    detector = Detector(_constant_bundle(tmp_path, _rows()), batch_size=2)
    wide = np.zeros((540, 960, 3), np.uint8)  # scale 1/6, no padding on the right
    tall = np.zeros((300, 100, 3), np.uint8)  # scale 0.32, padded right
    small = np.zeros((48, 80, 3), np.uint8)  # enlarged: scale 2
    out = detector.detect([wide, tall, small])
    assert len(out) == 3 and all(o.dtype == np.float32 and o.shape[1] == 5 for o in out)
    expected = np.array([[16, 8, 48, 72, 0.9], [0, 0, 10, 10, 0.7], [100, 10, 140, 90, 0.3]])
    np.testing.assert_allclose(out[0], expected * [6, 6, 6, 6, 1], rtol=1e-6)
    # Scale 0.32: the third box lies in the padding, right of the frame: clipped away, dropped.
    tall_expected = np.minimum(expected[:2] / [0.32, 0.32, 0.32, 0.32, 1], [100, 300, 100, 300, 1])
    np.testing.assert_allclose(out[1], tall_expected, rtol=1e-5)  # clipped to the 100 px width
    np.testing.assert_allclose(out[2], expected * [0.5, 0.5, 0.5, 0.5, 1], rtol=1e-6)
    # A threshold of our own on top of the bundle's.
    strict = Detector(_constant_bundle(tmp_path / "b", _rows()), score_thresh=0.6)
    np.testing.assert_allclose(strict.detect([small])[0][:, 4], [0.9, 0.7])


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([np.zeros((10, 10), np.uint8)], r"frame 0: expected an \(H, W, 3\) uint8 RGB array"),
        (
            [np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10, 3), np.float32)],
            "frame 1: expected dtype uint8",
        ),
        (np.zeros((2, 10, 10, 3), np.uint8), "takes a list"),
        (["frame.jpg"], "got str"),
    ],
)
def test_bad_frames_are_refused_in_one_line(tmp_path, frames, message):
    detector = Detector(_constant_bundle(tmp_path, _rows()))
    with pytest.raises(UserError, match=message) as err:
        detector.detect(frames)
    assert "\n" not in str(err.value)


def test_a_classifier_bundle_is_not_a_detector(tmp_path):
    folder = _constant_bundle(tmp_path, _rows())
    card = json.loads((folder / "card.json").read_text())
    card["family"] = "embedding"
    write_card(folder, card)
    with pytest.raises(UserError, match="embedding bundle, not a detector"):
        load_detector(folder)


# ------------------------------------------------------------------------------------- YOLO


def _yolo_output(num_classes: int = 3) -> np.ndarray:
    """(4 + C, N) rows as ultralytics writes them: cx, cy, w, h, then class scores."""
    boxes = [  # cx, cy, w, h, class, score
        (30, 30, 20, 40, 0, 0.9),
        (31, 31, 20, 40, 0, 0.6),  # overlaps the first (IoU ~0.9): suppressed
        (31, 31, 20, 40, 1, 0.8),  # same place, another class: not a person
        (100, 50, 10, 10, 0, 0.2),  # below conf 0.25
        (100, 50, 30, 60, 0, 0.5),
    ]
    out = np.zeros((4 + num_classes, len(boxes)), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(boxes):
        out[:4, i] = cx, cy, w, h
        out[4 + cls, i] = score
    return out


def test_yolo_decode_keeps_the_known_boxes():
    dets = decode_yolo(_yolo_output())
    np.testing.assert_allclose(dets, [[20, 10, 40, 50, 0.9, 0], [85, 20, 115, 80, 0.5, 0]])
    everything = decode_yolo(_yolo_output(), classes=None, conf_thresh=0.1)
    assert sorted(everything[:, 5].tolist()) == [0, 0, 0, 1]  # class-wise NMS keeps class 1
    assert len(decode_yolo(_yolo_output(), max_det=1)) == 1


def _constant_yolo_onnx(path, output: np.ndarray, size: int = 64) -> None:
    """An ONNX model with ultralytics' interface returning `output` for every image."""
    const = numpy_helper.from_array(output[None], "rows")
    nodes = [
        helper.make_node("Shape", ["images"], ["shape"], start=0, end=1),
        helper.make_node("Concat", ["shape", "tail"], ["out_shape"], axis=0),
        helper.make_node("Expand", ["rows", "out_shape"], ["output0"]),
    ]
    tail = numpy_helper.from_array(np.array(output.shape, np.int64), "tail")
    graph = helper.make_graph(
        nodes,
        "yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, None)],
        [const, tail],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


def test_yolo_onnx_boxes_come_back_in_original_pixels(tmp_path):
    path = tmp_path / "yolo.onnx"
    _constant_yolo_onnx(path, _yolo_output())
    detector = load_detector(path, score_thresh=0.25)
    assert isinstance(detector, YoloOnnxDetector) and detector.image_size == (64, 64)
    # 100 x 200 (H x W) -> 32 x 64 centred in 64 x 64: scale 0.32, 16 px of padding on top.
    out = detector.detect([np.zeros((100, 200, 3), np.uint8)])[0]
    # The first box, 16 px of padding off its y, divided by the scale, clipped to the frame; the
    # second lies right of the 64 px input (x 85-115): clipped away and dropped.
    expected = np.array([[20 / 0.32, 0, 40 / 0.32, 100, 0.9]])
    np.testing.assert_allclose(out, expected, rtol=1e-5)
