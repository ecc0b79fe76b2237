"""Batched constant-velocity Kalman filters over stacked track states.

Every function works on all tracks at once: means are ``(T, S)`` arrays and covariances ``(T, S,
S)``, where ``S`` is the state size. The measurement is always a 4-vector box whose format depends
on the filter (``xyah``, ``xywh`` or ``xysr``, see :mod:`vidlab.tracking.types`), observed directly
by the first four state entries (``H = [I_4, 0]``); the remaining entries are their per-frame
velocities.

Three noise models from the papers:

- :class:`XYAHKalmanFilter`: DeepSORT (Wojke et al., 2017) and ByteTrack (Zhang et al., 2022); noise
  proportional to the box height.
- :class:`XYWHKalmanFilter`: BoT-SORT (Aharon et al., 2022); noise proportional to width and height
  separately, so the width is estimated directly instead of through the aspect ratio.
- :class:`XYSRKalmanFilter`: SORT (Bewley et al., 2016) and OC-SORT (Cao et al., 2023); constant
  noise, 7-dimensional state without an aspect-ratio velocity.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from vidlab.tracking.types import (
    xyah_to_xyxy,
    xysr_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_xyah,
    xyxy_to_xysr,
    xyxy_to_xywh,
)

MEAS_DIM = 4
# DeepSORT's noise weights: position std = 1/20 of the box size, velocity std = 1/160 per frame.
STD_WEIGHT_POSITION = 1.0 / 20
STD_WEIGHT_VELOCITY = 1.0 / 160
# DeepSORT's fixed standard deviations for the aspect ratio (position, velocity, measurement).
ASPECT_STD_POSITION = 1e-2
ASPECT_STD_VELOCITY = 1e-5
ASPECT_STD_MEASUREMENT = 1e-1
# Initial uncertainty multipliers of DeepSORT/ByteTrack (2x position std, 10x velocity std).
INIT_POSITION_SCALE = 2.0
INIT_VELOCITY_SCALE = 10.0


class KalmanFilter(ABC):
    """Constant-velocity Kalman filter over ``(T, S)`` means and ``(T, S, S)`` covariances."""

    state_dim: int = 2 * MEAS_DIM

    @property
    def cov_shape(self) -> tuple[int, ...]:
        """Shape of one track's covariance in this filter's storage."""
        return (self.state_dim, self.state_dim)

    def __init__(self) -> None:
        s = self.state_dim
        self._diag_idx = np.arange(s)
        self._num_velocities = s - MEAS_DIM
        self._meas_idx = np.arange(MEAS_DIM)

    @abstractmethod
    def measure(self, xyxy: np.ndarray) -> np.ndarray:
        """(N, 4) xyxy boxes -> (N, 4) measurements in this filter's format."""

    @abstractmethod
    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        """(T, S) states -> (T, 4) xyxy boxes."""

    @abstractmethod
    def initial_std(self, measurement: np.ndarray) -> np.ndarray:
        """(N, S) standard deviations of a freshly initialised state."""

    @abstractmethod
    def process_std(self, mean: np.ndarray) -> np.ndarray:
        """(T, S) process noise standard deviations for one frame."""

    @abstractmethod
    def measurement_std(self, mean: np.ndarray) -> np.ndarray:
        """(T, 4) measurement noise standard deviations."""

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Create states from unassociated measurements.

        Args:
            measurement: (N, 4) boxes in this filter's format.

        Returns:
            (N, S) means with zero velocity and (N, S, S) diagonal covariances.
        """
        n = measurement.shape[0]
        mean = np.zeros((n, self.state_dim))
        mean[:, :MEAS_DIM] = measurement
        cov = np.zeros((n, self.state_dim, self.state_dim))
        cov[:, self._diag_idx, self._diag_idx] = self.initial_std(measurement) ** 2
        return mean, cov

    def process_var(self, mean: np.ndarray) -> np.ndarray:
        """(T, S) process noise variances (override for a cheaper closed form)."""
        return self.process_std(mean) ** 2

    def measurement_var(self, mean: np.ndarray) -> np.ndarray:
        """(T, 4) measurement noise variances (override for a cheaper closed form)."""
        return self.measurement_std(mean) ** 2

    def adjust_before_predict(self, mean: np.ndarray) -> np.ndarray:
        """Hook for model-specific state fixes before a prediction (none by default)."""
        return mean

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance every state by one frame: ``x = F x``, ``P = F P F^T + Q``.

        ``F = I + E`` where ``E`` adds velocity ``k`` to position ``k``, so ``F P F^T`` is computed
        as ``M = P + E P`` then ``M + M E^T``: row and column additions instead of matrix products.
        """
        mean = self.adjust_before_predict(mean)
        q = self.process_var(mean)
        v = self._num_velocities
        new_mean = mean.copy()
        new_mean[:, :v] += mean[:, MEAS_DIM : MEAS_DIM + v]
        new_cov = cov.copy()
        new_cov[:, :v, :] += cov[:, MEAS_DIM : MEAS_DIM + v, :]
        new_cov[:, :, :v] += new_cov[:, :, MEAS_DIM : MEAS_DIM + v]
        new_cov[:, self._diag_idx, self._diag_idx] += q
        return new_mean, new_cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project states to measurement space.

        Returns:
            (T, 4) predicted measurements and (T, 4, 4) innovation covariances ``H P H^T + R``.
        """
        proj_cov = cov[:, :MEAS_DIM, :MEAS_DIM].copy()
        proj_cov[:, self._meas_idx, self._meas_idx] += self.measurement_var(mean)
        return mean[:, :MEAS_DIM], proj_cov

    def update(
        self, mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct each state ``t`` with measurement ``t``.

        Args:
            mean: (T, S) predicted means.
            cov: (T, S, S) predicted covariances.
            measurement: (T, 4) associated boxes in this filter's format.

        Returns:
            The (T, S) corrected means and (T, S, S) covariances.
        """
        proj_mean, proj_cov = self.project(mean, cov)
        cross = cov[:, :, :MEAS_DIM]  # (T, S, 4) = P H^T
        gain = cross @ np.linalg.inv(proj_cov)  # (T, S, 4) = P H^T S^-1 (S is 4x4 SPD)
        innovation = (measurement - proj_mean)[:, :, None]  # (T, 4, 1)
        new_mean = mean + (gain @ innovation)[:, :, 0]
        new_cov = cov - gain @ cross.transpose(0, 2, 1)  # K S K^T = K H P
        return new_mean, new_cov

    def gating_distance(
        self,
        mean: np.ndarray,
        cov: np.ndarray,
        measurement: np.ndarray,
        only_position: bool = False,
    ) -> np.ndarray:
        """Squared Mahalanobis distances between every state and every measurement.

        Args:
            mean: (T, S) means.
            cov: (T, S, S) covariances.
            measurement: (N, 4) boxes in this filter's format.
            only_position: compare the centre only (2 degrees of freedom instead of 4).

        Returns:
            (T, N) squared distances, chi-square distributed with 4 (or 2) degrees of freedom.
        """
        proj_mean, proj_cov = self.project(mean, cov)
        dims = 2 if only_position else MEAS_DIM
        diff = measurement[None, :, :dims] - proj_mean[:, None, :dims]  # (T, N, d)
        inv = np.linalg.inv(proj_cov[:, :dims, :dims])  # (T, d, d)
        return np.einsum("tni,tij,tnj->tn", diff, inv, diff)


