"""COCO-style person detection metrics with ignore regions (`metrics`) and precision-recall plots
(`plots`)."""

from vidlab.evaluation.detection.metrics import (
    DetectionResult,
    build_map_metric,
    summarise,
    to_map_inputs,
)

__all__ = ["DetectionResult", "build_map_metric", "summarise", "to_map_inputs"]
