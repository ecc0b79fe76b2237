"""Terminal views of a running pipeline: a live rich panel (only on a terminal) and the final table."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from vidlab.pipeline.runtime import Pipeline
from vidlab.pipeline.types import FrameResult

STAGES = ("decode", "detect", "track", "analyze", "sinks", "capture_to_track", "capture_to_output")


def _fmt(v: float) -> str:
    return "-" if v != v else f"{v:.1f}"  # NaN -> "-"


def live_table(snap: dict[str, Any]) -> Table:
    """One refresh of the live panel from `Pipeline.snapshot`."""
    table = Table(
        title=f"stream: {snap['frames']} frames, {snap['fps']:.1f} fps, "
        f"{snap['dropped']} dropped, {snap['elapsed_s']:.0f} s"
    )
    table.add_column("stage")
    for col in ("p50 ms", "p95 ms", "p99 ms"):
        table.add_column(col, justify="right")
    for stage in STAGES:
        if stage in snap["latency"]:
            s = snap["latency"][stage]
            table.add_row(stage, _fmt(s["p50"]), _fmt(s["p95"]), _fmt(s["p99"]))
    table.add_row("queues", " ".join(f"{k}={v}" for k, v in snap["queues"].items()), "", "")
    return table


def iterate_with_display(
    pipeline: Pipeline, *, enabled: bool | None = None, refresh_s: float = 0.5
) -> Iterator[FrameResult]:
    """Iterate `pipeline`, showing the live panel when `enabled` (None: when stdout is a tty)."""
    if enabled is None:
        enabled = sys.stdout.isatty()
    if not enabled:
        yield from pipeline
        return
    with Live(live_table(pipeline.snapshot()), refresh_per_second=4, transient=True) as live:
        next_at = 0.0
        for result in pipeline:
            now = time.monotonic()
            if now >= next_at:
                live.update(live_table(pipeline.snapshot()))
                next_at = now + refresh_s
            yield result


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """The final results: per stream, then per stage latency."""
    console = console or Console()
    m, d = report["metrics"], report["details"]
    streams = Table(title="stream results")
    for col in ("stream", "frames", "fps", "dropped", "corrupt", "reconnects", "gap s"):
        streams.add_column(col, justify="right" if col != "stream" else "left")
    for name, s in d["streams"].items():
        streams.add_row(
            name,
            str(s["frames"]),
            f"{s['fps']:.1f}",
            str(s["dropped"]),
            str(s["corrupt"]),
            str(s["reconnects"]),
            f"{s['gap_seconds']:.2f}",
        )
    streams.add_row(
        "total",
        str(m["stream/frames"]),
        f"{m['stream/fps']:.1f}",
        str(m["stream/dropped_frames"]),
        str(m["stream/corrupt_frames"]),
        str(m["stream/reconnects"]),
        "",
    )
    console.print(streams)
    lat = Table(title=f"latency (ms), peak RSS {m['stream/peak_rss_mb']:.0f} MB")
    lat.add_column("stage")
    for col in ("p50", "p95", "p99", "mean"):
        lat.add_column(col, justify="right")
    for stage in STAGES:
        if stage in d["latency_ms"]:
            s = d["latency_ms"][stage]
            lat.add_row(stage, *(_fmt(s[k]) for k in ("p50", "p95", "p99", "mean")))
    console.print(lat)