class XYAHKalmanFilter(KalmanFilter):
    """DeepSORT/ByteTrack filter: state ``x, y, a, h`` and velocities, noise scaled by height."""

    def measure(self, xyxy: np.ndarray) -> np.ndarray:
        return xyxy_to_xyah(xyxy)

    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        return xyah_to_xyxy(mean)  # reads the first four columns (one product over the state)

    # Per-entry weights on the box height, then the fixed aspect-ratio entries.
    _INIT_W = np.array(
        [2 * STD_WEIGHT_POSITION] * 2
        + [0.0]
        + [2 * STD_WEIGHT_POSITION]
        + [10 * STD_WEIGHT_VELOCITY] * 2
        + [0.0]
        + [10 * STD_WEIGHT_VELOCITY]
    )
    _PROC_W = np.array(
        [STD_WEIGHT_POSITION] * 2
        + [0.0]
        + [STD_WEIGHT_POSITION]
        + [STD_WEIGHT_VELOCITY] * 2
        + [0.0]
        + [STD_WEIGHT_VELOCITY]
    )
    _MEAS_W = np.array([STD_WEIGHT_POSITION] * 2 + [0.0] + [STD_WEIGHT_POSITION])

    def initial_std(self, measurement: np.ndarray) -> np.ndarray:
        std = measurement[:, 3:4] * self._INIT_W
        std[:, 2], std[:, 6] = ASPECT_STD_POSITION, ASPECT_STD_VELOCITY
        return std

    def process_std(self, mean: np.ndarray) -> np.ndarray:
        std = mean[:, 3:4] * self._PROC_W
        std[:, 2], std[:, 6] = ASPECT_STD_POSITION, ASPECT_STD_VELOCITY
        return std

    def measurement_std(self, mean: np.ndarray) -> np.ndarray:
        std = mean[:, 3:4] * self._MEAS_W
        std[:, 2] = ASPECT_STD_MEASUREMENT
        return std

    # The same noise as variances in one expression: h^2 * w^2 + (fixed aspect variances).
    _PROC_W2 = _PROC_W**2
    _PROC_C2 = np.array([0, 0, ASPECT_STD_POSITION**2, 0, 0, 0, ASPECT_STD_VELOCITY**2, 0])
    _MEAS_W2 = _MEAS_W**2
    _MEAS_C2 = np.array([0, 0, ASPECT_STD_MEASUREMENT**2, 0])
    # ... as one product [h^2, 1] @ [w^2; c^2]: every entry has either w or c zero, so each is a
    # single exact term and the product equals h^2 * w^2 + c^2 bit for bit, in fewer numpy calls.
    _PROC_WC2 = np.stack([_PROC_W2, _PROC_C2])
    _MEAS_WC2 = np.stack([_MEAS_W2, _MEAS_C2])

    def process_var(self, mean: np.ndarray) -> np.ndarray:
        return _height_sq_and_one(mean) @ self._PROC_WC2

    def measurement_var(self, mean: np.ndarray) -> np.ndarray:
        return _height_sq_and_one(mean) @ self._MEAS_WC2


