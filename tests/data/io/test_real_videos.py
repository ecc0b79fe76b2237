"""Real clips (VIDLAB_REAL_DATA/videos): decord and PyAV agree on frame count and content.

Frame counts and rates are those listed in the shared data README.
"""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.io import read_frames
from vidlab.data.io.probe import probe_video

REAL_CLIPS = {  # file: (frames, fps)
    "kinetics_armwrestling_340x256.mp4": (280, 28.0),
    "ucf101_applyeyemakeup_320x240.avi": (164, 25.0),
    "street_bikes_640x272.mp4": (250, 25.0),
}
# Mean absolute difference allowed between the two backends' RGB frames (0..255): both decode the
# same stream with FFmpeg; only the YUV -> RGB conversion may round differently.
MAX_MEAN_DIFFERENCE = 2.0


@pytest.mark.parametrize("name", sorted(REAL_CLIPS))
def test_backends_agree_on_real_clips(real_data, spawn_pool, name):
    path = real_data / "videos" / name
    frames, fps = REAL_CLIPS[name]
    # Spread over the clip, out of order, with the first and the last frame and a repeat.
    wanted = [frames - 1, 0, 1, 37, 38, frames // 2, frames // 2, frames - 2, 99]
    by_decord = read_frames(path, wanted, backend="decord")
    by_pyav = spawn_pool.submit(read_frames, path, wanted, backend="pyav").result()
    for clip in (by_decord, by_pyav):
        assert clip.info.num_frames == frames
        assert clip.info.fps == pytest.approx(fps)
        assert clip.frames.shape[0] == len(wanted)
    per_frame = np.abs(by_decord.frames.astype(int) - by_pyav.frames.astype(int)).mean(
        axis=(1, 2, 3)
    )
    assert per_frame.max() < MAX_MEAN_DIFFERENCE, per_frame
    # Neighbouring frames differ more than the backends do: the frames are the same ones.
    neighbours = np.abs(by_decord.frames[3].astype(int) - by_decord.frames[4].astype(int)).mean()
    assert neighbours > per_frame[3]


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_probe_durations_of_real_clips_are_frames_over_fps(real_data, spawn_pool, backend):
    # decord reports unset timestamps (-3.7e17 s) for the UCF101 AVI's packed B-frames; taken at
    # face value they gave a duration of 3.7e17 s.
    names = sorted(REAL_CLIPS)
    paths = [str(real_data / "videos" / name) for name in names]
    results = list(spawn_pool.map(probe_video, paths, [backend] * len(paths)))
    for name, result in zip(names, results, strict=True):
        frames, fps = REAL_CLIPS[name]
        assert result.ok and result.backend == backend, result
        assert result.duration_s == pytest.approx(frames / fps, abs=1.0 / fps), name
