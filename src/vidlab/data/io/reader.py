"""Opening videos: decord first, PyAV when decord cannot open or decode the file.

`read_clip` is the one entry point the datasets use: it opens a video, lets the caller choose
frame indices from what the backend learned (frame count, fps, timestamps), decodes them, and
retries the whole read with the next backend on failure, so a clip always comes from a single
backend.

Fork safety: PyAV (FFmpeg) state created in a process is inherited by forked children, and a
PyAV decode in the parent before DataLoader workers fork can hang them. vidlab therefore never
decodes in the parent: datasets decode in their workers, and the dataset check probes videos in
a process pool started with the 'spawn' context (`vidlab.data.io.probe`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from vidlab.data.io.base import VideoDecodeError, VideoInfo, VideoSource


class Backend(str, Enum):
    """Video decoding backends. AUTO tries decord, then PyAV."""

    AUTO = "auto"
    DECORD = "decord"
    PYAV = "pyav"

    def chain(self) -> tuple[str, ...]:
        """Backends to try, in order."""
        if self is Backend.AUTO:
            return (Backend.DECORD.value, Backend.PYAV.value)
        return (self.value,)


@dataclass(frozen=True)
class DecodedClip:
    """Frames read by `read_clip`.

    Attributes:
        frames: uint8 (T, H, W, 3) RGB frames.
        indices: (T,) int64 frame indices they were decoded from.
        info: what the backend that succeeded knows about the video.
        fallback_reason: why earlier backends failed ("decord: ..."), None if the first worked.
    """

    frames: np.ndarray
    indices: np.ndarray
    info: VideoInfo
    fallback_reason: str | None = None


def open_video(
    path: str | Path, backend: str, *, size: tuple[int, int] | None = None, threads: int = 1
) -> VideoSource:
    """Open `path` with one named backend ("decord" or "pyav").

    Args:
        path: video file.
        backend: "decord" or "pyav".
        size: (height, width) to decode at, or None for the stored resolution.
        threads: decoder threads.

    Raises:
        VideoDecodeError: the backend cannot open the file.
        ValueError: unknown backend name.
    """
    if backend == Backend.DECORD.value:
        from vidlab.data.io.decord_backend import DecordVideo

        return DecordVideo(path, size=size, threads=threads)
    if backend == Backend.PYAV.value:
        from vidlab.data.io.pyav_backend import PyAVVideo

        return PyAVVideo(path, size=size, threads=threads)
    raise ValueError(f"unknown video backend {backend!r}; expected 'decord' or 'pyav'")


def read_clip(
    path: str | Path,
    choose_indices: Callable[[VideoInfo], np.ndarray],
    *,
    backends: Sequence[str] = Backend.AUTO.chain(),
    size: tuple[int, int] | None = None,
    threads: int = 1,
) -> DecodedClip:
    """Open `path`, choose frame indices from its `VideoInfo`, and decode them.

    Args:
        path: video file.
        choose_indices: maps the video's info to the (T,) frame indices to decode. It is called
            again for each backend tried, so it must be deterministic (draw from a generator
            seeded inside it, not from shared state).
        backends: backend names to try in order.
        size: (height, width) to decode at, or None for the stored resolution.
        threads: decoder threads.

    Raises:
        VideoDecodeError: every backend failed; the message lists each one's reason.
    """
    reasons: list[str] = []
    for backend in backends:
        try:
            with open_video(path, backend, size=size, threads=threads) as video:
                indices = np.asarray(choose_indices(video.info), dtype=np.int64)
                frames = video.get_frames(indices)
            return DecodedClip(frames, indices, video.info, "; ".join(reasons) or None)
        except VideoDecodeError as err:
            reasons.append(f"{backend}: {err.reason}")
    raise VideoDecodeError(path, "+".join(backends), "; ".join(reasons))


def read_frames(
    path: str | Path,
    indices: Sequence[int] | np.ndarray,
    *,
    backend: str = Backend.AUTO.value,
    size: tuple[int, int] | None = None,
    threads: int = 1,
) -> DecodedClip:
    """Decode the frames at `indices` (a picklable shortcut for `read_clip`, e.g. for a pool).

    Raises:
        VideoDecodeError: every backend failed.
        IndexError: an index is outside the video.
    """
    wanted = np.asarray(indices, dtype=np.int64)
    return read_clip(
        path, lambda _info: wanted, backends=Backend(backend).chain(), size=size, threads=threads
    )


def stored_frame_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of the first video stream, read from the container header (no decoding).

    Raises:
        VideoDecodeError: the header cannot be read or has no video stream.
    """
    import av

    try:
        with av.open(str(path)) as container:
            codec = container.streams.video[0].codec_context
            height, width = int(codec.height), int(codec.width)
    except (av.FFmpegError, OSError, IndexError) as err:
        raise VideoDecodeError(path, "pyav", f"cannot read the header: {err}") from err
    if height <= 0 or width <= 0:
        raise VideoDecodeError(path, "pyav", f"header gives frame size {width}x{height}")
    return height, width
