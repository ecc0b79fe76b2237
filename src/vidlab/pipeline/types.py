"""The records the stream runtime's stages pass to each other, and the two stage protocols that other
packages implement (`Analyzer` in analytics, `Sink` for stores and buses).

Times are stream seconds from the source's presentation timestamps (never frame index / fps: a
variable-frame-rate file or a stream with gaps has no constant rate). Boxes are ``xyxy`` in the
source's pixels, whatever resolution the frame was decoded at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vidlab.evaluation.events import EVENT_TYPES
from vidlab.tracking.types import Detections, Tracks

__all__ = [
    "Detections",
    "Event",
    "EVENT_TYPES",
    "Analyzer",
    "Frame",
    "FrameResult",
    "Sink",
    "Tracks",
]


@dataclass(slots=True)
class Frame:
    """One decoded frame of one stream.

    Attributes:
        stream_id: the camera / source name (unique within a pipeline).
        index: 0-based index of the frame in the source, counting frames that were dropped.
        pts: presentation time in stream seconds (from the container or the live clock).
        capture_time: ``time.monotonic()`` when the source produced the frame (latency origin).
        image: (H, W, 3) uint8 RGB at the decode resolution, or None once a stage released it.
        source_size: (width, height) of the source in pixels; ``image`` may be smaller.
    """

    stream_id: str
    index: int
    pts: float
    capture_time: float
    image: np.ndarray | None
    source_size: tuple[int, int]

    @property
    def scale(self) -> tuple[float, float]:
        """(sx, sy) that map decoded-image pixels to source pixels."""
        if self.image is None:
            return 1.0, 1.0
        h, w = self.image.shape[:2]
        return self.source_size[0] / w, self.source_size[1] / h


@dataclass(slots=True)
class Event:
    """One analytics event: a typed record the sinks store and the scorer matches to ground truth.

    Attributes:
        type: one of `EVENT_TYPES`.
        camera: the stream id.
        track_id: the track that caused it (-1 for scene-level events such as crowding).
        item: the zone or line name ("" when none).
        t_start, t_end: stream seconds (equal for instantaneous events such as a line crossing).
        frame_start, frame_end: source frame indices of the same instants.
        confidence: in [0, 1].
        label: the action label for `action` events, the direction (`in` / `out`) of a line
            crossing; "" otherwise.
        snapshot: optional path of a saved crop or frame.
        extra: further typed values (speed in m/s, dwell seconds, occupancy, ...).
    """

    type: str
    camera: str
    track_id: int
    item: str
    t_start: float
    t_end: float
    frame_start: int
    frame_end: int
    confidence: float = 1.0
    label: str = ""
    snapshot: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (one line of events.jsonl)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Inverse of `to_dict`; unknown keys are an error (they are typos in a hand-written file)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown event keys {sorted(unknown)}; expected a subset of {sorted(known)}"
            )
        return cls(**data)


@dataclass(slots=True)
class FrameResult:
    """What the pipeline knows about one frame after every stage ran.

    Attributes:
        frame: the frame (its image may be None once no later stage needs it).
        detections: the detector's output in source pixels (None before the detect stage).
        tracks: the tracker's confirmed tracks (None before the track stage).
        events: events the analyze stage emitted on this frame.
        timings: seconds spent per stage on this frame (`decode`, `detect`, `track`, `analyze`, ...).
    """

    frame: Frame
    detections: Detections | None = None
    tracks: Tracks | None = None
    events: list[Event] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Analyzer(Protocol):
    """The analyze stage: sees every frame's tracks in order, returns the events they complete."""

    def update(self, result: FrameResult) -> list[Event]: ...

    def close(self) -> list[Event]:
        """Flush at end of stream (events still open, e.g. a dwell in progress)."""
        ...


@runtime_checkable
class Sink(Protocol):
    """A consumer of results (stores, buses, annotated video). Must not buffer without bound."""

    def write(self, result: FrameResult) -> None: ...

    def close(self) -> None: ...
