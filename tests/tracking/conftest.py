"""Helpers shared by the tracking tests: tracker builders and tiny synthetic detection streams."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vidlab.tracking import create_tracker
from vidlab.tracking.trackers.base import BaseTracker
from vidlab.tracking.types import Detections

ALL_TRACKERS = ["sort", "deepsort", "bytetrack", "botsort", "ocsort"]
EMBED_DIM = 8

# Short lifetimes keep lifecycle tests quick; everything else stays at the paper defaults.
_SHORT = {
    "sort": {"max_age": 4},
    "deepsort": {"max_age": 4},
    "bytetrack": {"track_buffer": 4},
    "botsort": {"track_buffer": 4, "cmc": "none"},
    "ocsort": {"max_age": 4},
}


def build_tracker(name: str, short: bool = False, **params) -> BaseTracker:
    """A tracker by name; BoT-SORT without image-based motion (the tests give no frames)."""
    base = dict(_SHORT[name]) if short else ({"cmc": "none"} if name == "botsort" else {})
    return create_tracker(name, **(base | params))


def identity_embeddings(ids: np.ndarray) -> np.ndarray:
    """(N, EMBED_DIM) unit embeddings, one fixed direction per identity (deterministic)."""
    out = np.zeros((len(ids), EMBED_DIM), np.float32)
    for k, i in enumerate(ids):
        v = np.random.default_rng(int(i)).standard_normal(EMBED_DIM)
        out[k] = v / np.linalg.norm(v)
    return out


def frame_dets(boxes_xyxy: np.ndarray, ids: np.ndarray, score: float = 0.9) -> Detections:
    """Detections of one frame with per-identity embeddings (used by appearance trackers)."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    return Detections(
        boxes,
        np.full(len(boxes), score),
        np.zeros(len(boxes), np.int64),
        identity_embeddings(np.asarray(ids)),
    )


def walkers(
    num_frames: int, num_objects: int = 3, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Well separated boxes moving at constant velocity: ``[(boxes_xyxy (N, 4), ids (N,)), ...]``."""
    rng = np.random.default_rng(seed)
    start = np.stack(
        [np.arange(num_objects) * 150.0 + 20, rng.uniform(20, 60, num_objects)], axis=1
    )
    vel = rng.uniform(-2, 2, (num_objects, 2))
    size = np.array([40.0, 100.0])
    frames = []
    for f in range(num_frames):
        tl = start + f * vel
        frames.append((np.concatenate([tl, tl + size], axis=1), np.arange(1, num_objects + 1)))
    return frames


@pytest.fixture(params=ALL_TRACKERS)
def tracker_name(request) -> str:
    return request.param


@pytest.fixture
def make_tracker(tracker_name: str) -> Callable[..., BaseTracker]:
    def _make(short: bool = False, **params) -> BaseTracker:
        return build_tracker(tracker_name, short, **params)

    return _make


class TrackingHelpers:
    """The helpers above, handed to tests through the ``th`` fixture."""

    walkers = staticmethod(walkers)
    frame_dets = staticmethod(frame_dets)
    identity_embeddings = staticmethod(identity_embeddings)
    build_tracker = staticmethod(build_tracker)
    all_trackers = ALL_TRACKERS


@pytest.fixture(scope="session")
def th() -> TrackingHelpers:
    return TrackingHelpers()
