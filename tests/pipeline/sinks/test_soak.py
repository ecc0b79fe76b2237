"""Bounded memory: every sink at once over a long stream whose track ids never repeat."""

from __future__ import annotations

import gc

import pytest

from vidlab.pipeline.sinks import (
    AnnotatedVideoSink,
    JsonlSink,
    RedisStreamSink,
    SQLiteStore,
    close_sinks,
    open_store,
)
from vidlab.pipeline.sinks.synthetic import synthetic_results


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_rss_stays_flat_over_a_long_stream(tmp_path, redis_url):
    frames, warmup = 12_000, 3_000  # 8 minutes of a 25 fps stream
    sinks = [
        JsonlSink(tracks_path="tracks.jsonl", run_dir=tmp_path),
        SQLiteStore(run_dir=tmp_path, box_every=5, track_timeout_s=5.0, retention_s=120.0),
        RedisStreamSink(redis_url, maxlen=1000),
        AnnotatedVideoSink(run_dir=tmp_path, trail_length=10, max_trails=64, preset="ultrafast"),
    ]
    rss = []
    for i, result in enumerate(
        synthetic_results(frames=frames, targets=20, image_size=(96, 54), seed=11)
    ):
        for sink in sinks:
            sink.write(result)
        if i + 1 in (warmup, frames):
            gc.collect()
            rss.append(_rss_mb())
    store = sinks[1]
    assert len(store._tracks) < 200
    close_sinks(sinks)
    growth = rss[1] - rss[0]
    print(f"RSS after warm-up {rss[0]:.1f} MB, at the end {rss[1]:.1f} MB")
    assert growth < 10.0, f"RSS grew {growth:.1f} MB after warm-up ({rss})"
    with open_store(tmp_path / "store.sqlite") as reader:
        events = reader.events()
        assert events and min(e.t_end for e in events) >= (frames - 1) / 25 - 120.0
