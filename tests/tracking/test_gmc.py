"""Camera-motion compensation: strategies recover a known image shift; warps move track states."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidlab.tracking import create_tracker
from vidlab.tracking.gmc import (
    IDENTITY,
    EccMotion,
    FileMotion,
    NoMotion,
    SparseFlowMotion,
    create_camera_motion,
    warp_states,
    write_motion_file,
)
from vidlab.tracking.kalman import XYWHKalmanFilter

SHIFT = (6.0, -4.0)  # pixels, x and y


def _textured(seed: int = 0, size=(240, 320)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
    img = cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(img, (5, 5), 1.0)


def _shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.array([[1.0, 0, dx], [0, 1.0, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize(
    "strategy", [SparseFlowMotion(), EccMotion(downscale=2.0)], ids=["sparse_flow", "ecc"]
)
def test_strategy_recovers_translation(strategy):
    img = _textured()
    assert np.allclose(strategy.estimate(img, 1), IDENTITY)  # first frame: nothing to compare
    affine = strategy.estimate(_shifted(img, *SHIFT), 2)
    assert affine.shape == (2, 3)
    np.testing.assert_allclose(affine[:, 2], SHIFT, atol=0.5)
    np.testing.assert_allclose(affine[:, :2], np.eye(2), atol=0.02)
    strategy.reset()
    assert np.allclose(strategy.estimate(img, 1), IDENTITY)


def test_strategies_without_frames_assume_no_motion():
    for strategy in (SparseFlowMotion(), EccMotion(), NoMotion()):
        assert np.array_equal(strategy.estimate(None, 3), IDENTITY)


def test_file_strategy_round_trip(tmp_path):
    affines = {1: IDENTITY, 2: np.array([[1.0, 0.01, 3.5], [-0.01, 1.0, -2.0]])}
    path = tmp_path / "gmc.txt"
    write_motion_file(path, affines)
    motion = FileMotion(path)
    np.testing.assert_allclose(motion.estimate(None, 2), affines[2])
    np.testing.assert_allclose(motion.estimate(None, 99), IDENTITY)
    np.testing.assert_allclose(FileMotion(path, frame_offset=1).estimate(None, 1), affines[2])


def test_file_strategy_reports_bad_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1 1 0 0 0 1 0\n2 1 0 0 0 1\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected 7 numbers"):
        FileMotion(path)


def test_create_camera_motion_lists_names():
    assert isinstance(create_camera_motion("none"), NoMotion)
    with pytest.raises(ValueError, match="valid: \\['ecc', 'file', 'none', 'sparse_flow'\\]"):
        create_camera_motion("orb")


def test_warp_states_translation_and_rotation():
    kf = XYWHKalmanFilter()
    boxes = np.array([[10.0, 20, 50, 120], [200, 100, 240, 180]])
    mean, cov = kf.initiate(kf.measure(boxes))
    mean[:, 4:6] = [[1.0, 2.0], [-1.0, 0.5]]
    moved, moved_cov = warp_states(mean, cov, np.array([[1.0, 0, 5.0], [0, 1.0, -3.0]]))
    np.testing.assert_allclose(kf.to_xyxy(moved), boxes + [5, -3, 5, -3])
    np.testing.assert_allclose(moved[:, 4:], mean[:, 4:])
    np.testing.assert_allclose(moved_cov, cov)
    c, s = np.cos(0.1), np.sin(0.1)
    rot, rot_cov = warp_states(mean, cov, np.array([[c, -s, 0.0], [s, c, 0.0]]))
    np.testing.assert_allclose(rot[:, :2], mean[:, :2] @ np.array([[c, -s], [s, c]]).T)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(rot_cov), np.linalg.eigvalsh(cov), rtol=1e-9, atol=1e-9
    )


def test_botsort_follows_objects_through_camera_pan():
    """Static objects, camera panning fast: without compensation the predictions miss."""
    img = _textured(1, size=(360, 640))
    boxes = np.array([[100.0, 100, 140, 200], [300.0, 120, 340, 220], [480.0, 90, 520, 190]])
    pan = 12.0  # pixels per frame: the scene moves left
    results = {}
    for cmc in ("sparse_flow", "none"):
        tracker = create_tracker("botsort", cmc=cmc, track_thresh=0.5, match_thresh=0.5)
        ids = []
        for f in range(12):
            frame = _shifted(img, -pan * f, 0.0)
            dets = np.concatenate([boxes - [pan * f, 0, pan * f, 0], np.full((3, 1), 0.9)], axis=1)
            # Every other frame the detector misses everything: prediction must carry the tracks.
            out = tracker.update(dets if f % 2 == 0 or f < 3 else np.zeros((0, 5)), frame)
            ids.extend(out[:, 4].astype(int).tolist())
        results[cmc] = max(ids)
    assert results["sparse_flow"] == 3
    assert results["none"] > 3  # predictions stay where the objects were: ids are lost


def test_botsort_compensation_handles_camera_jump():
    """A sudden camera jump: compensation keeps ids, the plain Kalman prediction loses them."""
    img = _textured(2, size=(360, 640))
    boxes = np.array([[100.0, 100, 140, 200], [300.0, 120, 340, 220]])
    max_ids = {}
    for cmc in ("sparse_flow", "none"):
        tracker = create_tracker("botsort", cmc=cmc)
        seen = set()
        for f in range(10):
            dx = 0.0 if f < 5 else -35.0  # the camera jumps 35 px right at frame 5
            frame = _shifted(img, dx, 0.0)
            dets = np.concatenate([boxes + [dx, 0, dx, 0], np.full((2, 1), 0.9)], axis=1)
            seen |= set(tracker.update(dets, frame)[:, 4].astype(int).tolist())
        max_ids[cmc] = max(seen)
    assert max_ids["sparse_flow"] == 2
    assert max_ids["none"] > 2
