"""Scripted scenes: deterministic ground truth, and the analytics on ground-truth tracks are exact."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidlab.analytics import build_analyzers, mot_track_frames, parse_layouts, run_analytics
from vidlab.analytics.run import analyze_scene
from vidlab.data.synthetic.scene import EVENTS_FILE, LAYOUT_FILE, generate_scene, write_scene
from vidlab.evaluation.events import read_events, score_events
from vidlab.pipeline.types import EVENT_TYPES, Event

# Every type but `action`: the scripted scenes have no tracklet actions.
SCRIPTED = tuple(t for t in EVENT_TYPES if t != "action")


@pytest.fixture(scope="module")
def scene0():
    return generate_scene(0)


def test_scene_is_deterministic_and_holds_every_behaviour(scene0):
    again = generate_scene(0)
    assert again.events == scene0.events
    np.testing.assert_array_equal(again.sequence.det_tlwh, scene0.sequence.det_tlwh)
    assert generate_scene(1).events != scene0.events
    types = {e["type"] for e in scene0.events}
    assert types == set(SCRIPTED) and types <= set(EVENT_TYPES)
    labels = {(e["item"], e["label"]) for e in scene0.events if e["type"] == "line_crossing"}
    assert {("gate", "in"), ("gate", "out")} <= labels and any(i == "rail" for i, _ in labels)
    for e in scene0.events:
        assert Event.from_dict(e).t_start == pytest.approx(scene0.pts[e["frame_start"]])
    # the simulated detector misses and adds boxes like the MOT generator's
    det, gt = scene0.sequence.det_gt_id, scene0.sequence.gt_id
    assert 0 < (det == -1).sum() and len(np.unique(det[det >= 0])) >= 0.9 * len(np.unique(gt))


@pytest.mark.parametrize("seed", [0, 1])
def test_oracle_tracks_score_f1_one_for_every_event_type(seed, scene0):
    scene = scene0 if seed == 0 else generate_scene(seed)
    layout = parse_layouts(scene.layout, "scene")[scene.camera]
    seq = scene.sequence
    frames = mot_track_frames(seq.gt_frame, seq.gt_id, seq.gt_tlwh, scene.pts)
    events = run_analytics(build_analyzers(layout), frames, camera=scene.camera)
    result = score_events([e.to_dict() for e in events], scene.events, tolerance_s=1.0)
    m = result["metrics"]
    for t in {e["type"] for e in scene.events}:
        assert m[f"events/{t}/F1"] == 1.0, (t, result["types"][t])
    assert m["counts/line_error"] == 0.0 and m["counts/zone_error"] == 0.0
    # crossings and zone changes are dated exactly (same frame as the truth)
    assert m["events/line_crossing/latency_mean_s"] == pytest.approx(0.0, abs=1e-6)
    assert m["events/zone_enter/latency_mean_s"] == pytest.approx(0.0, abs=1e-6)


def test_written_scene_round_trips_through_its_files(tmp_path, scene0):
    folder = write_scene(tmp_path, scene0)
    assert (folder / LAYOUT_FILE).is_file() and (folder / "det" / "det.txt").is_file()
    gt = read_events(folder / EVENTS_FILE)
    assert gt == json.loads(json.dumps(scene0.events))
    pred = [e.to_dict() for e in analyze_scene(folder, "oracle")]
    assert score_events(pred, gt)["metrics"]["counts/line_error"] == 0.0
    assert all(e["camera"] == folder.name for e in pred)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bytetrack_on_simulated_detections_meets_the_targets(tmp_path, seed):
    folder = write_scene(tmp_path, generate_scene(seed))
    pred = [e.to_dict() for e in analyze_scene(folder, "bytetrack")]
    m = score_events(pred, read_events(folder / EVENTS_FILE))["metrics"]
    assert m["counts/line_error"] <= 0.03
    for t in ("line_crossing", "zone_enter", "loitering", "wrong_way"):
        assert m[f"events/{t}/F1"] >= 0.90, (t, m)


def test_data_config_generates_the_scene_once(make_cfg):
    import hydra

    cfg = make_cfg(
        "evaluate",
        ["task=events", "pred=a", "gt=b", "data=synthetic_scene", "data.seed=5",
         "data.script.duration_s=20", "data.script.frame_rate=10"],
    )  # fmt: skip
    data = hydra.utils.instantiate(cfg.data)
    folder = data.scene_dir()
    assert folder.name == "SCENE-0005" and (folder / EVENTS_FILE).is_file()
    stamp = (folder / LAYOUT_FILE).stat().st_mtime_ns
    assert hydra.utils.instantiate(cfg.data).scene_dir() == folder  # cached, not rewritten
    assert (folder / LAYOUT_FILE).stat().st_mtime_ns == stamp
    assert len(read_events(folder / EVENTS_FILE)) == len(data.generate().events)


def test_a_short_rendered_scene_writes_frames_and_stays_exact(tmp_path):
    from vidlab.data.synthetic.scene import ScriptConfig

    scene = generate_scene(7, ScriptConfig(duration_s=6.0, frame_rate=5.0))
    folder = write_scene(tmp_path, scene, render_frames=True)
    assert len(list((folder / "img1").glob("*.jpg"))) == len(scene.pts) == 30
    pred = [e.to_dict() for e in analyze_scene(folder, "oracle")]
    metrics = score_events(pred, scene.events)["metrics"]
    assert all(metrics[f"events/{t}/F1"] == 1.0 for t in {e["type"] for e in scene.events})
