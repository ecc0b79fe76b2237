"""Throughput of each sink, side by side: frames/s with ~27 tracks a frame, and events/s.

    python benchmarks/sink_throughput.py [--frames 3000] [--repeats 3]

Two workloads, built before timing from `vidlab.pipeline.sinks.synthetic`:

- *tracks*: a 960x540 scene with 27 targets a frame (the tracking benchmark's density) and the
  line-crossing events they cause; each sink's frames/s counts ``write`` calls and ``close``.
- *events*: frames carrying 10 events each and no tracks; events/s.

Rows: JSON Lines (events; events + tracks), the SQLite store with batched commits (the default
config: 50 frames per transaction, every 5th box; and every box), the store committing every frame,
and a per-row reference (plain ``sqlite3``, same schema, WAL, one commit per inserted row: what a
naive logger does); Redis Streams against a local ``redis-server`` when one can be started; the
annotated MP4 (frames decoded at 640x360). Times are wall-clock (``time.perf_counter``, sinks wait on
disk and on the server) and each figure is the best of ``--repeats`` runs, each into a fresh folder.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vidlab.pipeline.sinks import AnnotatedVideoSink, JsonlSink, RedisStreamSink, SQLiteStore
from vidlab.pipeline.sinks.sqlite import _SCHEMA
from vidlab.pipeline.sinks.synthetic import synthetic_results
from vidlab.pipeline.types import Event, FrameResult


class PerRowSQLite:
    """Reference: every event and box row inserted and committed on its own (same schema, WAL)."""

    needs_image = False

    def __init__(self, run_dir: Path) -> None:
        self.conn = sqlite3.connect(run_dir / "per_row.sqlite", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.executescript(_SCHEMA)

    def write(self, result: FrameResult) -> None:
        frame = result.frame
        for e in result.events:
            self.conn.execute(
                "INSERT INTO events (type, camera, track_id, item, t_start, t_end, frame_start, "
                "frame_end, confidence, label, snapshot, extra) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (e.type, e.camera, e.track_id, e.item, e.t_start, e.t_end, e.frame_start,
                 e.frame_end, e.confidence, e.label, e.snapshot, "{}"),
            )  # fmt: skip
        if result.tracks is not None:
            for box, tid, score in zip(
                result.tracks.xyxy.tolist(),
                result.tracks.track_id.tolist(),
                result.tracks.score.tolist(),
                strict=True,
            ):
                self.conn.execute(
                    "INSERT INTO boxes VALUES (?,?,?,?,?,?,?,?,?)",
                    (frame.stream_id, tid, frame.index, frame.pts, *box, score),
                )

    def close(self) -> None:
        self.conn.close()


def _event_frames(frames: int, per_frame: int) -> list[FrameResult]:
    base = list(synthetic_results(frames=frames, targets=1))
    out = []
    for r in base:
        f = r.frame
        events = [
            Event("zone_enter", f.stream_id, k, "dock", f.pts, f.pts, f.index, f.index, 0.8,
                  extra={"dwell_s": 1.5})
            for k in range(per_frame)
        ]  # fmt: skip
        out.append(FrameResult(frame=f, events=events))
    return out


def _start_redis() -> tuple[subprocess.Popen | None, str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    return None, None


def _time(make: Callable[[Path], object], results: list[FrameResult], repeats: int) -> float:
    """Best wall time over `repeats` of writing every result and closing, each into a new folder."""
    best = float("inf")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            sink = make(Path(tmp))
            start = time.perf_counter()
            for r in results:
                sink.write(r)
            sink.close()
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000, help="frames per workload")
    parser.add_argument("--video-frames", type=int, default=300, help="frames for the MP4 row")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    tracks = list(synthetic_results(frames=args.frames, targets=27, seed=0))
    events = _event_frames(args.frames, per_frame=10)
    video = list(synthetic_results(frames=args.video_frames, targets=27, image_size=(640, 360)))
    n_track_events = sum(len(r.events) for r in tracks)
    n_events = sum(len(r.events) for r in events)

    redis_proc, url = _start_redis()
    rows: list[tuple[str, Callable[[Path], object], bool]] = [
        ("jsonl (events)", lambda d: JsonlSink(run_dir=d), True),
        ("jsonl (events + tracks.jsonl)", lambda d: JsonlSink(tracks_path="t.jsonl", run_dir=d), True),
        ("sqlite batched (50 frames, every 5th box)", lambda d: SQLiteStore(run_dir=d, box_every=5), True),
        ("sqlite batched (50 frames, every box)", lambda d: SQLiteStore(run_dir=d, box_every=1), True),
        ("sqlite commit per frame (every box)",
         lambda d: SQLiteStore(run_dir=d, box_every=1, commit_every_frames=1), True),
        ("sqlite reference: commit per row (every box)", PerRowSQLite, True),
    ]  # fmt: skip
    if url is not None:
        rows.append(
            ("redis streams (XADD, pipelined per frame)", lambda d: RedisStreamSink(url), True)
        )
    rows.append(
        (
            "annotated mp4 (640x360, libx264 veryfast)",
            lambda d: AnnotatedVideoSink(run_dir=d),
            False,
        )
    )

    table = Table(title=f"sink throughput: {args.frames} frames, best of {args.repeats}")
    table.add_column("sink")
    table.add_column("frames/s (27 tracks/frame)", justify="right")
    table.add_column("events/s (10 events/frame)", justify="right")
    try:
        for name, make, event_row in rows:
            if event_row:
                fps = len(tracks) / _time(make, tracks, args.repeats)
                eps = f"{n_events / _time(make, events, args.repeats):,.0f}"
            else:
                fps = len(video) / _time(make, video, args.repeats)
                eps = "-"
            table.add_row(name, f"{fps:,.0f}", eps)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait()
    console = Console(width=120)
    console.print(table)
    console.print(
        f"tracks workload: {n_track_events} events over {args.frames} frames; redis "
        + ("on a local redis-server" if url else "skipped (no redis-server)")
    )


if __name__ == "__main__":
    main()
