"""SQLiteStore: what it stores, batching, bounded memory, retention, versioning, and a real SIGKILL."""

from __future__ import annotations

import math
import signal
import sqlite3
import time
from collections import Counter, defaultdict

import numpy as np
import pytest

from vidlab.errors import UserError
from vidlab.pipeline.sinks import SinkError, SQLiteStore, open_store
from vidlab.pipeline.sinks.synthetic import synthetic_results
from vidlab.pipeline.types import Frame, FrameResult, Tracks


def _write_all(store, results):
    for result in results:
        store.write(result)
    store.close()


def test_store_round_trips_events_tracks_and_every_kth_box(tmp_path):
    results = list(synthetic_results(frames=300, targets=6, seed=1))
    _write_all(SQLiteStore(run_dir=tmp_path, box_every=4), results)

    seen: dict[int, list[tuple[int, float, list[float]]]] = defaultdict(list)
    for r in results:
        for box, tid in zip(r.tracks.xyxy.tolist(), r.tracks.track_id.tolist(), strict=True):
            seen[tid].append((r.frame.index, r.frame.pts, box))
    written_events = [e for r in results for e in r.events]
    assert written_events, "the synthetic stream must cross the line at least once"

    with open_store(tmp_path / "store.sqlite") as store:
        assert store.integrity_check() == "ok"
        assert store.events() == written_events  # every field, extra included, in order
        tracks = {t["track_id"]: t for t in store.tracks("cam0")}
        assert set(tracks) == set(seen)
        for tid, obs in seen.items():
            row = tracks[tid]
            assert row["frames"] == len(obs)
            assert (row["first_frame"], row["last_frame"]) == (obs[0][0], obs[-1][0])
            assert row["first_time"] == pytest.approx(obs[0][1])
            assert row["last_box"] == pytest.approx(obs[-1][2], abs=0.01)
            assert row["mean_score"] == pytest.approx(0.9)
            assert row["class_id"] == 0
            centres = np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] for _, _, b in obs])
            path = np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()
            assert row["distance_px"] == pytest.approx(path)
        per_track = Counter(b["track_id"] for b in store.boxes())
        assert per_track == {tid: math.ceil(len(obs) / 4) for tid, obs in seen.items()}
        one = store.boxes("cam0", track_id=1)
        assert [b["frame"] for b in one] == [f for f, _, _ in seen[1][::4]]
        assert len(store.events_frame()) == len(written_events)
        assert set(store.tracks_frame()["track_id"]) == set(seen)


def test_boxes_keep_a_minimum_stream_time_apart(tmp_path):
    results = list(synthetic_results(frames=100, targets=2, fps=25.0))  # 0.04 s apart
    _write_all(SQLiteStore(run_dir=tmp_path, box_every=1, box_min_interval_s=0.2), results)
    with open_store(tmp_path / "store.sqlite") as store:
        by_track = defaultdict(list)
        for b in store.boxes():
            by_track[b["track_id"]].append(b["t"])
    assert by_track
    for times in by_track.values():
        assert np.all(np.diff(times) >= 0.2 - 1e-9)
    assert max(len(times) for times in by_track.values()) >= 5


def test_commits_come_in_batches_of_frames(tmp_path):
    results = list(synthetic_results(frames=400, targets=10, seed=2))
    store = SQLiteStore(run_dir=tmp_path, commit_every_frames=100, commit_interval_s=3600)
    for r in results[:99]:
        store.write(r)
    with open_store(store.path) as reader:
        assert reader.counts()["events"] == 0 and store.commits == 0
    store.write(results[99])
    committed = sum(len(r.events) for r in results[:100])
    assert store.commits == 1 and store.events_committed == committed
    with open_store(store.path) as reader:
        assert reader.counts()["events"] == committed
    store.close()
    store.close()  # idempotent
    with pytest.raises(SinkError, match="store.sqlite"):
        store.write(results[100])


def test_pending_rows_are_bounded(tmp_path):
    store = SQLiteStore(
        run_dir=tmp_path,
        box_every=1,
        commit_every_frames=10**6,
        commit_interval_s=3600,
        max_pending_rows=50,
    )
    for r in synthetic_results(frames=200, targets=20):
        store.write(r)
        assert len(store._boxes) + len(store._events) < 50 + 20 + 5  # one frame's rows at most over
    assert store.commits >= 200 * 20 // 70
    store.close()


def test_track_summaries_are_capped_and_a_returning_track_merges(tmp_path):
    store = SQLiteStore(run_dir=tmp_path, max_active_tracks=3, commit_every_frames=1)

    def frame(index: int, ids: list[int]) -> FrameResult:
        boxes = np.array([[10.0 * i, 0, 10.0 * i + 5, 5] for i in ids])
        tracks = Tracks(boxes, np.array(ids, np.int64), np.full(len(ids), 0.5))
        return FrameResult(Frame("c", index, index / 10, 0.0, None, (100, 100)), tracks=tracks)

    store.write(frame(0, [1]))
    for index in range(1, 6):  # ids 2..6 push id 1 out of memory
        store.write(frame(index, [index + 1]))
        assert len(store._tracks) <= 3
    store.write(frame(6, [1]))  # id 1 comes back
    store.close()
    with open_store(tmp_path / "store.sqlite") as reader:
        rows = {t["track_id"]: t for t in reader.tracks()}
    assert rows[1]["frames"] == 2
    assert (rows[1]["first_frame"], rows[1]["last_frame"]) == (0, 6)
    assert all(rows[i]["frames"] == 1 for i in range(2, 7))


