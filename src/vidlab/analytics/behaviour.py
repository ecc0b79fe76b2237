"""Behaviour rules over each track's recent path: loitering, wrong-way, speed and over-speed.

Paths are kept in small per-track ring buffers sampled in stream time (`PathHistory`: a sample
every ``window / 16`` seconds, 32 samples), so memory and cost do not depend on the frame rate, and
"where was this track `window` seconds ago" is one vectorised lookup.
"""

from __future__ import annotations

import numpy as np

from vidlab.analytics.base import TrackAnalyzer, make_event
from vidlab.analytics.geometry import PolygonSet, anchor_points, apply_homography
from vidlab.analytics.layout import Loitering, Speed, WrongWay, Zone
from vidlab.pipeline.types import Event, Frame, Tracks

_SAMPLES = 32
_TIME_EPS = 1e-6


class PathHistory:
    """Per-row ring buffers of (time, x, y) samples taken at least `window_s / 16` s apart."""

    def __init__(self, capacity: int, window_s: float, samples: int = _SAMPLES) -> None:
        self.window_s = float(window_s)
        self.interval = self.window_s / (samples // 2)
        self.t = np.full((capacity, samples), np.inf)  # +inf: an empty sample (never old enough)
        self.p = np.zeros((capacity, samples, 2))
        self.head = np.zeros(capacity, np.intp)
        self.last_t = np.full(capacity, -np.inf)

    def reset(self, rows: np.ndarray) -> None:
        self.t[rows] = np.inf
        self.head[rows] = 0
        self.last_t[rows] = -np.inf

    def push(self, rows: np.ndarray, pts: float, points: np.ndarray) -> None:
        due = pts - self.last_t[rows] >= self.interval - _TIME_EPS
        r = rows[due]
        h = self.head[r]
        self.t[r, h] = pts
        self.p[r, h] = points[due]
        self.head[r] = (h + 1) % self.t.shape[1]
        self.last_t[r] = pts

    def window_start(
        self, rows: np.ndarray, pts: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The latest sample at least `window_s` old per row: (K, 2) points, (K,) times, (K,) found."""
        t = self.t[rows]
        cand = t <= pts - self.window_s + _TIME_EPS
        best = np.where(cand, t, -np.inf).argmax(axis=1)
        k = np.arange(len(rows))
        return self.p[rows, best], t[k, best], cand.any(axis=1)


class LoiteringAnalyzer(TrackAnalyzer):
    """A track that stays within `radius` of where its stay began for `seconds` raises one event
    per stay (at the moment the time is reached). Positions are bottom-centre anchors, on the
    ground plane (metres, through `homography`) or in pixels.

    A stay ends only when the track has been outside the radius for `grace_s` seconds without a
    break (one jittered or swapped box does not restart the clock); the next stay is then dated
    from where and when the track first left.
    """

    def __init__(
        self,
        rule: Loitering,
        homography: np.ndarray | None = None,
        *,
        max_tracks: int = 2048,
        forget_after_s: float = 2.0,
    ) -> None:
        super().__init__(max_tracks=max_tracks, forget_after_s=forget_after_s)
        if rule.space == "ground" and homography is None:
            raise ValueError("loitering on the ground plane needs a homography")
        self.rule = rule
        self.homography = homography if rule.space == "ground" else None
        cap = self.slots.capacity
        self.origin = np.zeros((cap, 2))
        self.since = np.zeros(cap)
        self.out_since = np.full(cap, np.nan)  # when the track left the radius (NaN: inside)
        self.out_point = np.zeros((cap, 2))
        self.alerted = np.zeros(cap, bool)

    def _step(self, frame: Frame, tracks: Tracks, rows: np.ndarray, new: np.ndarray) -> list[Event]:
        pts = frame.pts
        p = anchor_points(tracks.xyxy, "bottom_center")[:, 0]
        if self.homography is not None:
            p = apply_homography(self.homography, p)
        r = rows[new]
        self.origin[r], self.since[r], self.alerted[r] = p[new], pts, False
        self.out_since[r] = np.nan
        outside = np.hypot(*(p - self.origin[rows]).T) > self.rule.radius
        self.out_since[rows[~outside]] = np.nan
        left = outside & np.isnan(self.out_since[rows])
        self.out_since[rows[left]] = pts
        self.out_point[rows[left]] = p[left]
        gone = outside & (pts - self.out_since[rows] >= self.rule.grace_s - _TIME_EPS)
        r = rows[gone]
        self.origin[r], self.since[r], self.alerted[r] = self.out_point[r], self.out_since[r], False
        self.out_since[r] = np.nan
        still = np.hypot(*(p - self.origin[rows]).T) <= self.rule.radius
        held = pts - self.since[rows]
        fire = still & ~self.alerted[rows] & (held >= self.rule.seconds - _TIME_EPS)
        events = []
        for k in np.flatnonzero(fire).tolist():
            self.alerted[rows[k]] = True
            extra = {"since": float(self.since[rows[k]]), "duration_s": float(held[k])}
            tid = int(tracks.track_id[k])
            events.append(make_event("loitering", frame, tid, "", pts, frame.index, extra=extra))
        return events


class WrongWayAnalyzer(TrackAnalyzer):
    """Inside a zone with an allowed direction: a track whose displacement over the last
    `window_s` seconds (spent inside the zone) is at least `min_distance_px` long and more than
    `max_angle_deg` away from the allowed direction raises one event per visit."""

    def __init__(
        self, zone: Zone, rule: WrongWay, *, max_tracks: int = 2048, forget_after_s: float = 2.0
    ) -> None:
        super().__init__(max_tracks=max_tracks, forget_after_s=forget_after_s)
        if zone.allowed_direction is None:
            raise ValueError(f"zone {zone.name!r} has no allowed_direction")
        self.zone, self.rule = zone, rule
        self._poly = PolygonSet([zone.polygon])
        self._cos_limit = float(np.cos(np.radians(rule.max_angle_deg)))
        cap = self.slots.capacity
        self.path = PathHistory(cap, rule.window_s)
        self.alerted = np.zeros(cap, bool)

    def _step(self, frame: Frame, tracks: Tracks, rows: np.ndarray, new: np.ndarray) -> list[Event]:
        pts = anchor_points(tracks.xyxy, self.zone.anchor)
        n, p = pts.shape[:2]
        inside = self._poly.contains(pts.reshape(n * p, 2)).reshape(n, p).all(axis=1)
        ref = pts.mean(axis=1)
        out = rows[~inside | new]
        self.path.reset(out)
        self.alerted[rows[~inside]] = False
        self.alerted[rows[new]] = False
        events = []
        r = rows[inside]
        if len(r):
            then, _, found = self.path.window_start(r, frame.pts)
            move = ref[inside] - then
            dist = np.hypot(move[:, 0], move[:, 1])
            cos = (move @ self.zone.allowed_direction) / np.maximum(dist, 1e-9)
            fire = found & (dist >= self.rule.min_distance_px) & (cos < self._cos_limit)
            fire &= ~self.alerted[r]
            ids = tracks.track_id[inside]
            for k in np.flatnonzero(fire).tolist():
                self.alerted[r[k]] = True
                angle = float(np.degrees(np.arccos(np.clip(cos[k], -1, 1))))
                events.append(
                    make_event(
                        "wrong_way", frame, int(ids[k]), self.zone.name, frame.pts, frame.index,
                        extra={"angle_deg": round(angle, 2)},
                    )
                )  # fmt: skip
            self.path.push(r, frame.pts, ref[inside])
        return events


class SpeedAnalyzer(TrackAnalyzer):
    """Ground speed of every track (m/s over the last `window_s` seconds of its bottom-centre
    path through the image -> ground homography) and one ``overspeed`` event each time a track
    goes above `max_speed_mps` (again only after falling below `rearm_ratio` of it)."""

    def __init__(
        self,
        rule: Speed,
        homography: np.ndarray,
        *,
        max_tracks: int = 2048,
        forget_after_s: float = 2.0,
    ) -> None:
        super().__init__(max_tracks=max_tracks, forget_after_s=forget_after_s)
        self.rule, self.homography = rule, homography
        cap = self.slots.capacity
        self.path = PathHistory(cap, rule.window_s)
        self.speed = np.full(cap, np.nan)
        self.alerted = np.zeros(cap, bool)

    def _step(self, frame: Frame, tracks: Tracks, rows: np.ndarray, new: np.ndarray) -> list[Event]:
        g = apply_homography(self.homography, anchor_points(tracks.xyxy, "bottom_center")[:, 0])
        self.path.reset(rows[new])
        self.alerted[rows[new]] = False
        self.speed[rows[new]] = np.nan
        then, t_then, found = self.path.window_start(rows, frame.pts)
        dt = np.where(found, frame.pts - t_then, np.nan)
        speed = np.hypot(*(g - then).T) / dt
        self.speed[rows] = speed
        fast = found & (speed > self.rule.max_speed_mps)
        slow = found & (speed < self.rule.rearm_ratio * self.rule.max_speed_mps)
        self.alerted[rows[slow]] = False
        fire = fast & ~self.alerted[rows]
        events = []
        for k in np.flatnonzero(fire).tolist():
            self.alerted[rows[k]] = True
            extra = {"speed_mps": round(float(speed[k]), 3)}
            tid = int(tracks.track_id[k])
            events.append(
                make_event("overspeed", frame, tid, "", frame.pts, frame.index, extra=extra)
            )
        self.path.push(rows, frame.pts, g)
        return events

    def speeds(self) -> dict[int, float]:
        """Current smoothed speed (m/s) of every remembered track with a full window."""
        live = np.flatnonzero((self.slots.track_id >= 0) & np.isfinite(self.speed))
        return {int(self.slots.track_id[r]): float(self.speed[r]) for r in live.tolist()}
