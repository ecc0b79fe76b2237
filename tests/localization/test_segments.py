"""Per-window scores -> segments: smoothing, runs with gap merging, NMS and soft-NMS."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.localization.segments import (
    Segment,
    SegmentOptions,
    nms,
    runs,
    smooth_scores,
    to_results,
    window_segments,
)


def test_runs_merge_small_gaps():
    mask = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 1], dtype=bool)
    assert runs(mask) == [(1, 2), (4, 4), (8, 9)]
    assert runs(mask, merge_gap=1) == [(1, 4), (8, 9)]
    assert runs(mask, merge_gap=3) == [(1, 9)]
    assert runs(np.zeros(4, dtype=bool)) == []


def test_smoothing_is_a_centred_average_normalised_at_the_edges():
    probs = np.array([[1.0], [0.0], [0.0], [1.0]])
    np.testing.assert_allclose(smooth_scores(probs, 3)[:, 0], [0.5, 1 / 3, 1 / 3, 0.5])
    assert smooth_scores(probs, 1) is probs


def windows_with_action(label_of_window: np.ndarray, num_classes: int) -> np.ndarray:
    probs = np.full((len(label_of_window), num_classes), 0.02)
    probs[np.arange(len(label_of_window)), label_of_window] = 1 - 0.02 * (num_classes - 1)
    return probs


def test_segments_span_window_centres_and_reach_the_video_ends():
    # Windows centred at 0.5, 1.5, ... s; class 1 on windows 3..6, class 2 on the last three.
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0, 2, 2, 2])
    centers = np.arange(len(labels)) + 0.5
    segments = window_segments(
        centers, windows_with_action(labels, 3), 11.0, SegmentOptions(proposals="class", smooth=1)
    )
    by_label = {s.label: s for s in segments}
    assert set(by_label) == {1, 2}  # background (class 0) is never a segment
    assert (by_label[1].start, by_label[1].end) == (3.0, 7.0)
    assert (by_label[2].start, by_label[2].end) == (8.0, 11.0)  # runs to the video's end
    assert by_label[1].score == pytest.approx(0.96)
    results = to_results(segments, ["background", "a", "b"])
    assert {r["label"] for r in results} == {"a", "b"} and results[0]["segment"][1] > 0


def test_short_runs_are_dropped_and_gaps_merged():
    labels = np.array([0, 1, 0, 1, 1, 0, 0, 0, 1, 0])
    centers = np.arange(len(labels)) + 0.5
    probs = windows_with_action(labels, 2)
    merged = window_segments(
        centers, probs, 10.0, SegmentOptions(proposals="class", smooth=1, merge_gap=1)
    )
    assert [(s.start, s.end) for s in merged] == [(1.0, 5.0)]  # the lone window 8 is too short
    apart = window_segments(
        centers, probs, 10.0, SegmentOptions(proposals="class", smooth=1, merge_gap=0)
    )
    assert [(s.start, s.end) for s in apart] == [(3.0, 5.0)]


def test_hard_and_soft_nms():
    segs = [Segment(1, 0.9, 0, 10), Segment(1, 0.8, 1, 10), Segment(1, 0.7, 20, 30)]
    hard = nms(segs, "hard", 0.5, 0.5, 0.0)
    assert [s.score for s in hard] == [0.9, 0.7]
    soft = nms(segs, "soft", 0.5, 0.5, 0.0)
    assert len(soft) == 3 and soft[0].score == 0.9
    decayed = 0.8 * np.exp(-(0.9**2) / 0.5)
    assert soft[2].score == pytest.approx(decayed) and soft[1].score == 0.7
    assert [s.score for s in nms(segs, "none", 0.5, 0.5, 0.0)] == [0.9, 0.8, 0.7]
    with pytest.raises(ValueError, match="nms="):
        SegmentOptions(nms="fancy")


def test_actionness_proposals_give_one_segment_per_class_scored_by_its_mean():
    # An action on windows 2..5 that the classifier splits between classes 1 and 2 (0.5 / 0.4),
    # where per-class thresholds at 0.5 would find nothing of class 2 and a ragged class 1.
    probs = np.full((8, 3), 0.0)
    probs[:, 0] = 1.0
    probs[2:6] = [[0.1, 0.5, 0.4], [0.1, 0.45, 0.45], [0.1, 0.5, 0.4], [0.1, 0.55, 0.35]]
    centers = np.arange(8) + 0.5
    segments = window_segments(centers, probs, 8.0, SegmentOptions(smooth=1))
    assert [(s.label, s.start, s.end) for s in segments] == [(1, 2.0, 6.0), (2, 2.0, 6.0)]
    assert segments[0].score == pytest.approx(0.5) and segments[1].score == pytest.approx(0.4)
    with pytest.raises(ValueError, match="proposals="):
        SegmentOptions(proposals="watershed")
