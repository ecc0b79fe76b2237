"""Linear interpolation of short gaps inside tracks."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.tracking.interpolation import interpolate_gaps


def test_fills_short_gap_linearly():
    frame = np.array([1, 4, 1, 2])
    ids = np.array([1, 1, 2, 2])
    tlwh = np.array([[0.0, 0, 10, 10], [30.0, 6, 16, 10], [100, 100, 5, 5], [101, 100, 5, 5]])
    score = np.array([0.9, 0.6, 0.8, 0.8])
    f, i, b, s = interpolate_gaps(frame, ids, tlwh, score, max_gap=2)
    assert f.tolist() == [1, 1, 2, 2, 3, 4]
    assert i.tolist() == [1, 2, 1, 2, 1, 1]
    np.testing.assert_allclose(b[(i == 1) & (f == 2)], [[10.0, 2, 12, 10]])
    np.testing.assert_allclose(b[(i == 1) & (f == 3)], [[20.0, 4, 14, 10]])
    np.testing.assert_allclose(s[(i == 1) & (f == 3)], [0.6])


def test_long_gaps_and_other_ids_untouched():
    frame = np.array([1, 5, 6])
    ids = np.array([1, 1, 2])
    tlwh = np.array([[0.0, 0, 10, 10], [40, 0, 10, 10], [0, 0, 1, 1]])
    f, i, _, _ = interpolate_gaps(frame, ids, tlwh, np.ones(3), max_gap=2)
    assert f.tolist() == [1, 5, 6] and i.tolist() == [1, 1, 2]
    f, _, _, _ = interpolate_gaps(frame, ids, tlwh, np.ones(3), max_gap=3)
    assert f.tolist() == [1, 2, 3, 4, 5, 6]


def test_zero_gap_is_identity_and_negative_rejected():
    frame, ids = np.array([3, 1]), np.array([1, 1])
    tlwh = np.array([[1.0, 1, 1, 1], [0.0, 0, 1, 1]])
    f, _, b, _ = interpolate_gaps(frame, ids, tlwh, np.ones(2), max_gap=0)
    assert f.tolist() == [1, 3]
    np.testing.assert_array_equal(b, tlwh[::-1])
    with pytest.raises(ValueError, match="max_gap"):
        interpolate_gaps(frame, ids, tlwh, np.ones(2), max_gap=-1)
