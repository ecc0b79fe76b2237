"""Multi-object tracking: SORT, DeepSORT, ByteTrack, BoT-SORT and OC-SORT over one typed interface.

For people who bring their own detector::

    from vidlab.tracking import create_tracker

    tracker = create_tracker("bytetrack", track_thresh=0.5)
    for dets in detections_per_frame:          # (N, 5) float arrays x1, y1, x2, y2, score
        tracks = tracker.update(dets)           # (M, 6) arrays x1, y1, x2, y2, track_id, score
    tracker.reset()                             # before the next sequence

Importing this package is light (numpy, scipy, OpenCV; no torch).
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any

from vidlab.tracking.types import Detections, IdAllocator, Tracks, TrackSnapshot, TrackState

if TYPE_CHECKING:
    from vidlab.tracking.trackers.base import BaseTracker

#: Tracker names users type, and the classes they build (imported on demand).
TRACKERS: dict[str, str] = {
    "sort": "vidlab.tracking.trackers.sort:Sort",
    "deepsort": "vidlab.tracking.trackers.deepsort:DeepSort",
    "bytetrack": "vidlab.tracking.trackers.bytetrack:ByteTrack",
    "botsort": "vidlab.tracking.trackers.botsort:BotSort",
    "ocsort": "vidlab.tracking.trackers.ocsort:OcSort",
}


def tracker_class(name: str) -> type[BaseTracker]:
    """The tracker class registered under ``name``.

    Raises:
        ValueError: for an unknown name, listing the valid ones (and the closest match).
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in TRACKERS:
        close = difflib.get_close_matches(key, TRACKERS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        valid = ", ".join(sorted(TRACKERS))
        raise ValueError(f"unknown tracker {name!r}; valid names: {valid}.{hint}")
    module_name, _, cls_name = TRACKERS[key].partition(":")
    return getattr(importlib.import_module(module_name), cls_name)


def create_tracker(name: str, **params: Any) -> BaseTracker:
    """Build a tracker by name with keyword parameters (the constructor's named thresholds)."""
    return tracker_class(name)(**params)


__all__ = [
    "TRACKERS",
    "Detections",
    "IdAllocator",
    "TrackSnapshot",
    "TrackState",
    "Tracks",
    "create_tracker",
    "tracker_class",
]
