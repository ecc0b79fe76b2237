"""Person detection at inference time: frames in, boxes in original pixels out.

`Detector` serves any detector bundle written by ``python export.py`` (through
`vidlab.export.runtime.load_bundle`); `YoloOnnxDetector` an ONNX file exported by ultralytics
(YOLOv8 / YOLO11 output layout); `TorchvisionDetector` a torchvision detection model with its
weights. All map a list of (H, W, 3) uint8 RGB frames to one (N, 5) float32 array per frame:
x1, y1, x2, y2 in the frame's own pixels and the score, best first. `load_detector` picks one from
a path; `detect_folder` writes det.txt files for MOTChallenge sequences.
"""

from vidlab.detection.detector import (
    Detector,
    FrameDetector,
    TorchvisionDetector,
    YoloOnnxDetector,
    load_detector,
)
from vidlab.detection.sequences import detect_folder, detect_sequence

__all__ = [
    "Detector",
    "FrameDetector",
    "TorchvisionDetector",
    "YoloOnnxDetector",
    "detect_folder",
    "detect_sequence",
    "load_detector",
]
