"""JsonlSink: one event per line, flushed per frame, optional per-frame tracks."""

from __future__ import annotations

import json

import pytest

from vidlab.pipeline.sinks import JsonlSink, SinkError, read_jsonl
from vidlab.pipeline.sinks.synthetic import synthetic_results
from vidlab.pipeline.types import Event


def test_events_and_tracks_lines(tmp_path):
    results = list(synthetic_results(frames=200, targets=5, seed=4))
    sink = JsonlSink(tracks_path="out/tracks.jsonl", run_dir=tmp_path)
    for r in results:
        sink.write(r)
    sink.close()
    sink.close()  # idempotent
    events = [Event.from_dict(d) for d in read_jsonl(tmp_path / "events.jsonl")]
    assert events == [e for r in results for e in r.events] and events
    tracks = read_jsonl(tmp_path / "out" / "tracks.jsonl")
    assert [t["frame"] for t in tracks] == [r.frame.index for r in results]
    first = tracks[0]
    assert first["camera"] == "cam0" and first["t"] == 0.0
    assert [row[4] for row in first["tracks"]] == results[0].tracks.track_id.tolist()
    assert first["tracks"][0][:4] == pytest.approx(results[0].tracks.xyxy[0].tolist(), abs=0.01)
    with pytest.raises(SinkError, match="events.jsonl"):
        sink.write(results[0])


def test_lines_reach_the_file_before_close(tmp_path):
    """A crash loses at most the line being written: what was written is readable before close."""
    sink = JsonlSink(run_dir=tmp_path)
    written = 0
    for r in synthetic_results(frames=300, targets=8, seed=6):
        sink.write(r)
        written += len(r.events)
    assert written
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == written
    sink.close()


def test_reader_skips_only_a_truncated_last_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(SinkError, match=r"events\.jsonl:2"):
        read_jsonl(path)


def test_unwritable_path_is_named(tmp_path):
    (tmp_path / "events.jsonl").mkdir()
    with pytest.raises(SinkError, match="events.jsonl"):
        JsonlSink(run_dir=tmp_path)


def test_numpy_values_in_extra_are_written_as_numbers(tmp_path):
    import numpy as np

    result = next(iter(synthetic_results(frames=1)))
    result.events.append(
        Event("crowding", "cam0", -1, "zone", 0.0, 0.0, 0, 0, extra={"count": np.int64(4)})
    )
    sink = JsonlSink(run_dir=tmp_path)
    sink.write(result)
    sink.close()
    last = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[-1])
    assert last["extra"] == {"count": 4}
