"""Layouts load from the `analytics=` configs and bad ones fail at load, naming camera and item."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import hydra
import pytest
import yaml

from vidlab.analytics import LayoutAnalytics, analyzers_from_config, load_layouts, parse_layouts
from vidlab.errors import UserError
from vidlab.pipeline.types import Analyzer, Frame, FrameResult, Tracks

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "analytics"

GOOD = {
    "cameras": {
        "cam1": {
            "frame_size": [200, 100],
            "zones": [{"name": "z", "polygon": [[10, 10], [90, 10], [90, 90], [10, 90]]}],
            "lines": [{"name": "l", "points": [[100, 0], [100, 100]]}],
            "homography": {
                "image_points": [[0, 0], [200, 0], [200, 100], [0, 100]],
                "ground_points": [[0, 0], [20, 0], [20, 10], [0, 10]],
            },
            "speed": {"window_s": 1.0, "max_speed_mps": 3.0},
        }
    }
}


def _with(path: tuple, value) -> dict:
    cfg = copy.deepcopy(GOOD)
    node = cfg["cameras"]["cam1"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return cfg


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("zones", 0, "polygon"), [[10, 10], [90, 90], [90, 10], [10, 90]], "self-intersecting"),
        (("zones", 0, "polygon"), [[10, 10], [20, 20], [30, 30]], "zero area"),
        (("zones", 0, "polygon"), [[10, 10], [290, 10], [90, 90]], "outside the frame 200x100"),
        (("lines", 0, "points"), [[50, 50], [50, 50]], "zero-length line"),
        (("lines", 0, "in_direction"), [0, 1], "parallel"),
        (("homography", "image_points"), [[0, 0], [10, 10], [20, 20], [30, 30]], "collinear"),
        (("homography", "image_points"), [[0, 0], [10, 10], [20, 20], [0, 100]], "collinear"),
        (("zones", 0, "anchor"), "feet", "anchor 'feet'"),
        (("zones", 0, "colour"), "red", "unknown keys ['colour']"),
    ],
)
def test_bad_layouts_name_the_camera_item_and_fault(path, value, message):
    with pytest.raises(UserError, match=re.escape(message)) as err:
        parse_layouts(_with(path, value), "layout.yaml")
    text = str(err.value)
    assert text.startswith("layout.yaml: camera 'cam1'")
    item = (
        "homography"
        if path[0] == "homography"
        else f"{path[0][:-1]} '{'z' if path[0] == 'zones' else 'l'}'"
    )
    assert item in text


def test_speed_without_homography_is_an_error():
    cfg = copy.deepcopy(GOOD)
    del cfg["cameras"]["cam1"]["homography"]
    with pytest.raises(UserError, match="camera 'cam1', speed: .*needs a homography"):
        parse_layouts(cfg)


def test_a_good_layout_builds_its_analyzers_and_the_default_camera_applies(tmp_path):
    names = [type(a).__name__ for a in analyzers_from_config(GOOD, "cam1")]
    assert names == ["ZoneAnalyzer", "LineAnalyzer", "SpeedAnalyzer"]
    assert analyzers_from_config(GOOD, "other") == []
    star = {"cameras": {"*": GOOD["cameras"]["cam1"]}}
    assert len(analyzers_from_config(star, "any")) == 3
    path = tmp_path / "layout.yaml"
    path.write_text(yaml.safe_dump(_with(("lines", 0, "points"), [[1, 1], [1, 1]])))
    with pytest.raises(UserError, match=f"{path}: camera 'cam1', line 'l': zero-length"):
        load_layouts(path)


# `actions` needs a classifier bundle (analytics.actions.bundle): tests/analytics/test_actions.py.
@pytest.mark.parametrize(
    "option", sorted(p.stem for p in CONFIGS.glob("*.yaml") if p.stem != "actions")
)
def test_shipped_analytics_options_build_analyzers(make_cfg, option):
    cfg = make_cfg("evaluate", ["task=events", "pred=a", "gt=b", f"analytics={option}"])
    stages = [hydra.utils.instantiate(node) for node in (cfg.analytics or {}).values()]
    if option == "none":
        assert stages == []
    else:
        assert stages and all(isinstance(s, LayoutAnalytics) for s in stages)
        assert all(isinstance(s, Analyzer) for s in stages)
        names = [type(a).__name__ for a in stages[0].analyzers("any stream")]
        assert names[:2] == ["ZoneAnalyzer", "LineAnalyzer"]


def test_layout_analytics_keeps_each_stream_apart_and_fails_at_load(tmp_path):
    stage = LayoutAnalytics(cameras=GOOD["cameras"], source="x.yaml")
    assert stage.analyzers("cam1") is stage.analyzers("cam1")
    assert stage.analyzers("other") == []
    shared = LayoutAnalytics(cameras=GOOD["cameras"], default_camera="cam1")
    assert len(shared.analyzers("a")) == 3 and shared.analyzers("a") is not shared.analyzers("b")
    frame = Frame("a", 0, 0.0, 0.0, None, (200, 100))
    assert shared.update(FrameResult(frame, tracks=Tracks.empty())) == [] and shared.close() == []
    bad = _with(("lines", 0, "points"), [[5, 5], [5, 5]])
    with pytest.raises(UserError, match="x.yaml: camera 'cam1', line 'l': zero-length"):
        LayoutAnalytics(cameras=bad["cameras"], source="x.yaml")
    path = tmp_path / "analytics.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    assert len(LayoutAnalytics(layout_file=path).analyzers("cam1")) == 3
    with pytest.raises(UserError, match="default_camera 'nope'"):
        LayoutAnalytics(layout_file=path, default_camera="nope")
