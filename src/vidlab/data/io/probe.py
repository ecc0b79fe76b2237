"""Probing videos for the dataset check: can each file be decoded, and what are its timings?

Probes decode (the first and the last frame of every file), so they run in worker processes
started with the 'spawn' context: the calling process stays free of FFmpeg state and can fork
DataLoader workers afterwards (see `vidlab.data.io.reader`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidlab.data.io.base import VideoDecodeError
from vidlab.data.io.reader import Backend, read_clip

# Files handed to a probe process per task: large enough to amortise inter-process traffic,
# small enough to keep all processes busy at the end of a split.
PROBE_CHUNK = 16


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of probing one file.

    Attributes:
        path: the file.
        ok: the first and the last frame decoded.
        backend: backend that decoded it ("decord" or "pyav"), None when none could.
        num_frames: frames counted from the stream's packets (0 when not ok).
        fps: average frame rate, frames per second.
        duration_s: duration in seconds.
        height: frame height in pixels.
        width: frame width in pixels.
        vfr: the frame intervals vary (variable frame rate).
        error: why it failed, or why decord was skipped when PyAV succeeded.
    """

    path: str
    ok: bool
    backend: str | None = None
    num_frames: int = 0
    fps: float = 0.0
    duration_s: float = 0.0
    height: int = 0
    width: int = 0
    vfr: bool = False
    error: str | None = None


def probe_video(path: str | Path, backend: str = Backend.AUTO.value) -> ProbeResult:
    """Decode the first and the last frame of `path`; never raises for a bad file."""
    try:
        clip = read_clip(
            path, lambda info: np.array([0, info.num_frames - 1]), backends=Backend(backend).chain()
        )
    except VideoDecodeError as err:
        return ProbeResult(path=str(path), ok=False, error=err.reason)
    info = clip.info
    return ProbeResult(
        path=str(path),
        ok=True,
        backend=info.backend,
        num_frames=info.num_frames,
        fps=info.fps,
        duration_s=info.duration_s,
        height=int(clip.frames.shape[1]),
        width=int(clip.frames.shape[2]),
        vfr=info.is_vfr,
        error=clip.fallback_reason,
    )


def probe_many(
    paths: Sequence[str | Path],
    *,
    workers: int,
    backend: str = Backend.AUTO.value,
    on_result: Callable[[ProbeResult], None] | None = None,
) -> list[ProbeResult]:
    """Probe `paths` in `workers` spawned processes; results come back in input order.

    Args:
        paths: video files.
        workers: probe processes (at least 1).
        backend: "auto", "decord" or "pyav".
        on_result: called with each result as it arrives (progress reporting).
    """
    if not paths:
        return []
    results = []
    for result in _imap(paths, max(1, workers), backend):
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results


def _imap(paths: Sequence[str | Path], workers: int, backend: str) -> Iterator[ProbeResult]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(
            probe_video, [str(p) for p in paths], [backend] * len(paths), chunksize=PROBE_CHUNK
        )
