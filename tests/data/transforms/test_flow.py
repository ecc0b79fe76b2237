"""`ClipFlow`: the flow channels of a clip, shared by the flow data and exported-bundle inference."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.transforms.flow import ClipFlow


def _moving_clip(frames: int = 4, step: int = 2) -> np.ndarray:
    """(T, 48, 48, 3) uint8: a smooth textured square moving `step` px right per frame."""
    yy, xx = np.mgrid[0:48, 0:48]
    clip = np.zeros((frames, 48, 48, 3), np.uint8)
    for t in range(frames):
        x = xx - step * t
        inside = (x >= 10) & (x < 26) & (yy >= 14) & (yy < 30)
        texture = 128 + 100 * np.sin(x / 2.0) * np.cos(yy / 3.0)
        clip[t][inside] = texture[inside, None].astype(np.uint8)
    return clip


def test_channels_are_the_stored_flow_scaled_with_one_field_per_frame():
    clip = _moving_clip()
    spec = ClipFlow("medium", scale=2.0)
    stored = spec.stored(clip)
    assert stored.dtype == np.float16 and stored.shape == (4, 48, 48, 2)
    np.testing.assert_array_equal(stored[-1], stored[-2])  # the last frame repeats the flow
    channels = spec.channels(clip)
    assert channels.shape == (2, 4, 48, 48) and channels.dtype == np.float32
    np.testing.assert_array_equal(channels, stored.astype(np.float32).transpose(3, 0, 1, 2) / 2.0)
    # Inside the square the flow is the motion: 2 px right (1.0 after the scale), none down.
    dx, dy = np.median(channels[0, 0, 16:28, 12:24]), np.median(channels[1, 0, 16:28, 12:24])
    assert dx == pytest.approx(1.0, abs=0.15) and dy == pytest.approx(0.0, abs=0.15)


def test_settings_round_trip_through_the_card_and_bad_values_are_named():
    spec = ClipFlow("fast", 4.0)
    assert ClipFlow.from_card(spec.card()) == spec
    with pytest.raises(ValueError, match="'fastest'"):
        ClipFlow("fastest")
    with pytest.raises(ValueError, match="scale 0"):
        ClipFlow("fast", 0)
    with pytest.raises(ValueError, match="'raft_small'"):
        ClipFlow.from_card(spec.card() | {"method": "raft_small"})
