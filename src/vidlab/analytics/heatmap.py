"""Heatmap of presence that fades with a half-life, and bounded recent trajectories for plots."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from vidlab.analytics.geometry import anchor_points
from vidlab.pipeline.types import Event, FrameResult

_RENORMALISE = 1e200  # rescale the accumulated weights before they overflow


class HeatmapAnalyzer:
    """Accumulates bottom-centre anchors on a grid of `cell_px` pixel cells; presence `s` seconds
    old weighs ``0.5 ** (s / half_life_s)``, so old presence fades.

    The fade costs nothing per frame: each new point is added with weight ``2 ** (pts /
    half_life_s)`` (relative to a reference time that moves forward when the weights grow large)
    and `image` scales the grid back. It also keeps the anchors of the last `trail_frames` frames
    (one (ids, points) pair per frame) for trajectory plots. Emits no events.
    """

    def __init__(
        self,
        frame_size: tuple[int, int],
        *,
        half_life_s: float = 30.0,
        cell_px: int = 8,
        trail_frames: int = 3000,
    ) -> None:
        w, h = frame_size
        self.cell = int(cell_px)
        self.half_life_s = float(half_life_s)
        self.grid = np.zeros((-(-h // self.cell), -(-w // self.cell)), np.float64)
        self.trails: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=trail_frames)
        self._t0: float | None = None  # reference time of the weights
        self._last_pts = 0.0

    def update(self, result: FrameResult) -> list[Event]:
        pts = result.frame.pts
        if self._t0 is None:
            self._t0 = pts
        self._last_pts = pts
        tracks = result.tracks
        if tracks is None or len(tracks) == 0:
            return []
        weight = 2.0 ** ((pts - self._t0) / self.half_life_s)
        if weight > _RENORMALISE:
            self.grid /= weight
            self._t0, weight = pts, 1.0
        p = anchor_points(tracks.xyxy, "bottom_center")[:, 0]
        gh, gw = self.grid.shape
        col = np.clip((p[:, 0] // self.cell).astype(np.intp), 0, gw - 1)
        row = np.clip((p[:, 1] // self.cell).astype(np.intp), 0, gh - 1)
        np.add.at(self.grid, (row, col), weight)
        self.trails.append((tracks.track_id.copy(), p))
        return []

    def close(self) -> list[Event]:
        return []

    def density(self) -> np.ndarray:
        """(H/cell, W/cell) faded presence at the last frame (a fresh point counts 1)."""
        if self._t0 is None:
            return self.grid.copy()
        return self.grid * math.pow(2.0, -(self._last_pts - self._t0) / self.half_life_s)

    def image(self) -> np.ndarray:
        """`density` scaled to [0, 1]."""
        d = self.density()
        peak = float(d.max())
        return d / peak if peak > 0 else d

    def trajectories(self) -> dict[int, np.ndarray]:
        """Track id -> (K, 2) anchor points over the kept frames, in time order."""
        out: dict[int, list] = {}
        for ids, points in self.trails:
            for tid, point in zip(ids.tolist(), points, strict=True):
                out.setdefault(tid, []).append(point)
        return {tid: np.array(v) for tid, v in out.items()}
