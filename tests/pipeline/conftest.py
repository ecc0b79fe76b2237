"""Tiny videos for the stream runtime tests.

FFmpeg state created by PyAV in the pytest process could hang the DataLoader workers that later
tests fork (see vidlab.data.io.reader), so these tests encode in a 'spawn' process (as
tests/data does) and decode only through `vidlab.pipeline.sources.ProcessSource`, whose decoder
runs in a spawned child.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from vidlab.data.io.writer import write_video as _write

pytest.importorskip("av")


def write_video(
    path: Path,
    pts_ms: list[int],
    *,
    size: tuple[int, int] = (160, 120),
    noise: bool = False,
) -> Path:
    """An H.264 file whose frame i shows grey level i*8 (or noise) at pts_ms[i] milliseconds."""
    w, h = size
    if noise:
        frames = np.random.default_rng(0).integers(0, 255, (len(pts_ms), h, w, 3), np.uint8)
    else:
        levels = (np.arange(len(pts_ms)) * 8) % 256
        frames = np.broadcast_to(levels[:, None, None, None], (len(pts_ms), h, w, 3))
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
    times = [t / 1e3 for t in pts_ms]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_write, path, frames, frame_times_s=times).result()


@pytest.fixture
def vfr_video(tmp_path: Path) -> tuple[Path, list[int]]:
    """A variable-frame-rate file with a 0.5 s gap."""
    pts = [0, 33, 66, 150, 183, 400, 433, 466, 1000, 1033, 1066, 1100]
    return write_video(tmp_path / "vfr.mp4", pts, size=(320, 240)), pts
