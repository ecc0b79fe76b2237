"""RedisStreamSink and EventConsumer against a real redis-server (skipped with the reason when it
cannot start): per-camera streams, MAXLEN caps, consumer groups, and two publishing processes."""

from __future__ import annotations

import pytest

from vidlab.pipeline.sinks import EventConsumer, RedisStreamSink, SinkError, stream_name
from vidlab.pipeline.sinks.synthetic import synthetic_results

redis = pytest.importorskip("redis", reason="the redis Python package is not installed")


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    c.flushdb()
    yield c
    c.close()


def _events(camera: str, frames: int, seed: int):
    results = list(synthetic_results(camera=camera, frames=frames, targets=12, seed=seed))
    return results, [e for r in results for e in r.events]


def test_events_go_to_their_camera_stream_and_come_back(redis_url, client):
    sink = RedisStreamSink(redis_url)
    expected = {}
    for seed, cam in enumerate(("north", "south")):
        results, expected[cam] = _events(cam, 150, seed)
        for r in results:
            sink.write(r)
    sink.close()
    sink.close()  # idempotent
    assert all(expected.values())
    for cam, events in expected.items():
        assert client.xlen(f"vidlab:events:{cam}") == len(events)
    streams = EventConsumer.discover(client=client)
    assert streams == ["vidlab:events:north", "vidlab:events:south"]

    consumer = EventConsumer(streams, group="g", consumer="c1", client=client)
    got = {cam: [] for cam in expected}
    while batch := consumer.read(count=7, block_ms=None):
        for stream, _, event in batch:
            assert stream == stream_name("vidlab:events:{camera}", event.camera)
            got[event.camera].append(event)
        assert consumer.ack(batch) == len(batch)
    assert got == expected  # every field, in order per camera
    assert consumer.pending() == 0


def test_unacked_entries_stay_pending_and_a_second_group_sees_everything(redis_url, client):
    sink = RedisStreamSink(redis_url, stream="alerts:{camera}")
    results, events = _events("c", 200, 3)
    for r in results:
        sink.write(r)
    sink.close()
    first = EventConsumer(["alerts:c"], group="a", consumer="x", client=client)
    batch = first.read(count=len(events) + 1, block_ms=None)
    assert len(batch) == len(events)
    first.ack(batch[:2])
    assert first.pending() == len(events) - 2
    assert first.read(block_ms=None) == []  # delivered once per group
    other = EventConsumer(["alerts:c"], group="b", consumer="y", client=client)
    assert [e for *_, e in other] == events  # the iterator acks as it goes
    assert other.pending() == 0


def test_streams_are_capped(redis_url, client):
    sink = RedisStreamSink(redis_url, maxlen=10)
    total = 0
    for r in synthetic_results(frames=2000, targets=30, seed=9):
        sink.write(r)
        total += len(r.events)
    sink.close()
    assert total > 300
    # MAXLEN ~ trims whole macro nodes (100 entries by default): bounded, not exact.
    assert client.xlen("vidlab:events:cam0") <= 10 + 100


def test_bad_config_and_unreachable_server_are_named():
    with pytest.raises(ValueError, match="camera"):
        RedisStreamSink("redis://127.0.0.1:1/0", stream="no-placeholder")
    with pytest.raises(SinkError, match="127.0.0.1:1"):
        RedisStreamSink("redis://127.0.0.1:1/0")


_WORKER = """
import sys
from vidlab.pipeline.sinks import RedisStreamSink
from vidlab.pipeline.sinks.synthetic import synthetic_results

url, cameras = sys.argv[1], sys.argv[2].split(",")
sink = RedisStreamSink(url)
sent = 0
streams = [synthetic_results(camera=c, frames=300, targets=12, seed=len(c)) for c in cameras]
for frame_results in zip(*streams):  # interleave this worker's cameras frame by frame
    for result in frame_results:
        sink.write(result)
        sent += len(result.events)
sink.close()
print(sent, flush=True)
"""


def test_two_worker_processes_one_consumer_group_reads_each_event_once(
    redis_url, client, python_child
):
    cameras = {"w1": ["cam_a", "cam_bb"], "w2": ["cam_ccc", "cam_dddd"]}
    streams = [stream_name("vidlab:events:{camera}", c) for cs in cameras.values() for c in cs]
    # Two consumers of one group share the streams; created before the workers publish.
    consumers = [
        EventConsumer(streams, group="alerts", consumer=name, client=client)
        for name in ("c1", "c2")
    ]
    workers = [python_child(_WORKER, redis_url, ",".join(cs)) for cs in cameras.values()]
    outputs = [w.communicate(timeout=60) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    sent = sum(int(out) for out, _ in outputs)

    seen = []
    idle = 0
    while idle < 2:
        got = 0
        for consumer in consumers:
            batch = consumer.read(count=50, block_ms=None)
            consumer.ack(batch)
            seen += [(s, i, e) for s, i, e in batch]
            got += len(batch)
        idle = idle + 1 if got == 0 else 0

    expected = sorted(
        (e.camera, e.frame_start, e.track_id)
        for cs in cameras.values()
        for c in cs
        for r in synthetic_results(camera=c, frames=300, targets=12, seed=len(c))
        for e in r.events
    )
    keys = sorted((e.camera, e.frame_start, e.track_id) for *_, e in seen)
    assert sent == len(expected) > 0
    assert keys == expected  # each event exactly once across the group
    assert len({(s, i) for s, i, _ in seen}) == len(seen)
    assert all(c.pending() == 0 for c in consumers)


def test_a_server_outage_raises_or_drops_and_counts(redis_server):
    proc, url = redis_server
    results = [r for r in synthetic_results(frames=400, targets=20, seed=2) if r.events]
    strict = RedisStreamSink(url)
    lenient = RedisStreamSink(url, on_error="drop")
    strict.write(results[0])
    lenient.write(results[0])
    proc.kill()
    proc.wait()
    with pytest.raises(SinkError, match=r"vidlab:events:cam0 at redis://127\.0\.0\.1"):
        strict.write(results[1])
    for r in results[1:4]:
        lenient.write(r)
    assert lenient.events_published == len(results[0].events)
    assert lenient.events_dropped == sum(len(r.events) for r in results[1:4])
    strict.close()
    lenient.close()
