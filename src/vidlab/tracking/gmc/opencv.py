"""Image-based camera-motion estimation with OpenCV: sparse optical flow and ECC."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from vidlab.tracking.gmc.base import IDENTITY

log = logging.getLogger(__name__)

_MIN_POINTS = 5  # fewer tracked corners than this: do not trust a fitted affine


def _gray(frame_bgr: np.ndarray, downscale: float) -> np.ndarray:
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) BGR frame, got shape {frame_bgr.shape}")
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    if downscale > 1:
        h, w = gray.shape
        gray = cv2.resize(gray, (int(w / downscale), int(h / downscale)))
    return gray


class SparseFlowMotion:
    """Corners tracked by pyramidal Lucas-Kanade, a RANSAC similarity transform fitted to them.

    BoT-SORT's default estimator. Args: ``downscale`` (image shrink factor before estimation),
    ``max_corners``, ``quality_level`` and ``min_distance`` (``cv2.goodFeaturesToTrack``), and
    ``ransac_threshold`` (pixels, at the downscaled resolution).
    """

    def __init__(
        self,
        *,
        downscale: float = 2.0,
        max_corners: int = 1000,
        quality_level: float = 0.01,
        min_distance: float = 1.0,
        block_size: int = 3,
        ransac_threshold: float = 3.0,
    ) -> None:
        self.downscale = downscale
        self.corner_args = dict(
            maxCorners=max_corners,
            qualityLevel=quality_level,
            minDistance=min_distance,
            blockSize=block_size,
        )
        self.ransac_threshold = ransac_threshold
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None
        self._prev_points: np.ndarray | None = None

    def estimate(self, frame_bgr: np.ndarray | None, frame_id: int) -> np.ndarray:
        if frame_bgr is None:
            return IDENTITY.copy()
        gray = _gray(frame_bgr, self.downscale)
        prev, prev_points = self._prev, self._prev_points
        self._prev = gray
        self._prev_points = cv2.goodFeaturesToTrack(gray, mask=None, **self.corner_args)
        if prev is None or prev_points is None or prev.shape != gray.shape:
            return IDENTITY.copy()
        points, status, _err = cv2.calcOpticalFlowPyrLK(prev, gray, prev_points, None)
        ok = status.ravel() == 1
        if ok.sum() < _MIN_POINTS:
            log.debug(
                "frame %d: only %d flow points, assuming no camera motion", frame_id, ok.sum()
            )
            return IDENTITY.copy()
        affine, _inliers = cv2.estimateAffinePartial2D(
            prev_points[ok],
            points[ok],
            method=cv2.RANSAC,
            ransacReprojThreshold=self.ransac_threshold,
        )
        if affine is None:
            return IDENTITY.copy()
        affine = affine.astype(np.float64)
        affine[:, 2] *= self.downscale
        return affine


class EccMotion:
    """Enhanced correlation coefficient alignment (``cv2.findTransformECC``), Euclidean by default.

    Args: ``downscale`` (image shrink factor), ``max_iterations`` and ``eps`` (stopping criteria),
    ``blur_sigma`` (Gaussian pre-blur in pixels, 0 to disable), ``motion`` (an OpenCV motion type).
    """

    def __init__(
        self,
        *,
        downscale: float = 5.0,
        max_iterations: int = 100,
        eps: float = 1e-5,
        blur_sigma: float = 1.5,
        motion: int = cv2.MOTION_EUCLIDEAN,
    ) -> None:
        self.downscale, self.blur_sigma, self.motion = downscale, blur_sigma, motion
        self.criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, max_iterations, eps)
        self.reset()

    def reset(self) -> None:
        self._prev: np.ndarray | None = None

    def estimate(self, frame_bgr: np.ndarray | None, frame_id: int) -> np.ndarray:
        if frame_bgr is None:
            return IDENTITY.copy()
        gray = _gray(frame_bgr, self.downscale)
        if self.blur_sigma > 0:
            gray = cv2.GaussianBlur(gray, (3, 3), self.blur_sigma)
        prev, self._prev = self._prev, gray
        if prev is None or prev.shape != gray.shape:
            return IDENTITY.copy()
        warp = np.eye(2, 3, dtype=np.float32)
        try:
            _cc, warp = cv2.findTransformECC(prev, gray, warp, self.motion, self.criteria, None, 1)
        except cv2.error as err:
            log.warning("frame %d: ECC did not converge (%s); assuming no motion", frame_id, err)
            return IDENTITY.copy()
        affine = warp.astype(np.float64)
        affine[:, 2] *= self.downscale
        return affine
