"""Directional line crossings, counted once per crossing, per direction and class.

For every (track, line) pair the analyzer keeps the side the track is confirmed on. The anchor's
side is the sign of the cross product of the line's direction and the anchor's offset from the
line's start (``all_corners``: all four corners must agree, otherwise the frame says nothing; an
anchor within ``margin_px`` of the line is on neither side, so a person standing on it under
detector jitter does not flip). A change of side counts after `min_frames` consecutive frames on
the new side and is dated at the first of them; it is a crossing only if the anchor's move from
the frame before (where the track was last seen) to that first frame passes through the segment
(not beyond its ends, unless the line is ``infinite``). Crossing towards the side
``in_direction`` points to is ``in``, the other way ``out``. A track's first side is where it is
first seen: appearing on one side is no crossing, so an id switch cannot recount a person who
crossed before.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from vidlab.analytics.base import TrackAnalyzer, make_event
from vidlab.analytics.geometry import anchor_points, cross2, reference_points
from vidlab.analytics.layout import Line
from vidlab.pipeline.types import Event, Frame, Tracks

IN, OUT = "in", "out"


class LineAnalyzer(TrackAnalyzer):
    """Every line of one camera.

    Args:
        lines: the lines.
        max_tracks, forget_after_s: per-track state bounds (see `TrackAnalyzer`).
    """

    def __init__(
        self,
        lines: tuple[Line, ...] | list[Line],
        *,
        max_tracks: int = 2048,
        forget_after_s: float = 2.0,
    ) -> None:
        super().__init__(max_tracks=max_tracks, forget_after_s=forget_after_s)
        self.lines = tuple(lines)
        n = len(self.lines)
        self.names = [line.name for line in self.lines]
        self.start = np.array([line.start for line in self.lines]).reshape(n, 2)
        self.vec = np.array([line.end - line.start for line in self.lines]).reshape(n, 2)
        in_dir = np.array([line.in_direction for line in self.lines]).reshape(n, 2)
        self.in_side = np.sign(cross2(self.vec, in_dir)).astype(np.int8)  # (L,)
        self.min_frames = np.array([line.min_frames for line in self.lines], np.int64)
        # side tests compare cross products with margin * |d| (a distance of `margin_px`)
        self.margin = np.array([line.margin_px for line in self.lines]) * np.hypot(*self.vec.T)
        self.infinite = np.array([line.infinite for line in self.lines], bool)
        self.anchors = sorted({line.anchor for line in self.lines})
        self._group = np.array([self.anchors.index(line.anchor) for line in self.lines])
        self._by_anchor = [
            (a, np.flatnonzero(self._group == g)) for g, a in enumerate(self.anchors)
        ]
        cap = self.slots.capacity
        # per (track row, line), packed so that a frame reads and writes each array once:
        # ints: confirmed side (+1 / -1, 0 unknown), frames pending on the other side, index of
        # the first of them; floats: its time, whether the move passed through the segment
        self._ints = np.zeros((cap, n, 3), np.int64)
        self._floats = np.zeros((cap, n, 2))
        # each track's reference point in the frame it was last seen, per anchor kind
        self._prev = np.zeros((cap, len(self.anchors), 2))
        self.counts_in = np.zeros(n, np.int64)
        self.counts_out = np.zeros(n, np.int64)
        self.counts: Counter[tuple[str, str, int]] = Counter()  # (line, direction, class)

    def sides(self, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, L) side of each box per line (+1 / -1, 0 undecided) and (N, G, 2) reference
        points per anchor kind (`anchors`)."""
        n = len(xyxy)
        ref = np.zeros((n, len(self.anchors), 2))
        if len(self.anchors) == 1:
            side, ref[:, 0] = self._sides(xyxy, self.anchors[0], slice(None))
            return side, ref
        side = np.zeros((n, len(self.lines)), np.int64)
        for g, (anchor, idx) in enumerate(self._by_anchor):
            side[:, idx], ref[:, g] = self._sides(xyxy, anchor, idx)
        return side, ref

    def _sides(self, xyxy: np.ndarray, anchor: str, idx) -> tuple[np.ndarray, np.ndarray]:
        pts = anchor_points(xyxy, anchor)  # (N, P, 2)
        a, d, margin = self.start[idx], self.vec[idx], self.margin[idx]
        c = cross2(d[None, None], pts[:, :, None] - a[None, None])  # (N, P, L)
        side = (c > margin).all(axis=1).astype(np.int64) - (c < -margin).all(axis=1)
        return side, reference_points(xyxy, anchor)

    def _through_segment(self, p0: np.ndarray, p1: np.ndarray, lines: np.ndarray) -> np.ndarray:
        """Whether the moves p0 -> p1 (K, 2) cross lines `lines` (K,) within their segments."""
        a, d = self.start[lines], self.vec[lines]
        m = p1 - p0
        denom = cross2(d, m)
        t = np.divide(cross2(p0 - a, m), denom, out=np.full(len(m), 0.5), where=denom != 0)
        return self.infinite[lines] | ((t >= 0.0) & (t <= 1.0))

    def _step(self, frame: Frame, tracks: Tracks, rows: np.ndarray, new: np.ndarray) -> list[Event]:
        pts, index = frame.pts, frame.index
        raw, ref = self.sides(tracks.xyxy)
        ints, floats = self._ints[rows], self._floats[rows]
        side, pending, since_index = ints[..., 0], ints[..., 1], ints[..., 2]
        since_pts, valid = floats[..., 0], floats[..., 1]
        side[new] = 0
        unknown = side == 0
        init = unknown & (raw != 0)
        side[init] = raw[init]
        pending[unknown] = 0
        decided = (raw != 0) & ~unknown
        other = decided & (raw != side)
        pending += other
        pending[decided & (raw == side)] = 0
        start = other & (pending == 1)
        if start.any():
            k, ln = np.nonzero(start)
            g = self._group[ln]
            since_pts[k, ln] = pts
            since_index[k, ln] = index
            valid[k, ln] = self._through_segment(self._prev[rows[k], g], ref[k, g], ln)
        self._prev[rows] = ref
        flip = other & (pending >= self.min_frames)
        events = []
        if flip.any():
            classes = getattr(tracks, "class_id", None)
            for k, ln in zip(*np.nonzero(flip), strict=True):
                side[k, ln] = raw[k, ln]
                pending[k, ln] = 0
                if not valid[k, ln]:
                    continue  # went round the end of the segment
                direction = IN if raw[k, ln] == self.in_side[ln] else OUT
                cls = int(classes[k]) if classes is not None else 0
                (self.counts_in if direction == IN else self.counts_out)[ln] += 1
                self.counts[(self.names[ln], direction, cls)] += 1
                events.append(
                    make_event(
                        "line_crossing",
                        frame,
                        int(tracks.track_id[k]),
                        self.names[ln],
                        float(since_pts[k, ln]),
                        int(since_index[k, ln]),
                        label=direction,
                        extra={"class_id": cls},
                    )
                )
        self._ints[rows] = ints
        self._floats[rows] = floats
        return events

    def _forget(self, rows: np.ndarray) -> None:
        self._ints[rows] = 0

    @property
    def side(self) -> np.ndarray:
        """(capacity, L) confirmed side of each track row per line (0: unknown)."""
        return self._ints[..., 0]
