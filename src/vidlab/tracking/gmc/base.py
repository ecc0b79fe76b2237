"""Camera-motion compensation (CMC): the strategy interface and warping track states."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

#: The 2x3 identity affine (no camera motion).
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
#: Entries of the 8-dimensional ``x, y, w, h, vx, vy, vw, vh`` state grouped as 2-vectors.
_PAIRS = 4


@runtime_checkable
class CameraMotion(Protocol):
    """Estimates the image motion between consecutive frames of one sequence."""

    def estimate(self, frame_bgr: np.ndarray | None, frame_id: int) -> np.ndarray:
        """The (2, 3) float64 affine mapping pixel coordinates of the previous frame to this one.

        Args:
            frame_bgr: (H, W, 3) uint8 image, or None when the sequence has no frames.
            frame_id: 1-based frame number.
        """
        ...

    def reset(self) -> None:
        """Forget the previous frame (call between sequences)."""
        ...


class NoMotion:
    """A static camera: always the identity."""

    def estimate(self, frame_bgr: np.ndarray | None, frame_id: int) -> np.ndarray:
        return IDENTITY.copy()

    def reset(self) -> None:
        """Nothing to forget."""


def warp_states(
    mean: np.ndarray, cov: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move all Kalman states into the current frame's coordinates in one operation.

    The state is read as four 2-vectors (centre, size, centre velocity, size velocity), each rotated
    and scaled by the affine's linear part; the translation moves the centre (BoT-SORT's scheme).

    Args:
        mean: (T, 8) states ``x, y, w, h, vx, vy, vw, vh`` (or ``a, h`` in place of ``w, h``).
        cov: (T, 8, 8) covariances.
        affine: (2, 3) previous-to-current pixel transform.

    Returns:
        The warped (T, 8) means and (T, 8, 8) covariances.
    """
    if mean.shape[1] != 2 * _PAIRS:
        raise ValueError(f"warp_states expects 8-dimensional states, got shape {mean.shape}")
    linear, shift = affine[:, :2], affine[:, 2]
    new_mean = (mean.reshape(-1, _PAIRS, 2) @ linear.T).reshape(mean.shape)
    new_mean[:, :2] += shift
    big = np.kron(np.eye(_PAIRS), linear)  # (8, 8) block-diagonal
    return new_mean, big @ cov @ big.T