def _height_sq_and_one(mean: np.ndarray) -> np.ndarray:
    """(T, 2) ``h^2, 1`` of ``x, y, a, h, ...`` states."""
    out = np.empty((mean.shape[0], 2))
    np.square(mean[:, 3], out=out[:, 0])
    out[:, 1] = 1.0
    return out


class XYWHKalmanFilter(KalmanFilter):
    """BoT-SORT filter: state ``x, y, w, h`` and velocities, noise scaled by width and height."""

    def measure(self, xyxy: np.ndarray) -> np.ndarray:
        return xyxy_to_xywh(xyxy)

    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        return xywh_to_xyxy(mean[:, :MEAS_DIM])

    def initial_std(self, measurement: np.ndarray) -> np.ndarray:
        wh = measurement[:, 2:4]
        return np.concatenate([wh, wh, wh * _VEL_TO_POS, wh * _VEL_TO_POS], axis=1) * _INIT_POS

    def process_std(self, mean: np.ndarray) -> np.ndarray:
        wh = mean[:, 2:4]
        pos, vel = wh * STD_WEIGHT_POSITION, wh * STD_WEIGHT_VELOCITY
        return np.concatenate([pos, pos, vel, vel], axis=1)

    def measurement_std(self, mean: np.ndarray) -> np.ndarray:
        pos = mean[:, 2:4] * STD_WEIGHT_POSITION
        return np.concatenate([pos, pos], axis=1)


# Initial std of BoT-SORT: 2 * position weight on positions, 10 * velocity weight on velocities.
_INIT_POS = INIT_POSITION_SCALE * STD_WEIGHT_POSITION
_VEL_TO_POS = INIT_VELOCITY_SCALE * STD_WEIGHT_VELOCITY / _INIT_POS


