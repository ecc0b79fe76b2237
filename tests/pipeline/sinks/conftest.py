"""Fixtures of the sink tests: a real redis-server on a free port, and child-process helpers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import vidlab

SRC_DIR = Path(vidlab.__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """The environment of a child Python process that imports this checkout's vidlab."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC_DIR), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture
def python_child() -> Iterator[Callable[..., subprocess.Popen]]:
    """`python_child(code, *args)` starts `python -c code args...` with stdout and stderr piped
    (text); children still running at the end of the test are killed."""
    started: list[subprocess.Popen] = []

    def start(code: str, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start a redis-server without persistence on a free port; skips the test with the reason when
    redis-server or the redis package is missing or the server does not start."""
    redis = pytest.importorskip("redis", reason="the redis Python package is not installed")
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).is_file():
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return proc, url
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stop_redis(proc)
                    err = proc.stderr.read().decode(errors="replace")
                    pytest.skip(f"redis-server did not start on port {port}: {err.strip()[:300]}")
                time.sleep(0.05)
    finally:
        client.close()


def stop_redis(proc: subprocess.Popen) -> None:
    """Terminate a server started by `start_redis` (kill it after 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """URL of a fresh redis-server shared by a test module (see `start_redis`)."""
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        stop_redis(proc)


@pytest.fixture
def redis_server(tmp_path) -> Iterator[tuple[subprocess.Popen, str]]:
    """A redis-server of the test's own, as ``(process, url)``, that the test may stop."""
    proc, url = start_redis(tmp_path)
    try:
        yield proc, url
    finally:
        stop_redis(proc)
