"""Sources: presentation times, decode size, stride, corrupt input, MOT folders, synthetic scene."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.conftest import write_video
from vidlab.data.synthetic.mot import SceneConfig, write_mot_folder
from vidlab.errors import UserError
from vidlab.pipeline.config import build_sources
from vidlab.pipeline.sources import (
    DecodeTarget,
    ImageFolderSource,
    ProcessSource,
    SyntheticSource,
    VideoFileSource,
    WebcamSource,
    open_source,
)


def _all(source, target=None):
    """Every frame of `source`; PyAV sources decode in a spawned child (see conftest)."""
    if isinstance(source, VideoFileSource):
        source = ProcessSource(source)
    source.configure(target or DecodeTarget())
    frames = list(source.frames(threading.Event()))
    return frames, source.stats


def test_vfr_times_come_from_pts_and_frames_decode_at_the_target_size(vfr_video):
    path, pts_ms = vfr_video
    frames, _ = _all(VideoFileSource(path), DecodeTarget(max_size=(160, 160)))
    assert [f.index for f in frames] == list(range(len(pts_ms)))
    np.testing.assert_allclose([f.pts for f in frames], np.array(pts_ms) / 1e3, atol=1e-3)
    # 320x240 converted straight to fit 160x160 by the decoder's scaler
    assert frames[0].image.shape == (120, 160, 3)
    assert frames[0].source_size == (320, 240) and frames[0].scale == (2.0, 2.0)
    grey = [int(f.image.mean()) for f in frames]
    assert grey == sorted(grey) and grey[-1] > grey[0] + 40  # frames in presentation order


def test_no_pixels_when_the_detector_needs_none_and_vid_stride(vfr_video):
    path, pts_ms = vfr_video
    source = VideoFileSource(path, vid_stride=3)
    frames, stats = _all(source, DecodeTarget(need_image=False))
    assert [f.index for f in frames] == [0, 3, 6, 9]
    assert all(f.image is None for f in frames)
    np.testing.assert_allclose([f.pts for f in frames], np.array(pts_ms)[::3] / 1e3, atol=1e-3)
    assert stats.skipped_stride == len(pts_ms) - 4


def test_corrupt_packets_are_skipped_and_counted(tmp_path: Path):
    n = 60
    path = write_video(tmp_path / "ok.mp4", [i * 40 for i in range(n)], noise=True)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for frac in (0.35, 0.6):  # garbage over two packets' worth of the media data
        at = int(len(data) * frac)
        data[at : at + 3000] = rng.integers(0, 256, 3000, np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    source = VideoFileSource(bad)
    frames, stats = _all(source, DecodeTarget(max_size=(80, 60)))
    assert stats.corrupt >= 1
    assert 0 < len(frames) < n
    assert np.all(np.diff([f.pts for f in frames]) > 0)


def test_a_truncated_stream_decodes_its_prefix(tmp_path: Path):
    ts = tmp_path / "x.ts"
    write_video(ts, [i * 40 for i in range(40)], noise=True)
    cut = tmp_path / "cut.ts"
    cut.write_bytes(ts.read_bytes()[: int(ts.stat().st_size * 0.5)])
    frames, _ = _all(VideoFileSource(cut), DecodeTarget(max_size=(80, 60)))
    assert 5 < len(frames) < 40


def test_mot_folder_at_seqinfo_rate_with_its_detections(tmp_path: Path):
    cfg = SceneConfig(num_frames=12, width=320, height=180, frame_rate=10.0)
    (folder,) = write_mot_folder(tmp_path, 1, seed=3, render_frames=True, config=cfg)
    source = open_source(str(folder), live=False)
    assert isinstance(source, ImageFolderSource) and source.fps == 10.0
    frames, _ = _all(source, DecodeTarget(max_size=(160, 90)))
    assert len(frames) == 12
    np.testing.assert_allclose([f.pts for f in frames], np.arange(12) / 10.0)
    assert frames[0].image.shape == (90, 160, 3)
    det = np.loadtxt(folder / "det" / "det.txt", delimiter=",")
    first = det[det[:, 0] == 1]
    np.testing.assert_allclose(frames[0].replay[:, :2], first[:, 2:4], atol=1e-3)
    assert frames[0].truth is not None and len(frames[0].truth) > 0


def test_synthetic_source_spans_segments_with_truth(tmp_path: Path):
    source = SyntheticSource(fps=20.0, width=320, height=180, num_frames=25, segment_frames=10)
    frames, _ = _all(source, DecodeTarget(need_image=False))
    assert [f.index for f in frames] == list(range(25))
    np.testing.assert_allclose([f.pts for f in frames], np.arange(25) / 20.0)
    assert all(f.truth is not None and f.truth.shape[1] == 5 for f in frames)
    assert sum(len(f.truth) for f in frames) > 25 and all(f.image is None for f in frames)
    rendered, _ = _all(SyntheticSource(width=320, height=180, num_frames=2), DecodeTarget())
    assert rendered[0].image.shape == (180, 320, 3) and rendered[0].image.std() > 5


def test_unknown_source_is_named():
    with pytest.raises(UserError, match="nope.mp4"):
        open_source("nope.mp4")


def test_decode_process_is_chosen_by_the_stream_option(vfr_video):
    path, pts_ms = vfr_video
    assert isinstance(open_source(str(path), decode_process=True), ProcessSource)
    assert isinstance(open_source(str(path)), VideoFileSource)
    source = open_source("synthetic", decode_process=True, synthetic={"num_frames": 3})
    frames, stats = _all(source, DecodeTarget(need_image=False))
    assert [f.index for f in frames] == [0, 1, 2] and stats.frames == 3


def test_frame_threaded_decoding_yields_the_same_frames_in_order(vfr_video):
    path, pts_ms = vfr_video
    one, _ = _all(VideoFileSource(path, threads=1))
    for threads in (0, 3):
        many, _ = _all(VideoFileSource(path, threads=threads))
        assert [f.index for f in many] == [f.index for f in one] == list(range(len(pts_ms)))
        assert [f.pts for f in many] == [f.pts for f in one]
        for a, b in zip(many, one, strict=True):
            np.testing.assert_array_equal(a.image, b.image)


def test_decoder_threads_default_by_liveness_and_come_from_the_stream_option(vfr_video):
    path, _ = vfr_video
    assert VideoFileSource(path).threads == 0  # FFmpeg's choice: as fast as it goes
    assert VideoFileSource(path, live=True).threads == 1  # no frames held in frame threads
    assert open_source(str(path), decode_threads=2).threads == 2
    assert open_source("tcp://127.0.0.1:9", decode_threads=None).threads == 1
    assert open_source(str(path)).describe()["decode_threads"] == 0
    # several file streams share CPUs + 1 threads instead of starting CPUs + 1 each
    share = max(1, (len(os.sched_getaffinity(0)) + 1) // 4)
    assert VideoFileSource(path, streams=4).threads == share
    assert VideoFileSource(path, streams=4, threads=2).threads == 2
    both = build_sources([str(path), str(path)], {"decode_threads": None})
    assert [s.threads for s in both] == [max(1, (len(os.sched_getaffinity(0)) + 1) // 2)] * 2
    with pytest.raises(UserError, match="stream.decode_threads"):
        open_source(str(path), decode_threads=-1)


def test_camera_source_reads_a_feed_in_capture_order_with_clock_times(vfr_video):
    """No camera here: OpenCV opens the file as it would a V4L2 feed; the source's loop, clock
    times, conversion, end of feed and release are the camera path's own."""
    path, pts_ms = vfr_video
    source = open_source("/dev/video7")  # a device path is a camera, not a missing file
    assert isinstance(source, WebcamSource) and source.stream_id == "video7"
    assert open_source("0").stream_id == "webcam0"
    frames, stats = _all(ProcessSource(WebcamSource(str(path))), DecodeTarget(max_size=(160, 160)))
    assert [f.index for f in frames] == list(range(len(pts_ms))) and stats.frames == len(pts_ms)
    times = [f.pts for f in frames]
    assert times == sorted(times) and times[0] >= 0.0
    assert times[-1] < pts_ms[-1] / 1e3  # the capture clock, not the file's 1.1 s of timestamps
    assert frames[0].image.shape == (120, 160, 3) and frames[0].source_size == (320, 240)
    grey = [int(f.image.mean()) for f in frames]
    assert grey == sorted(grey) and grey[-1] > grey[0] + 40


def test_a_camera_that_cannot_open_is_named():
    with pytest.raises(RuntimeError, match="cannot open camera '/nonexistent/video9'"):
        _all(ProcessSource(WebcamSource("/nonexistent/video9")))
