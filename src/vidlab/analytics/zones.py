"""Polygon zones: enter / exit events with hysteresis, dwell per track, occupancy, crowding.

Membership of every (track, zone) pair is decided at once from the zones' anchor points
(`PolygonSet.contains`). A change counts only after `hysteresis_frames` consecutive frames on the
new side (a box on the edge does not flicker), and is dated at the first of those frames. A track
first seen inside a zone is inside without an ``zone_enter`` event (nobody saw it enter), and a track
lost inside a zone gets no ``zone_exit`` (it may be an occlusion or an id switch); both still count
towards occupancy while they are seen.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from vidlab.analytics.base import TrackAnalyzer, make_event
from vidlab.analytics.geometry import PolygonSet, anchor_points
from vidlab.analytics.layout import Zone
from vidlab.pipeline.types import Event, Frame, Tracks


class ZoneAnalyzer(TrackAnalyzer):
    """Every zone of one camera.

    Args:
        zones: the zones.
        max_tracks, forget_after_s: per-track state bounds (see `TrackAnalyzer`).
        history: occupancy samples kept for plots (a bounded deque of (pts, (Z,) counts)).
        occupancy_hold_s: a track inside a zone still counts towards its occupancy this many
            seconds after it was last seen (detections missed in a dense group); 0: only the
            tracks of the current frame count.
    """

    def __init__(
        self,
        zones: tuple[Zone, ...] | list[Zone],
        *,
        max_tracks: int = 2048,
        forget_after_s: float = 2.0,
        history: int = 20000,
        occupancy_hold_s: float = 0.0,
    ) -> None:
        super().__init__(max_tracks=max_tracks, forget_after_s=forget_after_s)
        self.zones = tuple(zones)
        z = len(self.zones)
        self.names = [zone.name for zone in self.zones]
        self._groups = []  # (anchor, zone indices, PolygonSet)
        for anchor in sorted({zone.anchor for zone in self.zones}):
            idx = np.array([k for k, zone in enumerate(self.zones) if zone.anchor == anchor])
            self._groups.append((anchor, idx, PolygonSet([self.zones[k].polygon for k in idx])))
        self.hysteresis = np.array([zone.hysteresis_frames for zone in self.zones], np.int64)
        cap = self.slots.capacity
        # per (track row, zone), packed so that a frame reads and writes each array once:
        # ints: confirmed inside (0 / 1), frames pending on the other side, index of the first
        # of them; floats: its time, and the time the track entered (NaN when outside)
        self._ints = np.zeros((cap, z, 3), np.int64)
        self._floats = np.zeros((cap, z, 2))
        self._floats[..., 1] = np.nan
        crowd = [zone.crowding for zone in self.zones]
        self._crowd_zones = [k for k, c in enumerate(crowd) if c is not None]
        self.crowd_since = np.full(z, np.nan)
        self.crowd_alerted = np.zeros(z, bool)
        self.occupancy = np.zeros(z, np.int64)
        self.entries = np.zeros(z, np.int64)
        self.exits = np.zeros(z, np.int64)
        self.history: deque[tuple[float, np.ndarray]] = deque(maxlen=history)
        self.occupancy_hold_s = float(occupancy_hold_s)

    def contains(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, Z) whether each box's anchor (all four corners for ``all_corners``) is inside."""
        out = np.zeros((len(xyxy), len(self.zones)), bool)
        for anchor, idx, polys in self._groups:
            pts = anchor_points(xyxy, anchor)  # (N, P, 2)
            n, p = pts.shape[:2]
            out[:, idx] = polys.contains(pts.reshape(n * p, 2)).reshape(n, p, len(idx)).all(axis=1)
        return out

    def _step(self, frame: Frame, tracks: Tracks, rows: np.ndarray, new: np.ndarray) -> list[Event]:
        pts, index = frame.pts, frame.index
        raw = self.contains(tracks.xyxy)
        ints, floats = self._ints[rows], self._floats[rows]
        inside, pending, since_index = ints[..., 0], ints[..., 1], ints[..., 2]
        since_pts, enter_pts = floats[..., 0], floats[..., 1]
        if new.any():  # first sight: the state is what is seen, no event
            inside[new] = raw[new]
            pending[new] = 0
            enter_pts[new] = np.where(raw[new], pts, np.nan)
        diff = raw != inside.astype(bool)
        diff[new] = False
        pending += diff
        pending[~diff] = 0
        start = diff & (pending == 1)
        since_pts[start] = pts
        since_index[start] = index
        flip = diff & (pending >= self.hysteresis)
        events = []
        if flip.any():
            for k, z in zip(*np.nonzero(flip), strict=True):
                tid = int(tracks.track_id[k])
                t, i = float(since_pts[k, z]), int(since_index[k, z])
                if raw[k, z]:
                    events.append(make_event("zone_enter", frame, tid, self.names[z], t, i))
                    self.entries[z] += 1
                    enter_pts[k, z] = t
                else:
                    dwell = t - enter_pts[k, z]
                    extra = {"dwell_s": round(float(dwell), 4)} if np.isfinite(dwell) else {}
                    events.append(
                        make_event("zone_exit", frame, tid, self.names[z], t, i, extra=extra)
                    )
                    self.exits[z] += 1
                    enter_pts[k, z] = np.nan
            inside ^= flip
            pending[flip] = 0
        self._ints[rows] = ints
        self._floats[rows] = floats
        if self.occupancy_hold_s > 0:
            recent = pts - self.slots.last_seen <= self.occupancy_hold_s  # (capacity,)
            self.occupancy = self._ints[recent, :, 0].sum(axis=0)
        else:
            self.occupancy = inside.sum(axis=0)
        self.history.append((pts, self.occupancy.copy()))
        if self._crowd_zones:
            events += self._crowding(frame)
        return events

    def _crowding(self, frame: Frame) -> list[Event]:
        events = []
        for z in self._crowd_zones:
            rule = self.zones[z].crowding
            if self.occupancy[z] <= rule.max_occupancy:
                self.crowd_since[z] = np.nan
                self.crowd_alerted[z] = False
                continue
            if np.isnan(self.crowd_since[z]):
                self.crowd_since[z] = frame.pts
            held = frame.pts - self.crowd_since[z]
            if not self.crowd_alerted[z] and held >= rule.min_seconds - 1e-9:
                self.crowd_alerted[z] = True
                extra = {"occupancy": int(self.occupancy[z]), "since": float(self.crowd_since[z])}
                events.append(
                    make_event(
                        "crowding", frame, -1, self.names[z], frame.pts, frame.index, extra=extra
                    )
                )
        return events

    def _forget(self, rows: np.ndarray) -> None:
        self._ints[rows] = 0
        self._floats[rows, :, 1] = np.nan

    @property
    def inside(self) -> np.ndarray:
        """(capacity, Z) bool: each track row's confirmed membership of each zone."""
        return self._ints[..., 0].astype(bool)

    def dwell(self, pts: float) -> dict[int, dict[str, float]]:
        """Seconds each remembered track has been inside each zone it is in, at stream time `pts`."""
        out: dict[int, dict[str, float]] = {}
        live = np.flatnonzero(self.slots.track_id >= 0)
        for row in live.tolist():
            enter = self._floats[row, :, 1]
            zones = np.flatnonzero(np.isfinite(enter) & (self._ints[row, :, 0] == 1))
            if len(zones):
                tid = int(self.slots.track_id[row])
                out[tid] = {self.names[z]: float(pts - enter[z]) for z in zones}
        return out
