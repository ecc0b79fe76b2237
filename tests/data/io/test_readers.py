"""Video readers: decord, the PyAV fallback, broken files, variable frame rate, probing.

PyAV decodes run in the spawned `spawn_pool` process (see tests/data/conftest.py); decord
decodes run here.
"""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from vidlab.data.io import VideoDecodeError, read_frames, reduced_size, stored_frame_size
from vidlab.data.io.base import VideoInfo, plausible_frame_times
from vidlab.data.io.probe import probe_many
from vidlab.data.io.rotation import mp4_display_rotation
from vidlab.data.io.writer import write_video

DECORD_READABLE = [
    "h264.mp4",
    "h264_audio.mp4",
    "mpeg4.avi",
    "mpeg4_audio.avi",
    "vp9.webm",
    "h264.mkv",
    "vfr.mp4",
]
WANTED = [0, 5, 3, 23, 23, 11]  # unsorted, repeated, last frame


@pytest.mark.parametrize("name", DECORD_READABLE)
def test_decord_returns_the_requested_frames(video_library, name, facts):
    clip = read_frames(video_library[name], WANTED, backend="decord")
    assert clip.frames.shape == (len(WANTED), facts.height, facts.width, 3)
    assert clip.frames.dtype == np.uint8
    assert facts.frame_ids(clip.frames) == WANTED
    assert clip.info.backend == "decord"
    assert clip.info.num_frames == facts.num_frames
    if name != "vfr.mp4":
        assert clip.info.fps == pytest.approx(facts.fps)


@pytest.mark.parametrize("name", DECORD_READABLE)
def test_pyav_agrees_with_decord(video_library, spawn_pool, name, facts):
    by_decord = read_frames(video_library[name], WANTED, backend="decord")
    by_pyav = spawn_pool.submit(read_frames, video_library[name], WANTED, backend="pyav").result()
    assert by_pyav.info.backend == "pyav"
    assert by_pyav.info.num_frames == by_decord.info.num_frames
    assert facts.frame_ids(by_pyav.frames) == WANTED
    difference = np.abs(by_pyav.frames.astype(int) - by_decord.frames.astype(int)).mean()
    assert difference < 2.0  # same stream, colour conversion rounding only


def test_av1_falls_back_to_pyav(video_library, spawn_pool, facts):
    with pytest.raises(VideoDecodeError, match="decord"):
        read_frames(video_library["av1.mp4"], [0], backend="decord")
    clip = spawn_pool.submit(read_frames, video_library["av1.mp4"], WANTED).result()
    assert clip.info.backend == "pyav"
    assert clip.fallback_reason is not None and clip.fallback_reason.startswith("decord:")
    assert facts.frame_ids(clip.frames) == WANTED


def avi_header_frames(path) -> int:
    """dwTotalFrames of the AVI main header (RIFF 'AVI ' LIST 'hdrl' 'avih', offset 48)."""
    data = path.read_bytes()[:52]
    assert data[:4] == b"RIFF" and data[8:12] == b"AVI " and data[24:28] == b"avih"
    return struct.unpack("<I", data[48:52])[0]


def test_truncated_avi_is_read_to_its_real_end(video_library, spawn_pool, facts):
    path = video_library["truncated.avi"]
    assert avi_header_frames(path) == facts.num_frames  # the header still claims every frame
    by_decord = read_frames(path, [0], backend="decord")
    real = by_decord.info.num_frames
    assert 0 < real < facts.num_frames
    by_pyav = spawn_pool.submit(read_frames, path, [0, real - 1], backend="pyav").result()
    assert by_pyav.info.num_frames == real
    assert facts.frame_ids(by_pyav.frames) == [0, real - 1]
    assert facts.frame_ids(read_frames(path, [real - 1], backend="decord").frames) == [real - 1]
    with pytest.raises(IndexError, match=f"outside \\[0, {real}\\)"):
        read_frames(path, [real], backend="decord")


@pytest.mark.parametrize("name", ["truncated.mp4", "empty.mp4"])
def test_unreadable_files_raise_with_every_backend_reason(video_library, spawn_pool, name):
    job = spawn_pool.submit(read_frames, video_library[name], [0])
    with pytest.raises(VideoDecodeError) as caught:
        job.result()
    assert caught.value.path == video_library[name]
    assert "decord:" in caught.value.reason and "pyav:" in caught.value.reason


def test_decode_error_survives_pickling(tmp_path):
    error = VideoDecodeError(tmp_path / "x.mp4", "decord", "bad header")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.backend, copy.reason, str(copy)) == (
        error.path, error.backend, error.reason, str(error))  # fmt: skip


def test_variable_frame_rate_timestamps(video_library, spawn_pool, facts):
    by_decord = read_frames(video_library["vfr.mp4"], [0], backend="decord")
    by_pyav = spawn_pool.submit(read_frames, video_library["vfr.mp4"], [0], backend="pyav").result()
    for info in (by_decord.info, by_pyav.info):
        assert info.is_vfr
        np.testing.assert_allclose(info.frame_times, facts.vfr_times, atol=1e-3)
    constant = read_frames(video_library["h264.mp4"], [0], backend="decord").info
    assert not constant.is_vfr
    assert constant.duration_s == pytest.approx(facts.num_frames / facts.fps, abs=1e-3)


def test_reduced_resolution_decoding(video_library, facts):
    clip = read_frames(video_library["h264.mp4"], [2, 7], backend="decord", size=(24, 32))
    assert clip.frames.shape == (2, 24, 32, 3)
    assert facts.frame_ids(clip.frames) == [2, 7]  # flat red level survives scaling


