"""Temporal action localization evaluation: the ActivityNet detection protocol (mAP over tIoU
thresholds, THUMOS14 ambiguous segments), and readers of ground truth and results files.

- `metrics`: `SegmentTable`, `evaluate_localization`, `average_precision_detection` (numpy only).
- `io`: ActivityNet v1.3 JSON (``database``), THUMOS14 per-class text files and ActivityNet results
  JSON (``results``) into `SegmentTable`s, with errors that name the file and entry.
- `reference`: the official code's copy used by the parity tests and the speed benchmark.
"""

from __future__ import annotations

from vidlab.evaluation.localization.metrics import (
    ACTIVITYNET_TIOU,
    THUMOS14_TIOU,
    TIOU_PRESETS,
    LocalizationResult,
    SegmentTable,
    average_precision_detection,
    evaluate_localization,
    segment_iou_matrix,
    threshold_key,
)

__all__ = [
    "ACTIVITYNET_TIOU",
    "THUMOS14_TIOU",
    "TIOU_PRESETS",
    "LocalizationResult",
    "SegmentTable",
    "average_precision_detection",
    "evaluate_localization",
    "segment_iou_matrix",
    "threshold_key",
]
