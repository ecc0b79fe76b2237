"""Bounded-memory sequential video I/O with PyAV: decode frame by frame, encode frame by frame.

`iter_frames` decodes a file in presentation order and yields one frame at a time, converted to a
reduced size on the way out (the decoder holds a handful of frames; nothing is accumulated), so an
hour-long file costs the memory of a few frames. `iter_decoded` yields PyAV's own frames unconverted,
for samplers that decide afterwards which frames are worth converting (`to_array`). `StreamWriter`
encodes frames as they come (synthetic videos, summary clips) instead of from a (T, H, W, 3) array.

A small sequential source for the summarisation and flow tasks; the stream runtime's file source
will take its place when it lands.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.errors import UserError

log = logging.getLogger(__name__)

#: Frame rate assumed when the container states none.
FALLBACK_FPS = 25.0


@dataclass(frozen=True)
class StreamInfo:
    """What the container says about a video before decoding.

    Attributes:
        path: the file.
        fps: average frame rate (frames per second; `FALLBACK_FPS` when unknown).
        num_frames: frame count from the header (0 when the container does not say: an estimate,
            never used to stop decoding).
        width, height: stored size in pixels.
        duration_s: duration in seconds from the header (0.0 when unknown).
    """

    path: Path
    fps: float
    num_frames: int
    width: int
    height: int
    duration_s: float


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame, not yet converted.

    Attributes:
        index: 0-based position in decode order.
        time_s: presentation time in seconds (index / fps when the file has no timestamps).
        frame: the PyAV ``VideoFrame`` (convert with `to_array`).
    """

    index: int
    time_s: float
    frame: Any


def reduced_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is at most `max_side` (even numbers, aspect
    ratio kept; unchanged when `max_side` is None or already larger)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def to_array(frame: Any, size: tuple[int, int] | None = None, fmt: str = "rgb24") -> np.ndarray:
    """A PyAV frame as an (H, W, 3) uint8 array (`fmt` ``rgb24`` or ``bgr24``, or ``gray`` for
    (H, W)), resized to `size` = (width, height) by swscale when given."""
    if size is not None and (frame.width, frame.height) != tuple(size):
        return frame.reformat(width=size[0], height=size[1], format=fmt).to_ndarray()
    return frame.to_ndarray(format=fmt)


def probe(path: str | Path) -> StreamInfo:
    """The header facts of `path` (no decoding).

    Raises:
        FileNotFoundError: no such file.
        UserError: not a video PyAV can open, or no video stream.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video source {path}: no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UserError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or FALLBACK_FPS)
            duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
            if not duration and container.duration:
                duration = container.duration / 1e6
            frames = int(stream.frames or round(duration * fps))
            return StreamInfo(
                path, fps, frames, stream.codec_context.width, stream.codec_context.height, duration
            )
    except (av.FFmpegError, OSError) as err:
        raise UserError(f"{path}: not a readable video ({str(err)[:200]})") from err


def iter_decoded(path: str | Path, *, threads: int = 1) -> Iterator[DecodedFrame]:
    """Decode `path` in presentation order, one PyAV frame at a time (bounded memory).

    Args:
        path: the video file.
        threads: decoder threads (0: FFmpeg's choice).

    Raises:
        UserError: the file cannot be decoded (names the frame reached).
    """
    import av

    info = probe(path)
    index = -1
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = threads
            if threads != 1:
                stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                index += 1
                time_s = float(frame.time) if frame.time is not None else index / info.fps
                yield DecodedFrame(index, time_s, frame)
    except av.FFmpegError as err:
        raise UserError(f"{path}: decoding failed after frame {index} ({str(err)[:200]})") from err


def iter_frames(
    path: str | Path, *, max_side: int | None = None, fmt: str = "rgb24", threads: int = 1
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, time_s, image)`` for every frame of `path`, `image` an (H, W, 3) uint8 array
    in `fmt` whose longer side is at most `max_side` (see `iter_decoded`)."""
    info = probe(path)
    size = reduced_size(info.width, info.height, max_side)
    for item in iter_decoded(path, threads=threads):
        yield item.index, item.time_s, to_array(item.frame, size, fmt)


class StreamWriter:
    """Encode uint8 RGB frames one at a time (bounded memory; use as a context manager).

    Args:
        path: output file (the container follows the suffix, e.g. ``.mp4``).
        width, height: frame size in pixels (even numbers for YUV 4:2:0).
        fps: frame rate.
        codec: FFmpeg encoder name.
        crf: constant rate factor for x264 (lower: better); ignored by other codecs.
        preset: x264 speed preset.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: float = 25.0,
        codec: str = "libx264",
        crf: int = 23,
        preset: str = "veryfast",
    ) -> None:
        import av

        if width % 2 or height % 2:
            raise ValueError(f"frame size {width}x{height}: width and height must be even")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = (width, height)
        self.count = 0
        self._av = av
        self._container = av.open(str(self.path), "w")
        self._stream = self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            self._stream.options = {"crf": str(crf), "preset": preset}

    def write(self, image: np.ndarray) -> None:
        """Encode one (H, W, 3) uint8 RGB frame of the writer's size."""
        if image.shape != (self.size[1], self.size[0], 3) or image.dtype != np.uint8:
            raise ValueError(
                f"{self.path}: frame {self.count} is {image.dtype} {image.shape}; expected uint8 "
                f"{(self.size[1], self.size[0], 3)}"
            )
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        self._container.mux(self._stream.encode(frame))
        self.count += 1

    def close(self) -> None:
        """Flush the encoder and close the file (idempotent)."""
        if self._container is None:
            return
        self._container.mux(self._stream.encode())
        self._container.close()
        self._container = None

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
