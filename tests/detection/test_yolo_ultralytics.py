"""The ultralytics ONNX adapter against ultralytics itself.

An untrained YOLOv8n is built from its yaml (no weights download), its class biases drawn at random
so that scores are spread and many boxes pass the threshold, exported to ONNX by ultralytics, and
run on the same images by ultralytics' own `predict` (letterbox, ONNX Runtime, its NMS) and by
`vidlab.detection.YoloOnnxDetector`: the same boxes must come out. ultralytics is a bench
dependency only (it pulls opencv-python; installed with --no-deps beside the one cv2 vidlab uses),
so the test skips without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

ultralytics = pytest.importorskip("ultralytics", reason="ultralytics (bench extra) not installed")

IMGSZ = (256, 320)  # (H, W)


@pytest.fixture(scope="module")
def yolo_onnx(tmp_path_factory):
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO("yolov8n.yaml")
    generator = torch.Generator().manual_seed(0)
    for branch in model.model.model[-1].cv3:  # class-score convolutions of the three levels
        conv = branch[-1]
        conv.weight.data = torch.randn(conv.weight.shape, generator=generator) * 0.05
        conv.bias.data = torch.randn(conv.bias.shape, generator=generator) * 0.5
        conv.bias.data[0] += 2.0  # person scores spread around the 0.25 threshold
    folder = tmp_path_factory.mktemp("yolo")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # ultralytics writes the .onnx beside the working directory's yaml name
        path = model.export(format="onnx", imgsz=IMGSZ, simplify=False, dynamic=False)
    return str(folder / path)


def test_decoded_boxes_equal_ultralytics_predictions(yolo_onnx):
    from ultralytics import YOLO

    from vidlab.detection import YoloOnnxDetector

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, shape, np.uint8) for shape in ((240, 400, 3), (300, 200, 3))]
    theirs = YOLO(yolo_onnx, task="detect").predict(
        [f[..., ::-1].copy() for f in frames],  # ultralytics takes BGR arrays
        imgsz=IMGSZ, conf=0.25, iou=0.7, classes=[0], max_det=300, verbose=False,
    )  # fmt: skip
    ours = YoloOnnxDetector(yolo_onnx, conf_thresh=0.25, iou_thresh=0.7, classes=(0,))
    ours.min_side = 0.0  # ultralytics keeps boxes clipped to nothing; vidlab drops them by default
    for result, boxes in zip(theirs, ours.detect(frames), strict=True):
        expected = np.column_stack([result.boxes.xyxy.numpy(), result.boxes.conf.numpy()])
        assert len(expected) > 5  # a real comparison, not two empty lists
        order = np.lexsort((boxes[:, 0], -boxes[:, 4]))
        ref_order = np.lexsort((expected[:, 0], -expected[:, 4]))
        np.testing.assert_allclose(boxes[order], expected[ref_order], atol=1e-2, rtol=1e-4)
