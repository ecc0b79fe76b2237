"""Heatmap of presence that fades with a half-life, and bounded trajectories for plots."""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from vidlab.analytics.geometry import anchor_points
from vidlab.pipeline.types import Event, FrameResult


class HeatmapAnalyzer:
    """Accumulates bottom-centre anchors on a grid of `cell_px` pixel cells; every second of stream
    time multiplies the map by ``0.5 ** (1 / half_life_s)``, so old presence fades.

    Also keeps the last `trail` points of up to `max_trails` tracks (least recently seen dropped)
    for trajectory plots. Emits no events.
    """

    def __init__(
        self,
        frame_size: tuple[int, int],
        *,
        half_life_s: float = 30.0,
        cell_px: int = 8,
        trail: int = 300,
        max_trails: int = 256,
    ) -> None:
        w, h = frame_size
        self.cell = int(cell_px)
        self.half_life_s = float(half_life_s)
        self.grid = np.zeros((-(-h // self.cell), -(-w // self.cell)), np.float64)
        self.trail, self.max_trails = trail, max_trails
        self.trails: OrderedDict[int, deque[tuple[float, float]]] = OrderedDict()
        self._last_pts: float | None = None

    def update(self, result: FrameResult) -> list[Event]:
        pts = result.frame.pts
        if self._last_pts is not None and pts > self._last_pts:
            self.grid *= 0.5 ** ((pts - self._last_pts) / self.half_life_s)
        self._last_pts = pts
        tracks = result.tracks
        if tracks is None or len(tracks) == 0:
            return []
        p = anchor_points(tracks.xyxy, "bottom_center")[:, 0]
        gh, gw = self.grid.shape
        col = np.clip((p[:, 0] // self.cell).astype(np.intp), 0, gw - 1)
        row = np.clip((p[:, 1] // self.cell).astype(np.intp), 0, gh - 1)
        np.add.at(self.grid, (row, col), 1.0)
        for tid, (x, y) in zip(tracks.track_id.tolist(), p.tolist(), strict=True):
            trail = self.trails.get(tid)
            if trail is None:
                trail = self.trails[tid] = deque(maxlen=self.trail)
                if len(self.trails) > self.max_trails:
                    self.trails.popitem(last=False)
            else:
                self.trails.move_to_end(tid)
            trail.append((x, y))
        return []

    def close(self) -> list[Event]:
        return []

    def image(self) -> np.ndarray:
        """(H/cell, W/cell) map scaled to [0, 1]."""
        peak = float(self.grid.max())
        return self.grid / peak if peak > 0 else self.grid.copy()
