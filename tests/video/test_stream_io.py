"""Sequential PyAV I/O: frames written one at a time read back in order at reduced size, and the
errors a bad source gives (FFmpeg work in another process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vidlab.data.io.stream import StreamWriter, probe, reduced_size
from vidlab.errors import UserError

# Runs in a fresh interpreter (FFmpeg stays out of the pytest process): writes 12 frames whose
# brightness encodes their index, reads them back at half size, prints what it read as JSON.
ROUND_TRIP = """
import json, sys
import numpy as np
from vidlab.data.io.stream import StreamWriter, iter_frames, probe
path = sys.argv[1]
with StreamWriter(path, width=64, height=48, fps=10, crf=0) as writer:
    for i in range(12):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
info = probe(path)
frames = [(i, t, list(img.shape), float(img.mean())) for i, t, img in iter_frames(path, max_side=32)]
print(json.dumps({"info": [info.width, info.height, info.fps], "frames": frames}))
"""


def test_written_frames_come_back_in_order(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, str(tmp_path / "ramp.mp4")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["info"] == [64, 48, 10.0]
    frames = result["frames"]
    assert [f[0] for f in frames] == list(range(12))
    assert [f[1] for f in frames] == pytest.approx([i / 10 for i in range(12)], abs=1e-6)
    assert all(f[2] == [24, 32, 3] for f in frames)
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
