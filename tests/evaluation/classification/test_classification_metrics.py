"""Multi-view fusion and video-level metrics on hand-built scores."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.evaluation.classification import classification_report, fuse_views


def test_fusion_averages_softmax_and_drops_duplicates():
    # Video 0 has two views (one duplicated, as a padded distributed sampler would), video 1 one.
    video = np.array([0, 0, 1, 0])
    view = np.array([0, 1, 0, 1])
    logits = np.array([[2.0, 0.0], [0.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    labels = np.array([0, 0, 1, 0])
    ids, scores, video_labels = fuse_views(video, view, logits, labels, "softmax")
    assert ids.tolist() == [0, 1] and video_labels.tolist() == [0, 1]
    p = np.exp(2.0) / (np.exp(2.0) + 1.0)
    assert scores[0] == pytest.approx([(p + 0.5) / 2, ((1 - p) + 0.5) / 2])
    _, logit_scores, _ = fuse_views(video, view, logits, labels, "logits")
    assert logit_scores[0] == pytest.approx([1.0, 0.0])


def test_fusion_rejects_inconsistent_labels():
    with pytest.raises(ValueError, match="different labels"):
        fuse_views(np.array([0, 0]), np.array([0, 1]), np.zeros((2, 3)), np.array([0, 1]))


def test_report_counts():
    scores = np.array(
        [
            [0.9, 0.05, 0.05],  # true 0 -> 0
            [0.2, 0.7, 0.1],  # true 0 -> 1
            [0.1, 0.8, 0.1],  # true 1 -> 1
            [0.3, 0.3, 0.4],  # true 2 -> 2
        ]
    )
    labels = np.array([0, 0, 1, 2])
    report = classification_report(scores, labels, num_classes=3)
    assert report.top1 == pytest.approx(0.75)
    assert report.top5 == 1.0  # k is capped at the number of classes
    assert report.per_class_accuracy.tolist() == [0.5, 1.0, 1.0]
    assert report.mean_class_accuracy == pytest.approx(2.5 / 3)
    assert report.confusion.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
