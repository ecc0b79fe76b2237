"""Clip samplers: placement, looping, frame-rate conversion, segments, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.clip_sampling import (
    ClipSpec,
    RandomClipSampler,
    SegmentSampler,
    Timeline,
    UniformClipSampler,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_random_clip_is_deterministic_under_a_seed():
    sampler = RandomClipSampler(ClipSpec(num_frames=8, stride=4))
    timeline = Timeline(num_frames=300, fps=30.0)
    first = [sampler(timeline, 0, rng(s)).frame_indices for s in range(20)]
    again = [sampler(timeline, 0, rng(s)).frame_indices for s in range(20)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    starts = {int(c[0]) for c in first}
    assert len(starts) > 10  # different seeds, different clips


def test_random_clip_stays_inside_and_keeps_the_stride():
    sampler = RandomClipSampler(ClipSpec(num_frames=8, stride=4))
    timeline = Timeline(num_frames=40, fps=25.0)
    starts = set()
    for seed in range(300):
        clip = sampler(timeline, 0, rng(seed))
        np.testing.assert_array_equal(np.diff(clip.frame_indices), 4)
        assert clip.frame_indices.min() >= 0 and clip.frame_indices.max() <= 39
        starts.add(int(clip.frame_indices[0]))
    assert starts == set(range(40 - 29 + 1))  # every start from 0 to 11 occurs, 11 included


def test_uniform_clips_are_centred_on_equal_parts():
    spec = ClipSpec(num_frames=8, stride=4)  # span 29 frames
    timeline = Timeline(num_frames=100, fps=25.0)  # 71 possible extra start positions
    one = UniformClipSampler(spec, num_clips=1)(timeline, 0, rng())
    np.testing.assert_array_equal(one.frame_indices, 35 + 4 * np.arange(8))  # floor(71 / 2)
    three = UniformClipSampler(spec, num_clips=3)
    starts = [int(three(timeline, k, rng()).frame_indices[0]) for k in range(3)]
    assert starts == [11, 35, 59]  # floor((k + 0.5) * 71 / 3)
    assert [three(timeline, k, rng()).clip_index for k in range(3)] == [0, 1, 2]
    with pytest.raises(IndexError, match="view 3 out of range for 3 views"):
        three(timeline, 3, rng())


def test_short_videos_loop():
    clip = UniformClipSampler(ClipSpec(num_frames=8, stride=2))(Timeline(10, 25.0), 0, rng())
    np.testing.assert_array_equal(clip.frame_indices, [0, 2, 4, 6, 8, 0, 2, 4])
    random_clip = RandomClipSampler(ClipSpec(num_frames=5))(Timeline(3, 25.0), 0, rng(1))
    np.testing.assert_array_equal(random_clip.frame_indices, [0, 1, 2, 0, 1])


def test_target_fps_converts_the_stride_with_the_video_rate():
    spec = ClipSpec(num_frames=4, stride=2, target_fps=30.0)
    at_60 = UniformClipSampler(spec)(Timeline(600, 60.0), 0, rng())
    np.testing.assert_array_equal(np.diff(at_60.frame_indices), 4)  # 2 frames at 30 fps
    at_15 = UniformClipSampler(spec)(Timeline(150, 15.0), 0, rng())
    np.testing.assert_array_equal(np.diff(at_15.frame_indices), 1)
    # From the first sampled frame to the end of the last: 3 steps of 4 frames, plus 1 frame.
    assert at_60.end_s - at_60.start_s == pytest.approx((3 * 4 + 1) / 60.0)


def test_variable_frame_rate_uses_the_timestamps():
    # 10 frames 0.1 s apart, then 10 frames 0.01 s apart: by index, the second half is dense.
    times = np.concatenate([np.arange(10) * 0.1, 0.9 + np.arange(1, 11) * 0.01])
    timeline = Timeline(20, fps=20 / 1.0, frame_times=times, vfr=True)
    clip = UniformClipSampler(ClipSpec(num_frames=5, stride=1, target_fps=5.0))(timeline, 0, rng())
    wanted = clip.start_s + np.arange(5) * 0.2  # a frame every 0.2 s
    shown = [int(np.searchsorted(times, t + 1e-9, side="right") - 1) for t in wanted]
    np.testing.assert_array_equal(clip.frame_indices, shown)
    assert np.all(np.diff(times[clip.frame_indices]) > 0.05)  # spaced in time, not in index


def test_segment_sampler_takes_one_frame_per_segment():
    timeline = Timeline(100, 25.0)
    test = SegmentSampler(4, random_offset=False)(timeline, 0, rng())
    np.testing.assert_array_equal(test.frame_indices, [12, 37, 62, 87])  # segment centres
    views = SegmentSampler(4, random_offset=False, num_views=2)
    np.testing.assert_array_equal(views(timeline, 0, rng()).frame_indices, [6, 31, 56, 81])
    np.testing.assert_array_equal(views(timeline, 1, rng()).frame_indices, [18, 43, 68, 93])
    train = SegmentSampler(4, random_offset=True)
    for seed in range(50):
        indices = train(timeline, 0, rng(seed)).frame_indices
        assert all(25 * i <= f < 25 * (i + 1) for i, f in enumerate(indices))
    np.testing.assert_array_equal(train(timeline, 0, rng(3)).frame_indices,
                                  train(timeline, 0, rng(3)).frame_indices)  # fmt: skip


def test_segment_sampler_repeats_frames_of_short_videos():
    indices = SegmentSampler(8, random_offset=False)(Timeline(3, 25.0), 0, rng()).frame_indices
    assert len(indices) == 8 and set(indices.tolist()) == {0, 1, 2}
    assert np.all(np.diff(indices) >= 0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ClipSpec(num_frames=0), "num_frames must be >= 1, got 0"),
        (lambda: ClipSpec(num_frames=8, stride=0), "stride must be >= 1, got 0"),
        (lambda: ClipSpec(num_frames=8, target_fps=-1.0), "target_fps must be positive"),
        (lambda: Timeline(0, 25.0), "num_frames=0"),
        (lambda: Timeline(10, 0.0), "fps must be positive, got 0.0"),
        (lambda: UniformClipSampler(ClipSpec(8), num_clips=0), "num_clips must be >= 1, got 0"),
        (lambda: SegmentSampler(8, random_offset=True, num_views=3), "num_views=3"),
    ],
)
def test_invalid_settings_name_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()
