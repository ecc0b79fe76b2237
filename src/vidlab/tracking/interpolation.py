"""Post-processing: fill short gaps inside each track by linear interpolation of its boxes."""

from __future__ import annotations

import numpy as np


def interpolate_gaps(
    frame: np.ndarray, track_id: np.ndarray, tlwh: np.ndarray, score: np.ndarray, max_gap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Add the missing boxes of gaps of at most ``max_gap`` frames inside each track.

    A gap is a run of frames between two consecutive boxes of the same track; its boxes are linear
    interpolations (top-left corner and size) between the boxes on either side, and their score is
    the lower of the two scores (an interpolated box is no more certain than its weaker end).

    Args:
        frame: (N,) int64 1-based frame numbers.
        track_id: (N,) int64 ids.
        tlwh: (N, 4) float64 boxes in pixels.
        score: (N,) float64 scores.
        max_gap: longest gap (missing frames) to fill; 0 disables.

    Returns:
        ``(frame, track_id, tlwh, score)`` with the new rows, sorted by frame then id.
    """
    if max_gap < 0:
        raise ValueError(f"interpolate_gaps: max_gap must be >= 0, got {max_gap}")
    order = np.lexsort((frame, track_id))
    f, i, b, s = frame[order], track_id[order], tlwh[order], score[order]
    step = f[1:] - f[:-1]
    fill = (i[1:] == i[:-1]) & (step > 1) & (step <= max_gap + 1)
    if max_gap == 0 or not fill.any():
        return _sorted(frame, track_id, tlwh, score)
    start = np.flatnonzero(fill)
    missing = step[start] - 1  # boxes to add per gap
    left = np.repeat(start, missing)  # index of the box before each new box
    k = np.arange(missing.sum()) - np.repeat(np.cumsum(missing) - missing, missing) + 1  # 1..gap
    t = (k / np.repeat(step[start], missing))[:, None]
    new_b = b[left] * (1 - t) + b[left + 1] * t
    new_f = f[left] + k
    new_s = np.minimum(s[left], s[left + 1])
    return _sorted(
        np.concatenate([f, new_f]),
        np.concatenate([i, i[left]]),
        np.concatenate([b, new_b]),
        np.concatenate([s, new_s]),
    )


def _sorted(frame, track_id, tlwh, score):
    order = np.lexsort((track_id, frame))
    return frame[order], track_id[order], tlwh[order], score[order]