# SORT's constants (Bewley et al. 2016, reference implementation): measurement noise on the
# scale/aspect is 10x that of the centre, unobserved velocities start very uncertain, and the
# process noise on velocities (area velocity especially) is small.
SORT_MEASUREMENT_VAR = np.array([1.0, 1.0, 10.0, 10.0])
SORT_INITIAL_VAR = np.array([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])
SORT_PROCESS_VAR = np.array([1.0, 1.0, 1.0, 1.0, 1e-2, 1e-2, 1e-4])


class XYSRKalmanFilter(KalmanFilter):
    """SORT/OC-SORT filter: state ``x, y, s, r, vx, vy, vs`` (no aspect velocity), fixed noise."""

    state_dim = 7

    def measure(self, xyxy: np.ndarray) -> np.ndarray:
        return xyxy_to_xysr(xyxy)

    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        return xysr_to_xyxy(mean[:, :MEAS_DIM])

    def initial_std(self, measurement: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.sqrt(SORT_INITIAL_VAR), (measurement.shape[0], self.state_dim))

    def process_std(self, mean: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.sqrt(SORT_PROCESS_VAR), (mean.shape[0], self.state_dim))

    def measurement_std(self, mean: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.sqrt(SORT_MEASUREMENT_VAR), (mean.shape[0], MEAS_DIM))

    def adjust_before_predict(self, mean: np.ndarray) -> np.ndarray:
        """An area about to turn non-positive stops shrinking (SORT)."""
        shrinking = mean[:, 2] + mean[:, 6] <= 0
        if shrinking.any():
            mean = mean.copy()
            mean[shrinking, 6] = 0.0
        return mean


# Rows of the compact (gain, covariance) pairs in P - K S K^T: (k_p p, k_p c, k_v c).
_GAIN_ROWS = np.array([0, 0, 1])
_COV_ROWS = np.array([0, 1, 1])


