"""Clip samplers: which frame indices of a video make up a clip.

Three strategies, all deterministic given a `numpy.random.Generator`:

* `RandomClipSampler` (training): one clip of `num_frames` frames, `stride` apart, at a random
  start (PySlowFast / pytorchvideo style).
* `UniformClipSampler` (testing): K clips whose starts are the centres of K equal parts of the
  range of possible starts, so K=1 gives the central clip (as mmaction2's test sampling does).
* `SegmentSampler` (TSN, TimeSformer on SSv2): the video is cut into `num_frames` equal segments
  and one frame is taken from each, at random (training) or at a fixed offset per view (testing).

With `target_fps` set, `stride` counts frames at the target rate and the span is converted to
source frames with the container's frame rate, or with the real timestamps for variable frame
rate videos. Clips longer than the video loop back to its first frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Timestamps are compared with this slack (seconds) so float32 container times do not round a
# frame onto its neighbour.
TIME_EPS_S = 1e-6


@dataclass(frozen=True)
class Timeline:
    """Frame count and timing of a video, as a backend reported them.

    Attributes:
        num_frames: frames in the video.
        fps: average frame rate, frames per second.
        frame_times: (num_frames,) presentation times in seconds, or None; used only when they
            show a variable frame rate (constant-rate files use index / fps, which is exact).
    """

    num_frames: int
    fps: float
    frame_times: np.ndarray | None = field(default=None, repr=False, compare=False)
    vfr: bool = False

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"a video needs at least one frame, got num_frames={self.num_frames}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    def times(self) -> np.ndarray:
        """(num_frames,) presentation time of each frame in seconds."""
        if self.vfr and self.frame_times is not None:
            return np.asarray(self.frame_times, dtype=np.float64)
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    @property
    def duration_s(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        return float(self.times()[-1] + 1.0 / self.fps)


@dataclass(frozen=True)
class Clip:
    """A sampled clip.

    Attributes:
        frame_indices: (T,) int64 source frame indices, in playback order (they wrap around to
            the start for clips longer than the video).
        start_s: time of the first sampled frame, seconds.
        end_s: end of the last sampled frame, seconds.
        clip_index: which of the sampler's views this is (0 for random clips).
    """

    frame_indices: np.ndarray = field(compare=False)
    start_s: float
    end_s: float
    clip_index: int = 0


@dataclass(frozen=True)
class ClipSpec:
    """Frames per clip and their spacing.

    Attributes:
        num_frames: frames per clip (T).
        stride: distance between sampled frames, in frames at `target_fps` (or at the video's
            own rate when target_fps is None).
        target_fps: frame rate the stride refers to, frames per second; None for the video's.
    """

    num_frames: int
    stride: int = 1
    target_fps: float | None = None

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.stride}")
        if self.target_fps is not None and not self.target_fps > 0:
            raise ValueError(f"target_fps must be positive or None, got {self.target_fps}")

    def step(self, fps: float) -> float:
        """Distance between sampled frames in source frames."""
        return self.stride * (fps / self.target_fps if self.target_fps else 1.0)


class ClipSampler(ABC):
    """Maps a video's timeline to the frame indices of one of its `num_views` clips."""

    num_views: int = 1

    @property
    @abstractmethod
    def num_frames(self) -> int:
        """Frames per clip."""

    @abstractmethod
    def __call__(self, timeline: Timeline, view: int, rng: np.random.Generator) -> Clip:
        """Clip number `view` (0 <= view < num_views); random samplers draw from `rng`."""

    def _check_view(self, view: int) -> None:
        if not 0 <= view < self.num_views:
            raise IndexError(f"view {view} out of range for {self.num_views} views")


class RandomClipSampler(ClipSampler):
    """One clip at a uniformly random start (training)."""

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec

    @property
    def num_frames(self) -> int:
        return self.spec.num_frames

    def __call__(self, timeline: Timeline, view: int, rng: np.random.Generator) -> Clip:
        self._check_view(view)
        return _place_clip(self.spec, timeline, lambda delta: _random_start(delta, rng), view)