def test_reduced_size_keeps_aspect_and_never_upscales():
    assert reduced_size(256, 340, 224) == (224, 298)
    assert reduced_size(720, 1280, 256) == (256, 456)
    assert reduced_size(1280, 720, 256) == (456, 256)
    assert reduced_size(240, 320, 256) is None
    assert reduced_size(240, 320, None) is None


def test_stored_frame_size_reads_the_header(video_library, spawn_pool, facts):
    assert spawn_pool.submit(stored_frame_size, video_library["h264.mp4"]).result() == (
        facts.height, facts.width)  # fmt: skip
    with pytest.raises(VideoDecodeError, match="header"):
        spawn_pool.submit(stored_frame_size, video_library["empty.mp4"]).result()


def test_probe_many_reports_each_file(video_library, facts):
    names = ["h264.mp4", "av1.mp4", "vfr.mp4", "truncated.mp4", "empty.mp4"]
    results = probe_many([video_library[n] for n in names], workers=2)
    by_name = dict(zip(names, results, strict=True))
    assert [r.path for r in results] == [str(video_library[n]) for n in names]
    good = by_name["h264.mp4"]
    assert (good.ok, good.backend, good.num_frames, good.height, good.width) == (
        True, "decord", facts.num_frames, facts.height, facts.width)  # fmt: skip
    assert good.fps == pytest.approx(facts.fps) and good.duration_s == pytest.approx(
        facts.num_frames / facts.fps
    )
    assert by_name["av1.mp4"].ok and by_name["av1.mp4"].backend == "pyav"
    assert by_name["vfr.mp4"].vfr and not good.vfr
    for bad in ("truncated.mp4", "empty.mp4"):
        assert not by_name[bad].ok and by_name[bad].backend is None and by_name[bad].error


def test_implausible_frame_times_are_dropped():
    fps, n = 25.0, 8
    good = 3.5 + np.arange(n) / fps  # any start: shifted to 0
    np.testing.assert_allclose(plausible_frame_times(good, fps), np.arange(n) / fps)
    # What decord reports for an AVI with packed B-frames: unset timestamps first.
    nopts = np.concatenate([np.full(3, -3.6893487e17), np.arange(3, n) / fps])
    assert plausible_frame_times(nopts, fps) is None
    assert plausible_frame_times(np.array([0.0, 0.04, np.nan]), fps) is None
    assert plausible_frame_times(np.array([0.0, 0.08, 0.04]), fps) is None  # backwards
    assert plausible_frame_times(np.array([0.0, 0.04, 1e9]), fps) is None  # absurd span
    vfr = np.array([0.0, 0.04, 0.5, 0.52])  # a real variable rate is kept
    np.testing.assert_allclose(plausible_frame_times(vfr, fps), vfr)
    info = VideoInfo(num_frames=164, fps=25.0, backend="decord", frame_times=None)
    assert info.duration_s == pytest.approx(6.56)  # from the frame count, not a bogus header


ROTATIONS = (90, 180, 270)


def asymmetric_frames(num_frames: int = 6, height: int = 48, width: int = 64) -> np.ndarray:
    """uint8 (T, H, W, 3): red rises down the rows, green across the columns (any turn shows)."""
    frames = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    frames[..., 0] = np.linspace(0, 255, height).astype(np.uint8)[None, :, None]
    frames[..., 1] = np.linspace(0, 255, width).astype(np.uint8)[None, None, :]
    frames[..., 2] = 128
    return frames


@pytest.fixture(scope="module")
def rotated_videos(tmp_path_factory, spawn_pool) -> dict[int, object]:
    """The frame pattern written with a display rotation (as phones write portrait videos)."""
    folder = tmp_path_factory.mktemp("rotated")
    return {
        rotation: spawn_pool.submit(
            write_video, folder / f"rot{rotation}.mp4", asymmetric_frames(), rotation=rotation
        ).result()
        for rotation in (0, *ROTATIONS)
    }


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_rotated_videos_are_decoded_upright(rotated_videos, spawn_pool, rotation):
    path = rotated_videos[rotation]
    assert mp4_display_rotation(path) == rotation  # read from the track header, no FFmpeg
    expected = np.rot90(asymmetric_frames()[[0, 5]], rotation // 90, axes=(1, 2))  # anticlockwise
    clip = spawn_pool.submit(read_frames, path, [0, 5]).result()
    assert clip.info.backend == "pyav" and "display rotation" in clip.fallback_reason
    assert clip.frames.shape == expected.shape
    assert np.abs(clip.frames.astype(int) - expected).mean() < 3
    # At a reduced decode size (given in stored orientation) the turned frame keeps its aspect.
    small = spawn_pool.submit(read_frames, path, [0], size=(24, 32)).result()
    assert small.frames.shape[1:3] == ((32, 24) if rotation % 180 else (24, 32))
    # decord alone refuses it rather than returning a stretched or unturned frame.
    with pytest.raises(VideoDecodeError, match=f"display rotation of {rotation} degrees"):
        read_frames(path, [0], backend="decord")


def test_unrotated_and_non_mp4_files_have_no_rotation(rotated_videos, video_library, tmp_path):
    assert mp4_display_rotation(rotated_videos[0]) == 0
    assert read_frames(rotated_videos[0], [0], backend="decord").info.backend == "decord"
    for name in ("mpeg4.avi", "vp9.webm", "truncated.mp4", "empty.mp4"):
        assert mp4_display_rotation(video_library[name]) == 0
    assert mp4_display_rotation(tmp_path / "absent.mp4") == 0
