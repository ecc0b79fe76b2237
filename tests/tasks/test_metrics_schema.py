"""Every task writes ``metrics.json`` in the one layout of `vidlab.utils.runinfo.write_metrics`.

The cheap tasks run here for real; the layout written by train, evaluate and Re-ID evaluation is
checked in their own tests (tests/tasks/test_train.py, test_evaluate.py, test_reid_train.py), which
already pay for a training run.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from vidlab.utils.runinfo import METRICS_SCHEMA_VERSION, write_metrics

KEY = re.compile(r"^[a-z0-9_]+/[A-Za-z0-9_().-]+$")  # split/name, e.g. test/HOTA, model/gflops


def assert_metrics_schema(path: Path, task: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check the layout of a written metrics.json and return it (`extra`: documented further
    top-level keys)."""
    payload = json.loads(Path(path).read_text())
    assert list(payload) == ["schema", "task", "metrics", "details", "provenance", *extra]
    assert payload["schema"] == METRICS_SCHEMA_VERSION and payload["task"] == task
    assert payload["metrics"], "no metrics"
    for key, value in payload["metrics"].items():
        assert KEY.match(key), f"metric key {key!r} is not split/name"
        assert value is None or (isinstance(value, int | float) and math.isfinite(value)), key
    assert isinstance(payload["details"], dict) and isinstance(payload["provenance"], dict)
    assert "git_commit" in payload["provenance"] and "versions" in payload["provenance"]
    return payload


TRACK = [
    "task=track", "data.synthetic.n_sequences=2", "data.synthetic.num_frames=30",
    "data.synthetic.render_frames=false", "data.synthetic.initial_people=3",
]  # fmt: skip


def test_track_and_mot_metrics(make_cfg, tmp_path):
    from vidlab.tasks import mot_metrics, track

    cfg = make_cfg("evaluate", [*TRACK, "data.val_sequences=[SYN-01]", "data.sequences=[SYN-02]"])
    returned = track.run(cfg)
    out = Path(cfg.paths.output_dir)
    test = assert_metrics_schema(out / "metrics.json", "track", ("COMBINED",))
    val = assert_metrics_schema(out / "metrics_val.json", "track", ("COMBINED",))
    # The scalar summary stays at the top level, as in the earlier layout.
    assert test["COMBINED"]["HOTA"] == test["metrics"]["test/HOTA"]
    assert {"HOTA", "MOTA", "IDF1"} <= set(val["COMBINED"])
    assert test["metrics"] | val["metrics"] == pytest.approx(returned)
    assert set(test["details"]) == {"sequences", "COMBINED"}
    assert isinstance(test["details"]["COMBINED"]["HOTA_per_alpha"], list)  # arrays: details
    (root,) = (tmp_path / "data" / "synthetic_mot").iterdir()
    scored = make_cfg(
        "evaluate",
        ["task=mot_metrics", f"data.root={root}", f"results_dir={out / 'tracks'}",
         "data.sequences=[SYN-02]"],
        name="scored",
    )  # fmt: skip
    metrics = mot_metrics.run(scored)
    again = assert_metrics_schema(
        Path(scored.paths.output_dir) / "metrics.json", "mot_metrics", ("COMBINED",)
    )
    assert again["metrics"] == metrics
    assert again["details"] == test["details"]  # same tracks, same scores
    assert {k: v for k, v in test["metrics"].items() if k != "test/fps"} == metrics


def test_complexity(make_cfg):
    from vidlab.tasks import complexity

    cfg = make_cfg("evaluate", ["task=complexity", "model=x3d_xs"])
    metrics = complexity.run(cfg)
    payload = assert_metrics_schema(Path(cfg.paths.output_dir) / "metrics.json", "complexity")
    assert set(metrics) == {"model/params", "model/gflops"} and payload["metrics"] == metrics
    assert payload["details"]["model"] == "x3d_xs"
    assert payload["provenance"]["model"]["name"] == "x3d_xs"


def test_check_data_writes_metrics_json_even_when_it_fails(make_cfg, tmp_path):
    from vidlab.tasks import check_data

    root = tmp_path / "videos"
    for split in ("train", "test"):
        for cls in ("a", "b"):
            (root / split / cls).mkdir(parents=True)
            (root / split / cls / "clip.mp4").write_bytes(b"not a video")
    cfg = make_cfg(
        "evaluate",
        ["task=check_data", "data=video_folder", f"data.root={root}", "data.num_classes=2",
         "check.workers=1"],
    )  # fmt: skip
    with pytest.raises(SystemExit):
        check_data.run(cfg)
    payload = assert_metrics_schema(Path(cfg.paths.output_dir) / "metrics.json", "check_data")
    assert payload["metrics"]["train/undecodable"] == 2 and payload["metrics"]["test/usable"] == 0
    assert payload["details"]["problems"]


def test_write_metrics_rejects_structured_values(tmp_path):
    with pytest.raises(TypeError, match="test/confusion"):
        write_metrics(tmp_path / "m.json", task="x", metrics={"test/confusion": [[1, 0], [0, 1]]})
    path = write_metrics(tmp_path / "m.json", task="x", metrics={"test/top1": float("nan")})
    assert assert_metrics_schema(path, "x")["metrics"] == {"test/top1": None}
