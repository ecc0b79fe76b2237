"""decord backend: batched random access to frames, optionally decoded at reduced resolution.

Only `decord.VideoReader` is used: decord's AV reader also opens the audio stream and fails on
files without one, and vidlab never needs audio.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import decord
import numpy as np

from vidlab.data.io.base import (
    VideoDecodeError,
    VideoInfo,
    plausible_frame_times,
    unique_indices,
)
from vidlab.data.io.rotation import mp4_display_rotation

log = logging.getLogger(__name__)

BACKEND = "decord"
# decord raises its own DECORDError for codec and stream problems and RuntimeError for I/O.
_DECORD_ERRORS = (decord.DECORDError, RuntimeError, OSError)
_LOG_PREFIX = re.compile(r"^\[[\d:]+\] \S+:\d+: ")


class DecordVideo:
    """A video opened with `decord.VideoReader`.

    Args:
        path: video file.
        size: (height, width) to decode at, or None for the stored resolution. decord scales
            inside its decoder, so the full-resolution RGB frames never exist in memory.
        threads: decoder threads; 1 in DataLoader workers (the workers are the parallelism),
            0 lets FFmpeg pick.

    Raises:
        VideoDecodeError: the file cannot be opened or has no frames.
    """

    def __init__(self, path: str | Path, *, size: tuple[int, int] | None = None, threads: int = 1):
        self.path = Path(path)
        height, width = size if size is not None else (-1, -1)
        rotation = mp4_display_rotation(self.path)
        if rotation:
            raise VideoDecodeError(
                self.path,
                BACKEND,
                f"display rotation of {rotation} degrees: decord 0.6 applies it inconsistently "
                f"(wrong turn, stretched or failing output); PyAV applies it",
            )
        try:
            self._reader = decord.VideoReader(
                str(self.path), ctx=decord.cpu(0), width=width, height=height, num_threads=threads
            )
            num_frames = len(self._reader)
            if num_frames == 0:
                raise VideoDecodeError(self.path, BACKEND, "the video stream has no frames")
            fps = float(self._reader.get_avg_fps())
            times = self._reader.get_frame_timestamp(np.arange(num_frames))[:, 0].astype(np.float64)
        except _DECORD_ERRORS as err:
            raise VideoDecodeError(self.path, BACKEND, _first_line(err)) from err
        frame_times = plausible_frame_times(times, fps)
        if frame_times is None:
            log.debug("%s: decord's frame timestamps are unset or out of order; timing the "
                      "frames by count and frame rate", self.path)  # fmt: skip
        self.info = VideoInfo(
            num_frames=num_frames, fps=fps, backend=BACKEND, frame_times=frame_times
        )

    def get_frames(self, indices: np.ndarray) -> np.ndarray:
        """Frames at `indices` as uint8 (len(indices), H, W, 3); each distinct frame decoded once.

        Raises:
            IndexError: an index is outside the video.
            VideoDecodeError: decord failed on the file (corrupt packets, failed seek).
        """
        unique, inverse = unique_indices(indices, self.info.num_frames)
        try:
            frames = self._reader.get_batch(unique.tolist()).asnumpy()
        except _DECORD_ERRORS as err:
            raise VideoDecodeError(self.path, BACKEND, _first_line(err)) from err
        if np.array_equal(inverse, np.arange(len(inverse))):  # sorted, no repeats: no copy
            return frames
        return frames[inverse]

    def close(self) -> None:
        """Release the reader (decord frees its decoder when the object is collected)."""
        self._reader = None

    def __enter__(self) -> DecordVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(err: BaseException) -> str:
    """decord messages carry a C++ stack trace; keep the line that says what went wrong,
    without its "[hh:mm:ss] source.cc:line: " prefix."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    useful = [line for line in lines if "Error" in line or "ERROR" in line or "failed" in line]
    line = (useful or lines or [type(err).__name__])[0]
    return _LOG_PREFIX.sub("", line)[:300]
