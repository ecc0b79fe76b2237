"""Bounded memory: the synthetic live scene, run faster than real time for 20 minutes of stream
time, through oracle detection, ByteTrack and a sink; RSS may grow at most 30 MB after warm-up.

(`benchmarks/stream_latency.py --soak-minutes 60` gives the hour-long figure.)"""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.pipeline import Pipeline, StreamOptions
from vidlab.pipeline.detect import OracleDetector
from vidlab.pipeline.sources import SyntheticSource
from vidlab.pipeline.stats import current_rss_mb
from vidlab.tracking import create_tracker

STREAM_MINUTES = 20
FPS = 25.0
MAX_GROWTH_MB = 30.0


class CountingSink:
    def __init__(self):
        self.frames = self.boxes = 0

    def write(self, result):
        self.frames += 1
        self.boxes += 0 if result.tracks is None else len(result.tracks)

    def close(self):
        pass


@pytest.mark.slow
def test_a_long_live_stream_runs_in_bounded_memory():
    n = int(STREAM_MINUTES * 60 * FPS)
    source = SyntheticSource(fps=FPS, width=960, height=540, num_frames=n, live=False)
    sink = CountingSink()
    pipe = Pipeline(
        [source],
        OracleDetector(),
        lambda s: create_tracker("bytetrack", frame_rate=s.fps),
        sinks=[sink],
        options=StreamOptions(sample_every_s=0.25),
    )
    rss = []
    for i, _ in enumerate(pipe):
        if i % 500 == 0:
            rss.append(current_rss_mb())
    assert sink.frames == n and sink.boxes > n  # everything went through
    warm = len(rss) // 10  # the first tenth: imports, first segments, buffers reaching size
    growth = max(rss[warm:]) - rss[warm]
    assert growth <= MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB after warm-up: {rss[warm::10]}"
    tracker = pipe._trackers[source.stream_id]
    assert len(tracker.snapshot().track_id) < 200  # lost tracks age out
    report = pipe.report()
    assert all(q["max_depth"] <= q["maxsize"] for q in report["details"]["queues"].values())
    assert np.isfinite(report["metrics"]["stream/latency_p99_ms"])
