"""Classification metrics: multi-view fusion, top-k accuracy, per-class accuracy, confusion."""

from vidlab.evaluation.classification.metrics import (
    ClassificationReport,
    classification_report,
    fuse_views,
)

__all__ = ["ClassificationReport", "classification_report", "fuse_views"]
