"""Sequential PyAV I/O: frames written one at a time read back in order at reduced size, and the
errors a bad source gives (FFmpeg work in a spawned process)."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.io.stream import StreamWriter, probe, reduced_size
from vidlab.errors import UserError


def _write_and_read(path):
    """Write 12 frames whose brightness encodes their index; read them back at half size."""
    from vidlab.data.io.stream import iter_frames

    with StreamWriter(path, width=64, height=48, fps=10, crf=0) as writer:
        for i in range(12):
            writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    info = probe(path)
    frames = [(i, t, img.shape, float(img.mean())) for i, t, img in iter_frames(path, max_side=32)]
    return info, frames


def test_written_frames_come_back_in_order(tmp_path, spawn_pool) -> None:
    info, frames = spawn_pool.submit(_write_and_read, tmp_path / "ramp.mp4").result()
    assert (info.width, info.height, info.fps) == (64, 48, 10.0)
    assert [f[0] for f in frames] == list(range(12))
    assert [f[1] for f in frames] == pytest.approx([i / 10 for i in range(12)], abs=1e-6)
    assert {f[2] for f in frames} == {(24, 32, 3)}
    assert [f[3] for f in frames] == pytest.approx([20 * i for i in range(12)], abs=3)


def test_bad_sources_and_sizes(tmp_path, spawn_pool) -> None:
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        probe(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(UserError, match="junk.mp4"):
        spawn_pool.submit(probe, junk).result()
    with pytest.raises(ValueError, match="even"):
        StreamWriter(tmp_path / "odd.mp4", width=63, height=48)
    assert reduced_size(1920, 1080, 480) == (480, 270)
    assert reduced_size(320, 180, 480) == (320, 180) and reduced_size(320, 180, None) == (320, 180)
