"""Video-level classification metrics from per-view scores.

Multi-view testing scores every (temporal clip x spatial crop) view of a video separately; the video's
prediction is the mean of its views' softmax scores (or raw logits). Views are keyed by the video's
index in its split, so duplicated samples (a distributed sampler pads the last batch with repeats)
collapse to one entry per (video, view) and every video counts exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassificationReport:
    """Video-level results.

    Attributes:
        top1 / top5: accuracy fractions over videos.
        mean_class_accuracy: mean over classes present in the labels of per-class recall.
        per_class_accuracy: (K,) recall per class (NaN for classes with no video).
        confusion: (K, K) counts, rows true class, columns predicted class.
        num_videos: videos scored.
    """

    top1: float
    top5: float
    mean_class_accuracy: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    num_videos: int

    def as_dict(self, prefix: str) -> dict[str, float]:
        return {
            f"{prefix}/top1": self.top1,
            f"{prefix}/top5": self.top5,
            f"{prefix}/mean_class_accuracy": self.mean_class_accuracy,
            f"{prefix}/num_videos": float(self.num_videos),
        }


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fuse_views(
    video_index: np.ndarray,
    view_index: np.ndarray,
    logits: np.ndarray,
    labels: np.ndarray,
    mode: str = "softmax",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average each video's views; duplicates of the same (video, view) count once.

    Args:
        video_index: (N,) int video id per view sample.
        view_index: (N,) int view id within its video.
        logits: (N, K) per-view logits.
        labels: (N,) int label per view sample (must agree within a video).
        mode: "softmax" averages probabilities, "logits" averages logits.

    Returns:
        video ids (V,), fused scores (V, K), labels (V,), sorted by video id.
    """
    if mode not in ("softmax", "logits"):
        raise ValueError(f"fusion mode must be 'softmax' or 'logits', got {mode!r}")
    keys = np.stack([video_index, view_index], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    video_index, logits, labels = video_index[first], logits[first], labels[first]
    scores = _softmax(logits) if mode == "softmax" else logits
    videos, inverse, counts = np.unique(video_index, return_inverse=True, return_counts=True)
    fused = np.zeros((len(videos), logits.shape[1]))
    np.add.at(fused, inverse, scores)
    fused /= counts[:, None]
    video_labels = np.empty(len(videos), dtype=np.int64)
    video_labels[inverse] = labels
    if np.any(video_labels[inverse] != labels):
        raise ValueError("views of the same video carry different labels")
    return videos, fused, video_labels


def classification_report(
    scores: np.ndarray, labels: np.ndarray, num_classes: int
) -> ClassificationReport:
    """Top-1/top-5/mean-class accuracy and the confusion matrix from (V, K) scores and (V,) labels."""
    if len(scores) == 0:
        raise ValueError("no videos to score")
    pred = scores.argmax(axis=1)
    k = min(5, scores.shape[1])
    topk = np.argsort(-scores, axis=1)[:, :k]
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(confusion) / support, np.nan)
    return ClassificationReport(
        top1=float((pred == labels).mean()),
        top5=float((topk == labels[:, None]).any(axis=1).mean()),
        mean_class_accuracy=float(np.nanmean(per_class)),
        per_class_accuracy=per_class,
        confusion=confusion,
        num_videos=len(labels),
    )
