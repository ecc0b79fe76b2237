"""What every track analyzer shares: per-track rows (`TrackSlots`), expiry, and event records."""

from __future__ import annotations

from typing import Any

import numpy as np

from vidlab.analytics.state import TrackSlots
from vidlab.pipeline.types import Event, Frame, FrameResult, Tracks


def make_event(
    kind: str,
    frame: Frame,
    track_id: int,
    item: str,
    t: float,
    index: int,
    *,
    label: str = "",
    confidence: float = 1.0,
    extra: dict[str, Any] | None = None,
) -> Event:
    """An instantaneous event at stream time `t` (frame `index`) of `frame`'s camera."""
    return Event(
        type=kind,
        camera=frame.stream_id,
        track_id=int(track_id),
        item=item,
        t_start=float(t),
        t_end=float(t),
        frame_start=int(index),
        frame_end=int(index),
        confidence=float(confidence),
        label=label,
        extra=extra or {},
    )


class TrackAnalyzer:
    """Base of the analyzers that keep state per track.

    Subclasses implement `_step(frame, tracks, rows, new)` (rows: the tracks' state rows; new:
    which rows were just allocated and must be initialised) and may override `_forget(rows)`.

    Args:
        max_tracks: tracks remembered at once.
        forget_after_s: per-track state is dropped after this many stream seconds unseen.
    """

    def __init__(self, *, max_tracks: int, forget_after_s: float) -> None:
        self.slots = TrackSlots(max_tracks, forget_after_s)

    def update(self, result: FrameResult) -> list[Event]:
        """Advance by one frame (its tracks, in source pixels) and return completed events."""
        frame = result.frame
        tracks = result.tracks if result.tracks is not None else Tracks.empty()
        expired = self.slots.expire(frame.pts)
        if len(expired):
            self._forget(expired)
        rows, new = self.slots.lookup(tracks.track_id, frame.pts)
        return self._step(frame, tracks, rows, new)

    def close(self) -> list[Event]:
        """End of stream: nothing is pending by default."""
        return []

    def _step(self, frame: Frame, tracks: Tracks, rows: np.ndarray, new: np.ndarray) -> list[Event]:
        raise NotImplementedError

    def _forget(self, rows: np.ndarray) -> None:
        """Rows whose tracks were forgotten (they will be re-initialised when reused)."""
