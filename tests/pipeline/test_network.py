"""A network stream whose server (a real ffmpeg process serving MPEG-TS over TCP on localhost) is
killed and restarted mid-stream: the source reconnects with backoff, goes on, and reports the gap."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.conftest import write_video
from vidlab.pipeline import Pipeline, StreamOptions
from vidlab.pipeline.sources import DecodeTarget, NetworkSource, ProcessSource

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(
    FFMPEG is None, reason="ffmpeg not found on PATH (apt-get install ffmpeg)"
)


class NoBoxes:
    target = DecodeTarget(max_size=(80, 60))

    def __call__(self, frames):
        return [np.zeros((0, 5), np.float32) for _ in frames]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_to(video: Path, url: str, *extra: str) -> subprocess.Popen:
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1"]
    cmd += ["-i", str(video), "-c", "copy", "-f", "mpegts", *extra, url]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)


def _serve(video: Path, port: int) -> subprocess.Popen:
    return _serve_to(video, f"tcp://127.0.0.1:{port}?listen=1")


def _assert_every_frame_counted(pipe: Pipeline, stream_id: str, times: list, expected: int) -> dict:
    """A live queue drops its oldest frame when the consumer falls behind (a loaded machine) and
    counts it; every frame the source read is delivered or counted as dropped, and most arrive.
    Returns the stream's report."""
    stats = pipe.report()["details"]["streams"][stream_id]
    assert len(times) + stats["dropped"] == expected and stats["dropped"] <= expected // 4
    return stats


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)


@pytest.mark.integration
def test_reconnects_after_the_server_is_killed_and_restarted(tmp_path: Path):
    video = write_video(tmp_path / "clip.mp4", [i * 40 for i in range(50)])
    port = _free_port()
    server = _serve(video, port)
    source = NetworkSource(  # decoded in a spawned child (see conftest), frames handed over
        f"tcp://127.0.0.1:{port}",
        timeout=3.0,
        backoff=0.2,
        max_backoff=1.0,
        max_retries=20,
        options={"analyzeduration": "200000", "probesize": "32768"},
    )
    source = ProcessSource(source)
    pipe = Pipeline([source], NoBoxes(), None, options=StreamOptions(max_frames=110))
    killed_at = restarted = None
    times = []
    try:
        for result in pipe:
            times.append(result.frame.pts)
            if len(times) == 40 and killed_at is None:
                _stop(server)
                killed_at = time.monotonic()
                time.sleep(1.0)  # the stream is away for at least this long
                server = _serve(video, port)
                restarted = True
    finally:
        _stop(server)
    assert restarted
    stats = _assert_every_frame_counted(pipe, source.stream_id, times, 110)
    assert np.all(np.diff(times) > 0)  # stream time keeps increasing across the reconnect
    assert stats["reconnects"] >= 1
    gap = stats["gaps"][0]
    assert gap["wall_gap_s"] >= 0.9 and stats["gap_seconds"] >= 0.9
    jump = np.diff(times).max()
    assert jump >= 0.9  # the gap shows in the stream's times too


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["http", "udp"])
def test_reads_mpegts_over_http_and_udp(tmp_path: Path, protocol: str):
    """An HTTP server (ffmpeg listening) and a UDP sender (ffmpeg pushing to our port)."""
    video = write_video(tmp_path / "clip.mp4", [i * 40 for i in range(50)])
    port = _free_port()
    url = f"{protocol}://127.0.0.1:{port}"
    # HTTP: ffmpeg is the server; UDP: ffmpeg sends datagrams to the port the source listens on.
    server = _serve_to(video, url, "-listen", "1") if protocol == "http" else None
    source = NetworkSource(
        url,
        timeout=5.0,
        backoff=0.2,
        max_backoff=1.0,
        max_retries=20,
        options={"analyzeduration": "500000", "probesize": "65536"},
    )
    source = ProcessSource(source)
    pipe = Pipeline([source], NoBoxes(), None, options=StreamOptions(max_frames=30))
    times = []
    try:
        if protocol == "udp":
            server = _serve_to(video, url + "?pkt_size=1316")
        for result in pipe:
            times.append(result.frame.pts)
    finally:
        _stop(server)
    _assert_every_frame_counted(pipe, source.stream_id, times, 30)
    assert np.all(np.diff(times) > 0)


# -- RTSP: a real RTSP server (GStreamer's) serving a file like an IP camera -----------------------

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/usr/local/bin")
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")


def _rtsp_server_available() -> bool:
    if SYSTEM_PYTHON is None:
        return False
    check = subprocess.run(
        [SYSTEM_PYTHON, str(RTSP_SERVER), "--check"], capture_output=True, check=False
    )
    return check.returncode == 0


def _serve_rtsp(video: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(RTSP_SERVER), str(video), str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    if proc.stdout.readline().strip() != "ready":
        _stop(proc)
        raise RuntimeError(f"the RTSP server did not start on port {port}")
    return proc


@pytest.mark.integration
def test_reads_rtsp_and_reconnects_after_the_camera_restarts(tmp_path: Path):
    if not _rtsp_server_available():
        pytest.skip(
            f"no RTSP server: {SYSTEM_PYTHON or 'python3'} cannot load GstRtspServer (apt-get "
            "install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good)"
        )
    video = write_video(tmp_path / "clip.mp4", [i * 40 for i in range(100)])
    port = _free_port()
    server = _serve_rtsp(video, port)
    source = NetworkSource(
        f"rtsp://127.0.0.1:{port}/live", timeout=3.0, backoff=0.2, max_backoff=1.0, max_retries=20
    )
    assert source.options["rtsp_transport"] == "tcp"  # interleaved: no UDP ports to open
    source = ProcessSource(source)
    pipe = Pipeline([source], NoBoxes(), None, options=StreamOptions(max_frames=60))
    times, sizes = [], set()
    try:
        for result in pipe:
            times.append(result.frame.pts)
            sizes.add(result.frame.source_size)
            if len(times) == 20:
                _stop(server)
                time.sleep(1.0)
                server = _serve_rtsp(video, port)
    finally:
        _stop(server)
    assert sizes == {(160, 120)}
    stats = _assert_every_frame_counted(pipe, source.stream_id, times, 60)
    assert np.all(np.diff(times) > 0)  # stream time keeps increasing across the reconnect
    assert stats["reconnects"] >= 1 and stats["gap_seconds"] >= 0.9
