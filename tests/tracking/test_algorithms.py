"""Behaviour that sets each tracker apart: ByteTrack's low-score stage, OC-SORT's OCM/OCR/ORU,
BoT-SORT's Re-ID, DeepSORT's appearance cascade."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.tracking import create_tracker
from vidlab.tracking.trackers.ocsort import OcSort
from vidlab.tracking.types import Detections

SIZE = np.array([40.0, 100.0])


def _box(x: float, y: float = 100.0) -> np.ndarray:
    return np.array([x, y, x + SIZE[0], y + SIZE[1]])


def _dets(boxes, scores, emb=None) -> Detections:
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return Detections(boxes, np.asarray(scores, float), np.zeros(len(boxes), np.int64), emb)


def test_bytetrack_second_stage_follows_low_score_detections():
    """An occluded object detected with score 0.3 (< track_thresh 0.5) for 15 frames: the
    low-score association keeps reporting it; without that stage the track is not reported."""

    def reported_frames(**params) -> int:
        tracker = create_tracker("bytetrack", **params)
        count = 0
        for f in range(30):
            score = 0.3 if 10 <= f < 25 else 0.9
            out = tracker.update(np.array([[*_box(10 + 3 * f), score]]))
            assert set(out[:, 4].astype(int).tolist()) <= {1}
            count += len(out)
        return count

    assert reported_frames() == 30
    assert reported_frames(low_thresh=0.5) == 15  # second stage off: low boxes are discarded


def _diagonal_tracker(step: np.ndarray) -> tuple[OcSort, np.ndarray]:
    """An OC-SORT tracker that followed a box moving by ``step`` (dx, dy) per frame for 15 frames;
    returns it and the box expected in the next frame."""
    tracker = OcSort(min_hits=0)
    start = _box(100, 100)
    for f in range(15):
        tracker.update(np.array([[*(start + f * np.tile(step, 2)), 0.9]]))
    return tracker, start + 15 * np.tile(step, 2)


@pytest.mark.parametrize("dy", [8.0, -8.0])
def test_ocsort_momentum_prefers_detection_continuing_the_motion(dy):
    """OCM: two detections equally far from the prediction, one along the observed motion and one
    off it: the one along the motion is taken (mirrored geometry, so no tie-break can pass both)."""
    step = np.array([8.0, dy])
    tracker, nxt = _diagonal_tracker(step)
    along = nxt + np.tile(step * 0.75, 2)
    off = nxt + np.tile([step[0] * 0.75, -step[1] * 0.75], 2)
    out = tracker.update(np.array([[*off, 0.9], [*along, 0.9]]))
    np.testing.assert_allclose(out[out[:, 4] == 1][0, :4], along, atol=1e-6)


def test_ocsort_recovery_matches_last_observation():
    """OCR: an object that stops while unseen is found again near where it was last observed,
    although its Kalman prediction ran far ahead."""

    def run(recover: bool) -> list[int]:
        tracker = OcSort()
        if not recover:
            tracker._recovery_association = lambda rows, dets, cols: cols  # no OCR stage
        ids = []
        for f in range(12):
            out = tracker.update(np.array([[*_box(10 + 12 * f), 0.9]]))
        last = 10 + 12 * 11
        for _ in range(4):  # unseen while the prediction keeps moving 12 px per frame
            tracker.update(np.zeros((0, 5)))
        for _ in range(6):  # back, standing still where it was last seen
            out = tracker.update(np.array([[*_box(last + 3), 0.9]]))
            ids.extend(out[:, 4].astype(int).tolist())
        return sorted(set(ids))

    assert run(recover=True) == [1]
    assert run(recover=False) != [1]


def test_ocsort_re_update_replays_virtual_trajectory():
    """ORU: a track found again after a gap equals its last observed posterior re-run through
    predict/update on the straight-line virtual boxes, then updated with the real detection."""
    from vidlab.tracking.types import xywh_to_xyxy, xyxy_to_xywh

    def run(re_update: bool):
        tracker = OcSort(min_hits=0)
        if not re_update:
            tracker._re_update = lambda rows, boxes: None
        wide = np.array([0.0, 0, 60, 0])  # 100 x 100 boxes: the turned-back box still overlaps
        for f in range(15):
            tracker.update(np.array([[*(_box(100 + 10 * f) + wide), 0.9]]))
        t = tracker._table
        post = (t.post_mean.copy(), t.post_cov.copy(), t.det_xyxy.copy())
        for _ in range(4):
            tracker.update(np.zeros((0, 5)))
        new = _box(100 + 10 * 14 - 20) + wide  # it turned back while unseen
        tracker.update(np.array([[*new, 0.9]]))
        assert tracker._table.track_id.tolist() == [1]  # found again (by OCR), same track
        return tracker, post, new

    tracker, (mean, cov, last), new = run(re_update=True)
    kf, gap = tracker.kf, 5
    start, end = xyxy_to_xywh(last), xyxy_to_xywh(new[None])
    for i in range(1, gap):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, kf.measure(xywh_to_xyxy(start + (end - start) * i / gap)))
    mean, cov = kf.predict(mean, cov)
    mean, cov = kf.update(mean, cov, kf.measure(new[None]))
    np.testing.assert_allclose(tracker._table.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(tracker._table.cov, cov, rtol=1e-10)
    plain, _, _ = run(re_update=False)
    assert not np.allclose(plain._table.cov, cov)  # without ORU the covariance stays inflated


def test_botsort_reid_separates_crossing_objects():
    """Two objects swap places in one frame (boxes overlap both tracks); appearance keeps ids."""
    emb = np.eye(2, 8, dtype=np.float32)
    a, b = _box(100), _box(130)

    def ids_after_swap(with_reid: bool) -> tuple[int, int]:
        tracker = create_tracker(
            "botsort", cmc="none", with_reid=with_reid, proximity_thresh=0.9, appearance_thresh=0.25
        )
        for _ in range(5):
            tracker.update(_dets([a, b], [0.9, 0.9], emb))
        out = tracker.update(_dets([b + [2, 0, 2, 0], a + [2, 0, 2, 0]], [0.9, 0.9], emb))
        left, right = out[np.argmin(out[:, 0]), 4], out[np.argmax(out[:, 0]), 4]
        return int(left), int(right)

    assert ids_after_swap(with_reid=True) == (2, 1)  # object 1 (embedding 0) is now on the right
    assert ids_after_swap(with_reid=False) == (
        1,
        2,
    )  # IoU alone keeps positions, swapping identities


def test_deepsort_cascade_uses_appearance():
    """Same swap for DeepSORT: the appearance cascade assigns by embedding within the Mahalanobis gate."""
    emb = np.eye(2, 8, dtype=np.float32)
    a, b = _box(100), _box(125)
    tracker = create_tracker("deepsort")
    for _ in range(6):
        tracker.update(_dets([a, b], [0.9, 0.9], emb))
    out = tracker.update(_dets([b, a], [0.9, 0.9], emb))
    by_x = out[np.argsort(out[:, 0])]
    assert by_x[:, 4].astype(int).tolist() == [2, 1]


@pytest.mark.parametrize("name", ["sort", "deepsort", "bytetrack", "botsort", "ocsort"])
def test_first_frame_rules(name):
    """Reporting in the very first frame follows each reference: SORT-family and ByteTrack-family
    report immediately, DeepSORT waits for n_init detections."""
    tracker = create_tracker(name, **({"cmc": "none"} if name == "botsort" else {}))
    d = _dets([_box(10), _box(200)], [0.9, 0.9], np.eye(2, 4, dtype=np.float32))
    out = tracker.update(d)
    assert len(out) == (0 if name == "deepsort" else 2)