class DecoupledKalmanFilter(KalmanFilter):
    """The same filter as ``model``, exploiting that its coordinates never interact.

    With a constant-velocity motion, diagonal process and measurement noise and ``H = [I, 0]``, a
    covariance that starts block-diagonal stays block-diagonal: each box coordinate ``k`` and its
    velocity form an independent 2-state filter. The covariance is therefore stored compactly as
    ``(T, 3, 4)``: rows ``var(pos_k)``, ``cov(pos_k, vel_k)``, ``var(vel_k)`` for the 4 coordinates,
    and predict/update are a few elementwise operations (no batched inverse). Results equal the
    full filter's up to floating-point rounding. Use the full filter where something couples
    coordinates (a rotating camera-motion warp).

    Args:
        model: the full filter whose noise model and box format are used. Its state must have
            a velocity for the first ``S - 4`` coordinates; coordinates without one keep a zero
            velocity (zero variance, no process noise).
    """

    #: One-frame propagation of the (var_pos, cov, var_vel) rows: F P F^T per 2x2 block.
    _PROPAGATE = np.array([[1.0, 2.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])

    @property
    def cov_shape(self) -> tuple[int, ...]:
        return (3, MEAS_DIM)

    def __init__(self, model: KalmanFilter) -> None:
        self.model = model
        self.state_dim = model.state_dim
        super().__init__()
        self._pad = 2 * MEAS_DIM - self.state_dim  # coordinates without a velocity (SORT's aspect)
        # mean @ this = F mean: position k gains velocity k. One product instead of a copy and a
        # sliced add; each entry has at most two unit terms, so it is exact.
        self._mean_step = np.eye(self.state_dim)
        k = np.arange(self._num_velocities)
        self._mean_step[MEAS_DIM + k, k] = 1.0

    # noise and box format: the model's
    def measure(self, xyxy: np.ndarray) -> np.ndarray:
        return self.model.measure(xyxy)

    def to_xyxy(self, mean: np.ndarray) -> np.ndarray:
        return self.model.to_xyxy(mean)

    def initial_std(self, measurement: np.ndarray) -> np.ndarray:
        return self.model.initial_std(measurement)

    def process_std(self, mean: np.ndarray) -> np.ndarray:
        return self.model.process_std(mean)

    def measurement_std(self, mean: np.ndarray) -> np.ndarray:
        return self.model.measurement_std(mean)

    def process_var(self, mean: np.ndarray) -> np.ndarray:
        return self.model.process_var(mean)

    def measurement_var(self, mean: np.ndarray) -> np.ndarray:
        return self.model.measurement_var(mean)

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) measurements -> (N, S) means and (N, 3, 4) compact covariances."""
        n = measurement.shape[0]
        mean = np.zeros((n, self.state_dim))
        mean[:, :MEAS_DIM] = measurement
        var = self.initial_std(measurement) ** 2
        cov = np.zeros((n, 3, MEAS_DIM))
        cov[:, 0] = var[:, :MEAS_DIM]
        cov[:, 2, : self._num_velocities] = var[:, MEAS_DIM:]
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = self.model.adjust_before_predict(mean)
        q = self.process_var(mean)
        v = self._num_velocities
        new_mean = mean @ self._mean_step
        new_cov = self._PROPAGATE @ cov  # (3, 3) @ (T, 3, 4)
        if v == MEAS_DIM:  # q = position variances then velocity variances: rows 0 and 2
            new_cov[:, ::2] += q.reshape(-1, 2, MEAS_DIM)
        else:
            new_cov[:, 0] += q[:, :MEAS_DIM]
            new_cov[:, 2, :v] += q[:, MEAS_DIM:]
        return new_mean, new_cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, 4) predicted measurements and (T, 4, 4) (diagonal) innovation covariances."""
        s = cov[:, 0] + self.measurement_var(mean)
        out = np.zeros((s.shape[0], MEAS_DIM, MEAS_DIM))
        out[:, self._meas_idx, self._meas_idx] = s
        return mean[:, :MEAS_DIM], out

    def update(
        self, mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        s = cov[:, 0] + self.measurement_var(mean)  # (T, 4) innovation variances
        gain = cov[:, :2] / s[:, None]  # (T, 2, 4): position and velocity gains per coordinate
        innovation = measurement - mean[:, :MEAS_DIM]
        v = self._num_velocities
        if v == MEAS_DIM:  # state = 4 positions then 4 velocities: the gain rows, flattened
            new_mean = mean + (gain * innovation[:, None, :]).reshape(mean.shape)
        else:
            new_mean = mean.copy()
            new_mean[:, :MEAS_DIM] += gain[:, 0] * innovation
            new_mean[:, MEAS_DIM:] += gain[:, 1, :v] * innovation[:, :v]
        # P - K S K^T per 2x2 block: (p, c, w) -= (k_p p, k_p c, k_v c)
        new_cov = cov - gain.take(_GAIN_ROWS, axis=1) * cov.take(_COV_ROWS, axis=1)
        return new_mean, new_cov

    def gating_distance(
        self,
        mean: np.ndarray,
        cov: np.ndarray,
        measurement: np.ndarray,
        only_position: bool = False,
    ) -> np.ndarray:
        s = cov[:, 0] + self.measurement_var(mean)  # (T, 4)
        dims = 2 if only_position else MEAS_DIM
        diff = measurement[None, :, :dims] - mean[:, None, :dims]
        return np.einsum("tnd,td->tn", diff**2, 1.0 / s[:, :dims])

    def full_cov(self, cov: np.ndarray) -> np.ndarray:
        """(T, 3, 4) compact -> (T, S, S) full covariances (for inspection and tests)."""
        t, s = cov.shape[0], self.state_dim
        out = np.zeros((t, s, s))
        k = np.arange(MEAS_DIM)
        out[:, k, k] = cov[:, 0]
        kv = np.arange(self._num_velocities)
        out[:, kv, MEAS_DIM + kv] = cov[:, 1, kv]
        out[:, MEAS_DIM + kv, kv] = cov[:, 1, kv]
        out[:, MEAS_DIM + kv, MEAS_DIM + kv] = cov[:, 2, kv]
        return out
