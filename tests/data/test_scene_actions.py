"""Scripted scenes with tracklet actions: posed figures, fallers, and the `action` truth."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.analytics import build_analyzers, mot_track_frames, parse_layouts, run_analytics
from vidlab.data.synthetic.figures import posed_box
from vidlab.data.synthetic.scene import ScriptConfig, generate_scene, write_scene
from vidlab.evaluation.events import score_events

ACTIONS = ScriptConfig(duration_s=45.0, actions=True)


@pytest.fixture(scope="module")
def scene():
    return generate_scene(5, ACTIONS)


def test_posed_boxes_rotate_the_upright_box_about_the_feet():
    foot, h, w = np.array([[100.0, 200.0]] * 3), np.full(3, 50.0), np.full(3, 20.0)
    box = posed_box(foot, h, w, np.array([0.0, np.pi / 2, -np.pi / 2]))
    np.testing.assert_allclose(box[0], [90, 150, 20, 50])  # upright: the MOT generator's box
    np.testing.assert_allclose(box[1], [100, 190, 50, 20], atol=1e-9)  # lying to the right
    np.testing.assert_allclose(box[2], [50, 190, 50, 20], atol=1e-9)  # lying to the left


def test_actions_add_fallers_and_action_truth_deterministically(scene):
    assert generate_scene(5, ACTIONS).events == scene.events
    actions = [e for e in scene.events if e["type"] == "action"]
    by_label = {lab: [e for e in actions if e["label"] == lab] for lab in ("fall", "run")}
    assert len(by_label["fall"]) == ACTIONS.fallers and len(by_label["run"]) == ACTIONS.runners
    kinds = {p["id"]: p for p in scene.people}
    seq = scene.sequence
    for e in by_label["fall"]:
        person = kinds[e["track_id"]]
        assert person["kind"] == "faller" and e["t_start"] == pytest.approx(
            person["fall"], abs=0.04
        )
        assert e["t_end"] == pytest.approx(person["up"], abs=0.04)
        lying = (seq.gt_id == e["track_id"]) & (seq.gt_frame - 1 == round(person["rise"] * 25) - 2)
        ((_, _, w, h),) = seq.gt_tlwh[lying]
        assert w > 2 * h  # the box of a lying person is wide
    for e in by_label["run"]:
        assert kinds[e["track_id"]]["kind"] == "runner" and e["t_end"] - e["t_start"] > 2.0
    assert scene.figures.shape == (len(seq.gt_id), 9)


def test_without_actions_the_scene_is_unchanged_and_with_them_oracle_events_stay_exact(scene):
    plain = generate_scene(5, ScriptConfig(duration_s=45.0))
    assert plain.figures is None and all(e["type"] != "action" for e in plain.events)
    # the people of the plain scene are those of the scene with actions, fallers aside
    n = len(plain.people)
    assert [p["kind"] for p in scene.people[:n]] == [p["kind"] for p in plain.people]
    assert {p["kind"] for p in scene.people[n:]} == {"faller"}
    layout = parse_layouts(scene.layout, "scene")[scene.camera]
    seq = scene.sequence
    frames = mot_track_frames(seq.gt_frame, seq.gt_id, seq.gt_tlwh, scene.pts)
    events = run_analytics(build_analyzers(layout), frames, camera=scene.camera)
    truth = [e for e in scene.events if e["type"] != "action"]
    m = score_events([e.to_dict() for e in events], truth)["metrics"]
    assert all(v == 1.0 for k, v in m.items() if k.endswith("/F1")), m


def test_a_scene_with_actions_renders_posed_frames(tmp_path):
    short = generate_scene(1, ScriptConfig(duration_s=2.0, passers_per_s=2.0, actions=True))
    folder = write_scene(tmp_path, short, render_frames=True)
    frames = sorted((folder / "img1").glob("*.jpg"))
    assert len(frames) == 50
