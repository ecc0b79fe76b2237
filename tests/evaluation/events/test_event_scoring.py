"""Event scoring on hand-built cases with exactly known counts, and `task=events` from files."""

from __future__ import annotations

import json

import pytest

from vidlab.errors import UserError
from vidlab.evaluation.events import read_events, score_events
from vidlab.tasks.events import run


def _ev(kind: str, t: float, item: str = "", label: str = "", **kw) -> dict:
    return {"type": kind, "t_start": t, "item": item, "label": label, **kw}


def test_matching_is_one_to_one_within_tolerance_and_same_item_and_direction():
    gt = [
        _ev("line_crossing", 10.0, "gate", "in"),
        _ev("line_crossing", 10.4, "gate", "in"),
        _ev("line_crossing", 20.0, "gate", "out"),
        _ev("zone_enter", 5.0, "plaza"),
    ]
    pred = [
        _ev("line_crossing", 10.2, "gate", "in"),  # matches one of the two true "in"s
        _ev("line_crossing", 20.1, "gate", "in"),  # wrong direction: no match
        _ev("line_crossing", 30.0, "gate", "out"),  # too late
        _ev("zone_enter", 5.5, "plaza"),
        _ev("zone_enter", 5.6, "other"),  # other zone
    ]
    r = score_events(pred, gt, tolerance_s=1.0)
    lc, ze = r["types"]["line_crossing"], r["types"]["zone_enter"]
    assert (lc["tp"], lc["fp"], lc["fn"]) == (1, 2, 2)
    assert (ze["tp"], ze["fp"], ze["fn"]) == (1, 1, 0)
    assert r["metrics"]["events/line_crossing/precision"] == pytest.approx(1 / 3)
    assert r["metrics"]["events/line_crossing/recall"] == pytest.approx(1 / 3)
    assert r["metrics"]["events/zone_enter/F1"] == pytest.approx(2 * 0.5 / 1.5)
    assert r["metrics"]["events/zone_enter/latency_mean_s"] == pytest.approx(0.5)
    # counts ignore timing: 3 predicted crossings vs 3 true ones
    assert r["metrics"]["counts/line_error"] == 0.0
    assert r["counts"]["line_counts"]["gate/in"] == {"true": 2, "pred": 2}
    assert r["metrics"]["counts/zone_error"] == pytest.approx(1.0)


def test_hungarian_prefers_the_assignment_that_matches_most():
    # greedy nearest-first would pair 1.0<->1.4 and leave 0.5 and 2.3 unmatched (tolerance 1)
    gt = [_ev("loitering", 0.5), _ev("loitering", 1.4)]
    pred = [_ev("loitering", 1.0), _ev("loitering", 2.3)]
    r = score_events(pred, gt, tolerance_s=1.0)
    assert r["types"]["loitering"]["tp"] == 2


def test_per_type_tolerance_and_empty_cases():
    gt = [_ev("crowding", 10.0, "plaza")]
    pred = [_ev("crowding", 11.5, "plaza"), _ev("overspeed", 3.0)]
    assert score_events(pred, gt)["types"]["crowding"]["tp"] == 0
    r = score_events(pred, gt, tolerance_by_type={"crowding": 2.0})
    assert r["types"]["crowding"]["tp"] == 1
    assert r["metrics"]["events/overspeed/precision"] == 0.0  # nothing true to find
    assert score_events([], gt)["metrics"]["events/crowding/recall"] == 0.0
    assert score_events([], [])["metrics"] == {"counts/line_error": 0.0, "counts/zone_error": 0.0}


def test_bad_event_files_name_the_file_and_line(tmp_path):
    path = tmp_path / "gt.jsonl"
    path.write_text(
        json.dumps(_ev("zone_enter", 1.0)) + "\n" + json.dumps(_ev("fall_down", 2.0)) + "\n"
    )
    with pytest.raises(UserError, match=rf"{path}:2: unknown event type 'fall_down'"):
        read_events(path)
    path.write_text('{"type": "zone_enter", "t_start": 1.0, "zone": "x"}\n')
    with pytest.raises(UserError, match=r":1: unknown event keys \['zone'\]"):
        read_events(path)
    path.write_text("not json\n")
    with pytest.raises(UserError, match=":1: not a JSON object"):
        read_events(path)


def test_task_events_writes_metrics_json(make_cfg, tmp_path):
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    gt.write_text(
        "".join(
            json.dumps(e) + "\n"
            for e in [_ev("line_crossing", 1.0, "g", "in"), _ev("wrong_way", 4.0, "c")]
        )
    )
    pred.write_text(json.dumps(_ev("line_crossing", 1.3, "g", "in")) + "\n")
    cfg = make_cfg("evaluate", ["task=events", f"pred={pred}", f"gt={gt}"])
    metrics = run(cfg)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["task"] == "events" and saved["metrics"] == metrics
    assert metrics["events/line_crossing/F1"] == 1.0 and metrics["events/wrong_way/recall"] == 0.0
    assert metrics["counts/line_error"] == 0.0
    assert saved["details"]["types"]["wrong_way"]["fn"] == 1


def test_actions_match_by_label_and_are_scored_per_label():
    gt = [_ev("action", 10.0, label="fall"), _ev("action", 30.0, label="fall"),
          _ev("action", 50.0, label="run")]  # fmt: skip
    pred = [
        _ev("action", 10.5, label="fall"),  # match
        _ev("action", 30.2, label="run"),  # right time, wrong label: no match
        _ev("action", 49.4, label="run"),  # match
        _ev("action", 70.0, label="wave"),  # no such truth
    ]
    m = score_events(pred, gt, tolerance_s=1.0)["metrics"]
    assert m["events/action/precision"] == pytest.approx(2 / 4)
    assert m["events/action/recall"] == pytest.approx(2 / 3)
    assert m["events/action/fall/precision"] == 1.0
    assert m["events/action/fall/recall"] == pytest.approx(0.5)
    assert m["events/action/fall/F1"] == pytest.approx(2 / 3)
    assert m["events/action/run/precision"] == pytest.approx(0.5)
    assert m["events/action/run/recall"] == 1.0
    assert m["events/action/wave/precision"] == 0.0 and m["events/action/wave/F1"] == 0.0
    assert not any(k.startswith("events/line_crossing/in") for k in m)
