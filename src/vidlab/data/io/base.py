"""Types shared by the video backends: what a reader knows about a file and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

# A frame rate whose frame-to-frame intervals vary by more than this fraction of their median is
# reported as variable (VFR). Container rounding of timestamps stays well below it.
VFR_TOLERANCE = 0.05
# Timestamps spanning more than this many times the nominal duration (frames / average fps) are
# not presentation times but unset values (FFmpeg's AV_NOPTS_VALUE read as -9.2e18 ticks), as
# decord reports for AVI files with packed B-frames (UCF101, HMDB51). Real VFR stays far below.
MAX_SPAN_RATIO = 100.0


class VideoDecodeError(RuntimeError):
    """A video file could not be opened or decoded.

    Attributes:
        path: the file.
        backend: the backend that failed ("decord", "pyav", or "auto" when all of them did).
        reason: the backend's message.
    """

    def __init__(self, path: str | Path, backend: str, reason: str) -> None:
        self.path = Path(path)
        self.backend = backend
        self.reason = reason
        super().__init__(f"{self.path}: cannot decode with {backend}: {reason}")

    def __reduce__(self) -> tuple:
        # Rebuilt from its fields when it crosses a process boundary (pools, DataLoader workers).
        return (type(self), (self.path, self.backend, self.reason))


@dataclass(frozen=True)
class VideoInfo:
    """What a backend learned about a video when opening it.

    Attributes:
        num_frames: frames that can be indexed, counted from the stream's packets (never from a
            header field, which lies in truncated and re-muxed files).
        fps: the container's average frame rate, frames per second.
        frame_times: (num_frames,) float64 presentation time of each frame in seconds, from 0,
            sorted; None when the backend could not read timestamps.
        backend: "decord" or "pyav".
    """

    num_frames: int
    fps: float
    backend: str
    frame_times: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def duration_s(self) -> float:
        """Duration in seconds: last timestamp plus one nominal frame, or num_frames / fps."""
        if self.frame_times is not None and len(self.frame_times) > 0 and self.fps > 0:
            return float(self.frame_times[-1] + 1.0 / self.fps)
        return self.num_frames / self.fps if self.fps > 0 else 0.0

    @property
    def is_vfr(self) -> bool:
        """True when frame intervals vary by more than `VFR_TOLERANCE` of their median."""
        if self.frame_times is None or len(self.frame_times) < 3:
            return False
        gaps = np.diff(self.frame_times)
        median = float(np.median(gaps))
        return median > 0 and float(np.max(np.abs(gaps - median))) > VFR_TOLERANCE * median


def plausible_frame_times(times: np.ndarray, fps: float) -> np.ndarray | None:
    """Frame timestamps shifted to start at 0, or None when they cannot be presentation times.

    Args:
        times: (N,) timestamps in seconds, in frame order.
        fps: the container's average frame rate.

    Returns:
        (N,) float64 seconds from the first frame, or None when a timestamp is not finite, two
        frames share one or go backwards, or they span more than `MAX_SPAN_RATIO` times N / fps.
        Durations then come from the frame count and the frame rate.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(times) == 0 or not np.all(np.isfinite(times)):
        return None
    times = times - times[0]
    if len(times) > 1 and not np.all(np.diff(times) > 0):
        return None
    nominal = len(times) / fps if fps > 0 else 0.0
    if nominal > 0 and times[-1] > MAX_SPAN_RATIO * nominal:
        return None
    return times


class VideoSource(Protocol):
    """An open video: `info` plus random access to frames by index. Close it (or use `with`)."""

    path: Path
    info: VideoInfo

    def get_frames(self, indices: np.ndarray) -> np.ndarray:
        """Frames at `indices` (any order, repeats allowed) as uint8 (len(indices), H, W, 3) RGB."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> VideoSource: ...

    def __exit__(self, *exc: object) -> None: ...


def reduced_size(height: int, width: int, short_side: int | None) -> tuple[int, int] | None:
    """Decode size (height, width) that brings the short side down to `short_side`.

    Returns None when no reduction applies (no target, or the video is already that small), so
    videos are never upscaled by the decoder. Sizes are rounded to even numbers, which every
    YUV 4:2:0 scaler accepts.

    Args:
        height: frame height in pixels.
        width: frame width in pixels.
        short_side: wanted short side in pixels, or None.
    """
    if short_side is None or min(height, width) <= short_side:
        return None
    scale = short_side / min(height, width)
    new_h = max(2, 2 * round(height * scale / 2))
    new_w = max(2, 2 * round(width * scale / 2))
    return new_h, new_w


def unique_indices(indices: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique frame indices to decode and the inverse map back to the request.

    Raises:
        IndexError: an index is outside [0, num_frames).
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= num_frames):
        raise IndexError(
            f"frame indices {indices.min()}..{indices.max()} outside [0, {num_frames}) of the video"
        )
    return np.unique(indices, return_inverse=True)
