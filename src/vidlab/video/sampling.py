"""Which frames of a long video to analyse: every frame, a uniform stride, or adaptively.

Every frame is decoded (inter-coded video cannot skip decoding), but converting a frame to an
array and analysing it (shot detection, embeddings) is what costs; the sampler decides which frames
get that far.

``adaptive`` mode: every ``stride``-th frame is a probe; its grey thumbnail
(``thumb_size``, swscale straight from the decoder's planes) is compared with the previous probe's
(mean absolute difference, 8-bit units). A static interval (difference at most
``motion_threshold``) yields its probe only; an interval with motion, a cut or a fade yields every
``dense_stride``-th frame of it as well, in order, so that shot boundaries inside it are found to
the frame. The interval's decoded frames wait in a buffer of at most ``stride`` PyAV frames (the
memory bound). `SamplerStats` counts frames decoded, frames analysed, and the frames a uniform
``stride`` would analyse, for the report.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidlab.errors import UserError

log = logging.getLogger(__name__)

MODES = ("all", "uniform", "adaptive")


@dataclass(frozen=True)
class SamplerSettings:
    """Options of `sample_frames` (the ``sampler`` config group).

    Attributes:
        mode: ``all``, ``uniform`` (every ``stride``-th frame) or ``adaptive``.
        stride: frames between probes (adaptive) or samples (uniform).
        dense_stride: frames between samples inside an interval with motion (adaptive).
        motion_threshold: mean absolute grey difference between probes (8-bit units) above which
            an interval is sampled densely.
        thumb_size: (width, height) of the grey thumbnails motion is measured on.
        max_side: longer side, in pixels, of the frames handed out (None: stored size).
    """

    mode: str = "adaptive"
    stride: int = 25
    dense_stride: int = 1
    motion_threshold: float = 2.0
    thumb_size: tuple[int, int] = (64, 36)
    max_side: int | None = 320

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"sampler.mode={self.mode!r}: expected one of {MODES}")
        if self.stride < 1 or self.dense_stride < 1:
            raise UserError(
                f"sampler.stride={self.stride}, sampler.dense_stride={self.dense_stride}: "
                "expected positive integers"
            )


@dataclass
class SamplerStats:
    """What a sampling pass did.

    Attributes:
        decoded: frames decoded.
        analysed: frames handed out.
        uniform_stride_frames: frames a uniform sampler with the same ``stride`` would hand out.
        dense_intervals: probe intervals sampled densely (adaptive).
        static_intervals: probe intervals reduced to their probe (adaptive).
    """

    decoded: int = 0
    analysed: int = 0
    uniform_stride_frames: int = 0
    dense_intervals: int = 0
    static_intervals: int = 0
    stride: int = field(default=1, repr=False)

    def as_dict(self) -> dict[str, float]:
        return {
            "frames_decoded": self.decoded,
            "frames_analysed": self.analysed,
            "uniform_stride_frames": self.uniform_stride_frames,
            "analysed_fraction": self.analysed / max(self.decoded, 1),
            "dense_intervals": self.dense_intervals,
            "static_intervals": self.static_intervals,
        }


@dataclass(frozen=True)
class SampledFrame:
    """A frame handed out by the sampler.

    Attributes:
        index: frame index in the video.
        time_s: presentation time, seconds.
        image: (H, W, 3) uint8 RGB, longer side at most ``max_side``.
    """

    index: int
    time_s: float
    image: np.ndarray


def _thumb(frame, size: tuple[int, int]) -> np.ndarray:
    return frame.reformat(width=size[0], height=size[1], format="gray").to_ndarray()


def sample_frames(
    path: str | Path, settings: SamplerSettings | None = None, stats: SamplerStats | None = None
) -> Iterator[SampledFrame]:
    """Yield the frames of `path` that `settings` selects, in order (bounded memory).

    Args:
        path: the video.
        settings: the sampling options.
        stats: filled in as the pass goes (read it after the iterator is exhausted).
    """
    from vidlab.data.io.stream import iter_decoded, probe, reduced_size, to_array

    s = settings or SamplerSettings()
    stats = stats if stats is not None else SamplerStats()
    stats.stride = s.stride
    info = probe(path)
    size = reduced_size(info.width, info.height, s.max_side)

    def out(item) -> SampledFrame:
        stats.analysed += 1
        return SampledFrame(item.index, item.time_s, to_array(item.frame, size))

    buffer: list = []
    last_thumb: np.ndarray | None = None
    for item in iter_decoded(path):
        stats.decoded += 1
        if s.mode == "all" or (s.mode == "uniform" and item.index % s.stride == 0):
            yield out(item)
            continue
        if s.mode == "uniform":
            continue
        if last_thumb is None:  # the first frame: always handed out, the first probe
            last_thumb = _thumb(item.frame, s.thumb_size)
            yield out(item)
            continue
        buffer.append(item)
        if item.index % s.stride == 0:
            last_thumb = yield from _close_interval(buffer, last_thumb, s, stats, out)
            buffer = []
    if buffer:  # the tail after the last probe: its last frame is a probe
        yield from _close_interval(buffer, last_thumb, s, stats, out)
    stats.uniform_stride_frames = math.ceil(stats.decoded / s.stride)
    log.info(
        "sampler %s: %d of %d frames analysed (uniform stride %d: %d)",
        s.mode,
        stats.analysed,
        stats.decoded,
        s.stride,
        stats.uniform_stride_frames,
    )


def _close_interval(buffer: list, last_thumb, s: SamplerSettings, stats: SamplerStats, out):
    """Hand out an interval ending in its probe (``buffer[-1]``): densely if it changed."""
    probe_item = buffer[-1]
    thumb = _thumb(probe_item.frame, s.thumb_size)
    change = float(np.mean(np.abs(thumb.astype(np.int16) - last_thumb)))
    if change > s.motion_threshold:
        stats.dense_intervals += 1
        for item in buffer[:-1]:
            if item.index % s.dense_stride == 0:
                yield out(item)
    else:
        stats.static_intervals += 1
    yield out(probe_item)
    return thumb


def sampled_indices(
    path: str | Path, settings: SamplerSettings | None = None
) -> tuple[list[int], SamplerStats]:
    """The frame indices `sample_frames` hands out for `path`, and its stats (images dropped)."""
    stats = SamplerStats()
    indices = [f.index for f in sample_frames(path, settings, stats)]
    return indices, stats
