"""Batched Kalman filters: batched equals per-track, and the filter does what a Kalman filter should."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.tracking.kalman import XYAHKalmanFilter, XYSRKalmanFilter, XYWHKalmanFilter

FILTERS = [XYAHKalmanFilter, XYWHKalmanFilter, XYSRKalmanFilter]


def _boxes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tl = rng.uniform(0, 500, (n, 2))
    return np.concatenate([tl, tl + rng.uniform(20, 120, (n, 2))], axis=1)


@pytest.mark.parametrize("cls", FILTERS)
def test_batched_equals_per_track(cls):
    kf = cls()
    z0, z1 = kf.measure(_boxes(6, 0)), kf.measure(_boxes(6, 0) + 3.0)
    mean, cov = kf.initiate(z0)
    mean, cov = kf.predict(mean, cov)
    up_mean, up_cov = kf.update(mean, cov, z1)
    gate = kf.gating_distance(mean, cov, z1)
    for t in range(6):
        m1, c1 = kf.initiate(z0[t : t + 1])
        m1, c1 = kf.predict(m1, c1)
        np.testing.assert_allclose(m1[0], mean[t], rtol=1e-12)
        np.testing.assert_allclose(c1[0], cov[t], rtol=1e-12)
        um, uc = kf.update(m1, c1, z1[t : t + 1])
        np.testing.assert_allclose(um[0], up_mean[t], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(uc[0], up_cov[t], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(kf.gating_distance(m1, c1, z1)[0], gate[t], rtol=1e-10)


@pytest.mark.parametrize("cls", FILTERS)
def test_update_matches_textbook_formula(cls):
    kf = cls()
    z = kf.measure(_boxes(3, 1))
    mean, cov = kf.predict(*kf.initiate(z))
    meas = z + np.array([2.0, -1.0, 0.01, 1.5])
    new_mean, new_cov = kf.update(mean, cov, meas)
    s = kf.state_dim
    h = np.eye(4, s)
    r = np.stack([np.diag(v**2) for v in kf.measurement_std(mean)])
    for t in range(3):
        innov_cov = h @ cov[t] @ h.T + r[t]
        gain = cov[t] @ h.T @ np.linalg.inv(innov_cov)
        np.testing.assert_allclose(new_mean[t], mean[t] + gain @ (meas[t] - h @ mean[t]), rtol=1e-9)
        np.testing.assert_allclose(
            new_cov[t], (np.eye(s) - gain @ h) @ cov[t], rtol=1e-9, atol=1e-9
        )


@pytest.mark.parametrize("cls", FILTERS)
def test_converges_to_constant_velocity(cls):
    kf = cls()
    velocity = np.array([3.0, -1.5])
    box = _boxes(1, 2)
    mean, cov = kf.initiate(kf.measure(box))
    for f in range(1, 60):
        mean, cov = kf.predict(mean, cov)
        shifted = box + np.tile(velocity * f, 2)
        mean, cov = kf.update(mean, cov, kf.measure(shifted))
    np.testing.assert_allclose(mean[0, kf.state_dim - (kf.state_dim - 4) : 6], velocity, atol=0.05)
    predicted, _ = kf.predict(mean, cov)
    np.testing.assert_allclose(
        kf.to_xyxy(predicted)[0], box[0] + np.tile(velocity * 60, 2), atol=0.5
    )


@pytest.mark.parametrize("cls", FILTERS)
def test_covariances_stay_symmetric_positive_definite(cls):
    kf = cls()
    rng = np.random.default_rng(3)
    z = kf.measure(_boxes(4, 3))
    mean, cov = kf.initiate(z)
    for _ in range(20):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(
            mean, cov, z + rng.normal(0, 0.5, z.shape) * np.array([1, 1, 0.001, 1])
        )
    np.testing.assert_allclose(cov, cov.transpose(0, 2, 1), atol=1e-8)
    assert np.all(np.linalg.eigvalsh((cov + cov.transpose(0, 2, 1)) / 2) > 0)


@pytest.mark.parametrize("cls", FILTERS)
def test_measure_and_to_xyxy_are_inverse(cls):
    kf = cls()
    boxes = _boxes(5, 4)
    mean, _ = kf.initiate(kf.measure(boxes))
    np.testing.assert_allclose(kf.to_xyxy(mean), boxes, rtol=1e-12)


def test_gating_distance_is_chi_square_scaled():
    kf = XYAHKalmanFilter()
    z = kf.measure(_boxes(1, 5))
    mean, cov = kf.predict(*kf.initiate(z))
    _, proj_cov = kf.project(mean, cov)
    offset = np.zeros((1, 4))
    offset[0, 0] = 2 * np.sqrt(proj_cov[0, 0, 0])  # 2 standard deviations along x only
    d = kf.gating_distance(mean, cov, z + offset)
    assert d[0, 0] == pytest.approx(
        4.0 * (1 / (1 - proj_cov[0, 0, 1] ** 2 / (proj_cov[0, 0, 0] * proj_cov[0, 1, 1]))), rel=1e-9
    )


def test_sort_filter_stops_area_from_going_negative():
    kf = XYSRKalmanFilter()
    mean, cov = kf.initiate(kf.measure(_boxes(1, 6)))
    mean[0, 6] = -2 * mean[0, 2]  # area velocity that would flip the sign
    new_mean, _ = kf.predict(mean, cov)
    assert new_mean[0, 2] == pytest.approx(mean[0, 2])


@pytest.mark.parametrize("cls", FILTERS)
def test_decoupled_filter_equals_full_filter(cls):
    """The compact per-coordinate filter reproduces the full filter (means, covariances, gating)."""
    from vidlab.tracking.kalman import DecoupledKalmanFilter

    full, dec = cls(), DecoupledKalmanFilter(cls())
    rng = np.random.default_rng(7)
    boxes = _boxes(6, 7)
    m1, c1 = full.initiate(full.measure(boxes))
    m2, c2 = dec.initiate(dec.measure(boxes))
    assert c2.shape == (6, *dec.cov_shape)
    for k in range(25):
        m1, c1 = full.predict(m1, c1)
        m2, c2 = dec.predict(m2, c2)
        z = full.measure(boxes + 2.0 * k + rng.normal(0, 1, boxes.shape))
        if k % 4 != 3:  # some frames without a measurement
            np.testing.assert_allclose(
                dec.gating_distance(m2, c2, z), full.gating_distance(m1, c1, z), rtol=1e-6
            )
            m1, c1 = full.update(m1, c1, z)
            m2, c2 = dec.update(m2, c2, z)
    np.testing.assert_allclose(m2, m1, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(dec.full_cov(c2), c1, rtol=1e-9, atol=1e-9 * np.abs(c1).max())
    np.testing.assert_allclose(
        dec.project(m2, c2)[1], full.project(m1, c1)[1], rtol=1e-9, atol=1e-9
    )


def test_decoupled_sort_filter_keeps_area_fix():
    from vidlab.tracking.kalman import DecoupledKalmanFilter

    kf = DecoupledKalmanFilter(XYSRKalmanFilter())
    mean, cov = kf.initiate(kf.measure(_boxes(1, 6)))
    mean[0, 6] = -2 * mean[0, 2]
    new_mean, _ = kf.predict(mean, cov)
    assert new_mean[0, 2] == pytest.approx(mean[0, 2])
