"""Per-window class scores -> scored action segments.

The choice (documented in the README): **thresholding with gap merging**, then NMS.

1. Smooth each class's probability over time with a centred moving average of ``smooth`` windows
   (edges averaged over the windows that exist).
2. Candidate runs of windows, by ``proposals``:

   - ``actionness`` (default): runs where the actionness ``1 - p(background)`` is >= a threshold
     of ``thresholds``; each run becomes one segment *per action class*, scored by the class's
     mean probability over the run. Where an action starts and ends is then decided by the
     background-vs-action evidence of every class together, and which action it is by the
     ranking of class scores, so a classifier that is sure *that* something happens but torn
     between two classes still yields the right boundaries, and the right class ranks first.
   - ``class``: runs where a class's own probability is >= a threshold, scored by its mean.

   Runs separated by at most ``merge_gap`` windows are merged, runs shorter than ``min_windows``
   dropped; several thresholds give nested candidates of different extent.
3. A run of windows ``a..b`` becomes the segment from the centre of window ``a`` minus half the
   window step to the centre of window ``b`` plus half the step (a window is labelled with the
   class covering most of its frames, so it is positive while its centre lies inside the
   action); a run touching the first or last window extends to the video's start or end.
4. Per class, NMS (``nms="hard"``: drop segments whose tIoU with a better one is >= ``nms_iou``)
   or Gaussian soft-NMS (``nms="soft"``: scores decay by ``exp(-tIoU^2 / sigma)``); segments
   scoring under ``min_score`` are dropped and the ``max_segments`` best kept.

A watershed over actionness was the alternative; thresholds with gap merging are simpler, have
fewer settings, and with the smoothing they already ignore one-window dips inside an action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidlab.evaluation.localization.metrics import segment_iou_matrix

NMS_MODES = ("hard", "soft", "none")
PROPOSAL_MODES = ("actionness", "class")


@dataclass(frozen=True)
class SegmentOptions:
    """Post-processing settings (see the module docstring)."""

    proposals: str = "actionness"
    smooth: int = 3
    thresholds: tuple[float, ...] = (0.5,)
    merge_gap: int = 1
    min_windows: int = 2
    nms: str = "hard"
    nms_iou: float = 0.5
    soft_sigma: float = 0.5
    min_score: float = 0.01
    max_segments: int = 100

    def __post_init__(self) -> None:
        if self.nms not in NMS_MODES:
            raise ValueError(f"nms={self.nms!r}, expected one of {NMS_MODES}")
        if self.proposals not in PROPOSAL_MODES:
            raise ValueError(f"proposals={self.proposals!r}, expected one of {PROPOSAL_MODES}")
        if self.smooth < 1 or self.min_windows < 1 or self.merge_gap < 0:
            raise ValueError("smooth and min_windows must be >= 1 and merge_gap >= 0")


@dataclass(frozen=True)
class Segment:
    label: int
    score: float
    start: float
    end: float


def smooth_scores(probabilities: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of each column of (W, K) over `width` windows."""
    if width <= 1 or len(probabilities) == 0:
        return probabilities
    kernel = np.ones(width)
    ones = np.convolve(np.ones(len(probabilities)), kernel, mode="same")
    return np.stack(
        [np.convolve(col, kernel, mode="same") / ones for col in probabilities.T], axis=1
    )


def runs(mask: np.ndarray, merge_gap: int = 0) -> list[tuple[int, int]]:
    """Inclusive (first, last) index of each run of True, runs at most `merge_gap` apart merged."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    found = [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    merged: list[tuple[int, int]] = []
    for first, last in found:
        if merged and first - merged[-1][1] - 1 <= merge_gap:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def nms(
    segments: list[Segment], mode: str, iou: float, sigma: float, min_score: float
) -> list[Segment]:
    """Hard or Gaussian soft NMS over segments of one class; returned best first."""
    if mode == "none" or len(segments) < 2:
        return sorted(segments, key=lambda s: -s.score)
    bounds = np.array([[s.start, s.end] for s in segments])
    scores = np.array([s.score for s in segments])
    overlap = segment_iou_matrix(bounds, bounds)
    alive = np.ones(len(segments), dtype=bool)
    kept: list[Segment] = []
    while alive.any():
        best = int(np.flatnonzero(alive)[scores[alive].argmax()])
        if scores[best] < min_score:
            break
        seg = segments[best]
        kept.append(Segment(seg.label, float(scores[best]), seg.start, seg.end))
        alive[best] = False
        if mode == "hard":
            alive &= ~(overlap[best] >= iou)
        else:
            scores = np.where(alive, scores * np.exp(-(overlap[best] ** 2) / sigma), scores)
    return kept


def _candidate_runs(score: np.ndarray, options: SegmentOptions) -> list[tuple[int, int]]:
    """Distinct runs of windows with `score` >= each threshold (merged, long enough)."""
    found: dict[tuple[int, int], None] = {}
    for threshold in options.thresholds:
        for first, last in runs(score >= threshold, options.merge_gap):
            if last - first + 1 >= options.min_windows:
                found[(first, last)] = None
    return list(found)


def window_segments(
    centers: np.ndarray,
    probabilities: np.ndarray,
    duration: float,
    options: SegmentOptions,
    background: int | None = 0,
) -> list[Segment]:
    """Scored segments of one video from its windows' centres (W,) s and probabilities (W, K).

    `background` is the background class's index (None: every class is an action, and
    proposals are per class whatever `options.proposals` says).
    """
    if len(centers) == 0:
        return []
    smoothed = smooth_scores(probabilities, options.smooth)
    step = float(np.median(np.diff(centers))) if len(centers) > 1 else duration
    actions = [k for k in range(probabilities.shape[1]) if k != background]

    def bounds(first: int, last: int) -> tuple[float, float]:
        start = 0.0 if first == 0 else centers[first] - step / 2
        end = duration if last == len(centers) - 1 else centers[last] + step / 2
        return float(start), float(end)

    per_class: dict[int, list[Segment]] = {k: [] for k in actions}
    if options.proposals == "actionness" and background is not None:
        for first, last in _candidate_runs(1.0 - smoothed[:, background], options):
            means = smoothed[first : last + 1].mean(axis=0)
            for k in actions:
                per_class[k].append(Segment(k, float(means[k]), *bounds(first, last)))
    else:
        for k in actions:
            for first, last in _candidate_runs(smoothed[:, k], options):
                score = float(smoothed[first : last + 1, k].mean())
                per_class[k].append(Segment(k, score, *bounds(first, last)))
    found = [
        seg
        for k in actions
        for seg in nms(
            per_class[k], options.nms, options.nms_iou, options.soft_sigma, options.min_score
        )
        if seg.score >= options.min_score
    ]
    found.sort(key=lambda s: -s.score)
    return found[: options.max_segments]


def to_results(segments: Sequence[Segment], class_names: Sequence[str]) -> list[dict]:
    """ActivityNet results entries ``{"label", "score", "segment": [t0, t1]}``."""
    return [
        {"label": class_names[s.label], "score": round(s.score, 6),
         "segment": [round(s.start, 4), round(s.end, 4)]}
        for s in segments
    ]  # fmt: skip