class UniformClipSampler(ClipSampler):
    """`num_clips` clips centred on equal parts of the possible start range (testing)."""

    def __init__(self, spec: ClipSpec, num_clips: int = 1) -> None:
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        self.spec = spec
        self.num_views = num_clips

    @property
    def num_frames(self) -> int:
        return self.spec.num_frames

    def __call__(self, timeline: Timeline, view: int, rng: np.random.Generator) -> Clip:
        self._check_view(view)
        return _place_clip(
            self.spec, timeline, lambda delta: delta * (view + 0.5) / self.num_views, view
        )


class SegmentSampler(ClipSampler):
    """One frame from each of `num_segments` equal segments covering the whole video (TSN).

    Args:
        num_segments: segments, i.e. frames per clip.
        random_offset: draw each frame's position in its segment at random (training); when
            False, view k of K takes the frame at fraction (k + 0.5) / K of every segment.
        num_views: K, the test views (different offsets within the segments).
    """

    def __init__(self, num_segments: int, *, random_offset: bool, num_views: int = 1) -> None:
        if num_segments < 1 or num_views < 1:
            raise ValueError(
                f"num_segments and num_views must be >= 1, got {num_segments}, {num_views}"
            )
        if random_offset and num_views != 1:
            raise ValueError(f"random segment sampling has one view, got num_views={num_views}")
        self.num_segments = num_segments
        self.random_offset = random_offset
        self.num_views = num_views

    @property
    def num_frames(self) -> int:
        return self.num_segments

    def __call__(self, timeline: Timeline, view: int, rng: np.random.Generator) -> Clip:
        self._check_view(view)
        n = timeline.num_frames
        length = n / self.num_segments  # source frames per segment (may be < 1)
        if self.random_offset:
            offsets = rng.uniform(0.0, length, size=self.num_segments)
        else:
            offsets = np.full(self.num_segments, length * (view + 0.5) / self.num_views)
        positions = np.arange(self.num_segments) * length + offsets
        indices = np.minimum(np.floor(positions).astype(np.int64), n - 1)
        return Clip(indices, 0.0, timeline.duration_s, view)


def _random_start(delta: float, rng: np.random.Generator) -> float:
    """Uniform start in [0, delta]; every integer start equally likely when delta is integral."""
    if float(delta).is_integer():
        return float(rng.integers(0, int(delta) + 1))
    return float(rng.uniform(0.0, delta))


def _place_clip(
    spec: ClipSpec, timeline: Timeline, start_fn: Callable[[float], float], view: int
) -> Clip:
    """Clip starting at `start_fn(delta)`, delta being the largest start that fits the video."""
    if spec.target_fps is not None and timeline.vfr and timeline.frame_times is not None:
        return _place_clip_in_time(spec, timeline, start_fn, view)
    n = timeline.num_frames
    step = spec.step(timeline.fps)
    span = step * (spec.num_frames - 1) + 1  # source frames from the first to the last sample
    start = start_fn(max(n - span, 0.0)) if span <= n else 0.0
    positions = start + step * np.arange(spec.num_frames)
    indices = np.floor(positions + TIME_EPS_S).astype(np.int64) % n  # loops short videos
    return Clip(indices, start / timeline.fps, (positions[-1] + 1) / timeline.fps, view)


def _place_clip_in_time(
    spec: ClipSpec, timeline: Timeline, start_fn: Callable[[float], float], view: int
) -> Clip:
    """Variable frame rate: place the clip in seconds and pick the frame shown at each time."""
    times = timeline.times()
    duration = timeline.duration_s
    period = spec.stride / spec.target_fps  # seconds between sampled frames
    span = period * (spec.num_frames - 1)
    start = start_fn(max(times[-1] - span, 0.0)) if span <= times[-1] else 0.0
    wanted = start + period * np.arange(spec.num_frames)
    wanted = np.mod(wanted, duration) if span > times[-1] else wanted
    indices = np.searchsorted(times, wanted + TIME_EPS_S, side="right") - 1
    indices = np.clip(indices, 0, timeline.num_frames - 1).astype(np.int64)
    return Clip(indices, float(wanted[0]), float(wanted[-1] + period), view)
