"""Tiny videos for the stream runtime tests, written with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")


def write_video(
    path: Path,
    pts_ms: list[int],
    *,
    size: tuple[int, int] = (160, 120),
    codec: str = "libx264",
    gop: int = 10,
    noise: bool = False,
) -> Path:
    """An H.264 file whose frame i shows grey level i*8 (or noise) at pts_ms[i] milliseconds."""
    w, h = size
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"g": str(gop)}
        for i, pts in enumerate(pts_ms):
            if noise:
                image = rng.integers(0, 255, (h, w, 3), np.uint8)
            else:
                image = np.full((h, w, 3), (i * 8) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def vfr_video(tmp_path: Path) -> tuple[Path, list[int]]:
    """A variable-frame-rate file with a 0.5 s gap."""
    pts = [0, 33, 66, 150, 183, 400, 433, 466, 1000, 1033, 1066, 1100]
    return write_video(tmp_path / "vfr.mp4", pts, size=(320, 240)), pts