def test_retention_by_stream_time_and_row_caps(tmp_path):
    results = list(synthetic_results(frames=500, targets=10, fps=25.0, seed=3))  # 20 s
    _write_all(
        SQLiteStore(run_dir=tmp_path, retention_s=5.0, commit_every_frames=25, retention_every=1),
        results,
    )
    latest = results[-1].frame.pts
    with open_store(tmp_path / "store.sqlite") as reader:
        events, boxes, tracks = reader.events(), reader.boxes(), reader.tracks()
    assert events and boxes and tracks
    assert min(e.t_end for e in events) >= latest - 5.0
    assert min(b["t"] for b in boxes) >= latest - 5.0
    assert min(t["last_time"] for t in tracks) >= latest - 5.0
    kept = [e for r in results for e in r.events if e.t_end >= latest - 5.0]
    assert events == kept

    capped = tmp_path / "capped"
    _write_all(SQLiteStore(run_dir=capped, max_events=7, max_boxes=30, box_every=1), results)
    with open_store(capped / "store.sqlite") as reader:
        assert reader.events() == [e for r in results for e in r.events][-7:]
        assert reader.counts()["boxes"] == 30


def test_store_is_wal_indexed_and_versioned(tmp_path):
    store = SQLiteStore(run_dir=tmp_path)
    store.close()
    conn = sqlite3.connect(tmp_path / "store.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"events_camera_time", "events_track", "boxes_camera_time", "boxes_track"} <= indexes
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match=r"store\.sqlite.*version 99"):
        SQLiteStore(run_dir=tmp_path)
    with pytest.raises(UserError, match="version 99"):
        open_store(tmp_path / "store.sqlite")


def test_errors_name_the_file(tmp_path):
    (tmp_path / "store.sqlite").mkdir()  # a folder where the file should be
    with pytest.raises(SinkError, match=str(tmp_path / "store.sqlite")):
        SQLiteStore(run_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.sqlite"):
        open_store(tmp_path / "missing.sqlite")
    (tmp_path / "other.sqlite").write_bytes(b"not a database at all" * 10)
    with pytest.raises(SinkError, match="other.sqlite"):
        open_store(tmp_path / "other.sqlite")


_CHILD = """
import sys
from vidlab.pipeline.sinks import SQLiteStore
from vidlab.pipeline.sinks.synthetic import synthetic_results

store = SQLiteStore(sys.argv[1], commit_every_frames=7, commit_interval_s=3600, box_every=1)
seq = 0
reported = 0
for result in synthetic_results(frames=10**6, targets=30, seed=5):
    for event in result.events:
        event.extra["seq"] = seq
        seq += 1
    store.write(result)
    if store.events_committed != reported:  # committed: safe to report
        reported = store.events_committed
        print(reported, flush=True)
"""


def test_sigkill_mid_write_keeps_every_committed_event(tmp_path, python_child):
    path = tmp_path / "store.sqlite"
    child = python_child(_CHILD, str(path))
    reported = 0
    deadline = time.monotonic() + 30
    while reported < 300:  # the child is writing continuously: any moment is mid-write
        line = child.stdout.readline()
        assert line, f"the writer died: {child.stderr.read()}"
        reported = int(line)
        assert time.monotonic() < deadline, "the writer is too slow"
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    for line in rest.split():  # reports already in the pipe when the child died
        reported = int(line)

    with open_store(path) as store:
        assert store.integrity_check() == "ok"
        seqs = [e.extra["seq"] for e in store.events()]
    assert len(seqs) >= reported
    assert seqs == list(range(len(seqs)))  # whole transactions: no gaps, no duplicates
    # The store reopens for writing and appends after the crash.
    store = SQLiteStore(path)
    store.write(next(iter(synthetic_results(frames=1))))
    store.close()
    with open_store(path) as reader:
        assert reader.integrity_check() == "ok"


def test_summaries_of_gone_tracks_leave_memory(tmp_path):
    """Targets keep leaving and new ids keep coming: memory holds only recently seen tracks."""
    store = SQLiteStore(run_dir=tmp_path, track_timeout_s=1.0, commit_every_frames=25)
    ids = set()
    for r in synthetic_results(frames=1500, targets=10, fps=25.0, seed=8):
        store.write(r)
        ids.update(r.tracks.track_id.tolist())
        assert len(store._tracks) <= 10 + 10 * 2  # live ones + those gone for under ~1 s
    store.close()
    assert len(ids) > 100
    with open_store(tmp_path / "store.sqlite") as reader:
        assert {t["track_id"] for t in reader.tracks()} == ids
