"""The `sinks` config group and `build_sinks`: nodes instantiated with the run directory."""

from __future__ import annotations

import pytest

from vidlab.errors import UserError
from vidlab.pipeline.sinks import (
    AnnotatedVideoSink,
    JsonlSink,
    SQLiteStore,
    build_sinks,
    close_sinks,
    open_store,
    read_jsonl,
)
from vidlab.pipeline.sinks.synthetic import synthetic_results


def test_default_group_writes_events_jsonl_and_store_in_the_run_dir(make_cfg, tmp_path):
    cfg = make_cfg("evaluate", ["+sinks=default"])
    run_dir = tmp_path / "run"
    sinks = build_sinks(cfg.sinks, run_dir)
    assert [type(s) for s in sinks] == [JsonlSink, SQLiteStore]
    results = list(synthetic_results(frames=120, targets=10))
    for r in results:
        for sink in sinks:
            sink.write(r)
    close_sinks(sinks)
    events = [e for r in results for e in r.events]
    assert len(read_jsonl(run_dir / "events.jsonl")) == len(events) > 0
    with open_store(run_dir / "store.sqlite") as store:
        assert store.events() == events
        assert store.counts()["tracks"] > 0


def test_options_add_sinks_and_null_turns_one_off(make_cfg, tmp_path):
    cfg = make_cfg("evaluate", ["+sinks=video", "sinks.jsonl=null"])
    sinks = build_sinks(cfg.sinks, tmp_path / "run")
    assert [type(s) for s in sinks] == [SQLiteStore, AnnotatedVideoSink]
    assert sinks[1].needs_image and not sinks[0].needs_image
    close_sinks(sinks)
    assert set(make_cfg("evaluate", ["+sinks=all"]).sinks) == {"jsonl", "sqlite", "redis", "video"}
    assert build_sinks(make_cfg("evaluate", ["+sinks=none"]).sinks, tmp_path) == []
    assert build_sinks(None, tmp_path) == []


def test_bad_nodes_are_named_and_built_sinks_are_closed(tmp_path):
    with pytest.raises(UserError, match="sinks.oops"):
        build_sinks(
            {"sqlite": {"_target_": "vidlab.pipeline.sinks.SQLiteStore"}, "oops": 3}, tmp_path
        )
    # The store built before the failure was closed: its WAL was checkpointed away.
    assert (tmp_path / "store.sqlite").exists()
    assert not (tmp_path / "store.sqlite-wal").exists()
    with pytest.raises(UserError, match="no write"):
        build_sinks({"x": {"_target_": "builtins.dict"}}, tmp_path)
