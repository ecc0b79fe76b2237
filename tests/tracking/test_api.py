"""The Python API for people who bring their own detector."""

from __future__ import annotations

import numpy as np
import pytest

import vidlab.tracking as vt
from vidlab.tracking.types import Detections, IdAllocator, Tracks


def test_create_tracker_names_and_shapes():
    dets = np.array([[10.0, 10, 50, 100, 0.9], [100, 10, 140, 100, 0.8]])
    emb = np.eye(2, 4, dtype=np.float32)
    for name in vt.TRACKERS:
        tracker = vt.create_tracker(name, **({"cmc": "none"} if name == "botsort" else {}))
        inp = Detections.from_array(dets, embedding=emb) if name == "deepsort" else dets
        for _ in range(3):  # DeepSORT confirms after n_init = 3 detections
            out = tracker.update(inp)
        assert out.shape == (2, 6), name
        np.testing.assert_allclose(np.sort(out[:, 5]), [0.8, 0.9])
        typed = tracker.update_tracks(inp)
        assert isinstance(typed, Tracks) and typed.to_array().shape[1] == 6


def test_unknown_tracker_lists_valid_names():
    with pytest.raises(
        ValueError, match="valid names: botsort, bytetrack, deepsort, ocsort, sort.*'bytetrack'"
    ):
        vt.create_tracker("bytetrak")
    assert isinstance(vt.create_tracker("Byte-Track"), vt.tracker_class("bytetrack"))


def test_unknown_parameter_is_an_error():
    with pytest.raises(TypeError, match="track_threshold"):
        vt.create_tracker("bytetrack", track_threshold=0.3)


def test_detection_validation_messages():
    with pytest.raises(ValueError, match=r"\(N, 5\).*got shape \(3, 4\)"):
        Detections.from_array(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="embedding must have shape"):
        Detections.from_array(np.zeros((2, 5)), embedding=np.zeros((3, 8)))
    with pytest.raises(ValueError, match="NaN or inf"):
        Detections.from_array(np.array([[0, 0, np.nan, 1, 1]]))
    with_class = Detections.from_array(np.array([[0.0, 0, 1, 1, 0.5, 3]]))
    assert with_class.class_id.tolist() == [3]


def test_id_allocator():
    ids = IdAllocator()
    assert ids.take(2).tolist() == [1, 2] and ids.take(1).tolist() == [3]
    ids.reset()
    assert ids.take(1).tolist() == [1]


def test_importing_tracking_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, vidlab.tracking, vidlab.tasks.track; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
