"""ByteTrack's removal bookkeeping as in the reference: the grace frame and expired tracks."""

from __future__ import annotations

import numpy as np

from vidlab.tracking import create_tracker
from vidlab.tracking.types import TrackState

BOX = np.array([[100.0, 100.0, 140.0, 200.0, 0.9]])
NONE = np.zeros((0, 5))
BUFFER = 4  # max_time_lost at 30 fps


def _hide_then_show(missed: int, **params) -> tuple[object, np.ndarray]:
    """A static object seen for 5 frames, hidden for ``missed`` frames, then seen again."""
    tracker = create_tracker("bytetrack", track_buffer=BUFFER, **params)
    for _ in range(5):
        tracker.update(BOX)
    for _ in range(missed):
        tracker.update(NONE)
    return tracker, tracker.update(BOX)


def test_lost_track_found_again_in_its_grace_frame():
    # Hidden BUFFER + 1 frames: past max_time_lost, yet the reference still matches it.
    _, out = _hide_then_show(BUFFER + 1)
    assert out[:, 4].tolist() == [1.0]
    # Without the grace frame it is gone: the detection starts a new (unreported) track.
    _, out = _hide_then_show(BUFFER + 1, lost_grace_frames=0)
    assert len(out) == 0
    # One frame later it is gone either way.
    _, out = _hide_then_show(BUFFER + 2)
    assert len(out) == 0


def test_expired_track_found_again_is_removed_at_its_next_miss():
    tracker, _ = _hide_then_show(BUFFER + 1)
    tracker.update(NONE)
    assert len(tracker.snapshot().track_id) == 0  # removed at once, not lost
    # A track found again before expiring is merely lost after a miss.
    tracker, _ = _hide_then_show(BUFFER)
    tracker.update(NONE)
    assert tracker.snapshot().with_state(TrackState.LOST).tolist() == [1]


def test_reset_forgets_expired_tracks():
    tracker, _ = _hide_then_show(BUFFER + 1)
    tracker.reset()
    for _ in range(3):
        tracker.update(BOX)
    tracker.update(NONE)  # the new track 1 is not the expired one: it is kept as lost
    assert tracker.snapshot().with_state(TrackState.LOST).tolist() == [1]
