"""Directional line crossings, counted once per crossing, per direction and class.

For every (track, line) pair the analyzer keeps the side the track is confirmed on. The anchor's
side is the sign of the cross product of the line's direction and the anchor's offset from the
line's start (``all_corners``: all four corners must agree, otherwise the frame says nothing; an
anchor within ``margin_px`` of the line is on neither side, so a person standing on it under
detector jitter does not flip). A
change of side counts after `min_frames` consecutive frames on the new side and is dated at the
first of them; it is a crossing only if the anchor's path between its last position on the old side
and its first on the new one passes through the segment (not beyond its ends, unless the line is
``infinite``). Crossing towards the side ``in_direction`` points to is ``in``, the other way ``out``.
A track's first side is where it is first seen: appearing on one side is no crossing, so an id
switch cannot recount a person who crossed before.
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
        self._by_anchor = [
            (a, np.array([k for k, line in enumerate(self.lines) if line.anchor == a]))
            for a in self.anchors
        ]
        cap = self.slots.capacity
        self.side = np.zeros((cap, n), np.int8)  # confirmed side: +1 / -1 (0: not yet known)
        self.pending = np.zeros((cap, n), np.int64)
        self.since_pts = np.zeros((cap, n))
        self.since_index = np.zeros((cap, n), np.int64)
        self.valid = np.zeros((cap, n), bool)  # the pending change passed through the segment
        self.last_point = np.zeros((cap, n, 2))  # reference point on the confirmed side
        self.counts_in = np.zeros(n, np.int64)
        self.counts_out = np.zeros(n, np.int64)
        self.counts: Counter[tuple[str, str, int]] = Counter()  # (line, direction, class)

    def sides(self, xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, L) side of each box per line (+1 / -1, 0 undecided) and (N, L, 2) reference points."""
        n = len(xyxy)
        side = np.zeros((n, len(self.lines)), np.int8)
        ref = np.zeros((n, len(self.lines), 2))
        for anchor, idx in self._by_anchor:
            pts = anchor_points(xyxy, anchor)  # (N, P, 2)
            c = cross2(self.vec[idx][None, None], pts[:, :, None] - self.start[idx][None, None])
            margin = self.margin[idx]
            pos, neg = (c > margin).all(axis=1), (c < -margin).all(axis=1)  # (N, L_a)
            side[:, idx] = np.where(pos, 1, np.where(neg, -1, 0))
            ref[:, idx] = reference_points(xyxy, anchor)[:, None, :]
        return side, ref

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
        side = self.side[rows]
        pending = self.pending[rows]
        since_pts = self.since_pts[rows]
        since_index = self.since_index[rows]
        valid = self.valid[rows]
        last = self.last_point[rows]
        side[new] = 0
        unknown = side == 0
        unknown[new] = True
        init = unknown & (raw != 0)
        side[init] = raw[init]
        pending[unknown] = 0
        last[init] = ref[init]
        other = (raw != 0) & (raw != side) & ~unknown
        same = (raw == side) & ~unknown
        pending = np.where(other, pending + 1, np.where(same, 0, pending))
        start = other & (pending == 1)
        if start.any():
            k, ln = np.nonzero(start)
            since_pts[k, ln] = pts
            since_index[k, ln] = index
            valid[k, ln] = self._through_segment(last[k, ln], ref[k, ln], ln)
        last[same] = ref[same]
        flip = other & (pending >= self.min_frames)
        events = []
        if flip.any():
            classes = getattr(tracks, "class_id", None)
            for k, ln in zip(*np.nonzero(flip), strict=True):
                side[k, ln] = raw[k, ln]
                pending[k, ln] = 0
                last[k, ln] = ref[k, ln]
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
        self.side[rows] = side
        self.pending[rows] = pending
        self.since_pts[rows] = since_pts
        self.since_index[rows] = since_index
        self.valid[rows] = valid
        self.last_point[rows] = last
        return events

    def _forget(self, rows: np.ndarray) -> None:
        self.side[rows] = 0
        self.pending[rows] = 0
