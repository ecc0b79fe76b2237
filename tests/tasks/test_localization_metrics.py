"""`python evaluate.py task=localization_metrics gt=... pred=...`: metrics.json and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def write_files(tmp_path: Path) -> tuple[Path, Path]:
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"database": {
        "a": {"subset": "validation", "annotations": [
            {"segment": [0, 10], "label": "x"}, {"segment": [20, 30], "label": "y"}]},
        "b": {"subset": "training", "annotations": [{"segment": [0, 10], "label": "z"}]},
    }}))  # fmt: skip
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"results": {"a": [
        {"label": "x", "score": 0.9, "segment": [0, 10]},
        {"label": "y", "score": 0.8, "segment": [22, 30]},  # tIoU 0.8
    ]}}))  # fmt: skip
    return gt, pred


def test_task_writes_map_per_threshold(make_cfg, tmp_path):
    from vidlab.tasks import localization_metrics

    gt, pred = write_files(tmp_path)
    cfg = make_cfg(
        "evaluate",
        ["task=localization_metrics", f"gt={gt}", f"pred={pred}", "subset=validation",
         "tiou_thresholds=thumos14"],
    )  # fmt: skip
    returned = localization_metrics.run(cfg)
    payload = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert list(payload) == [
        "schema",
        "task",
        "metrics",
        "details",
        "provenance",
        "mAP",
        "average_mAP",
    ]
    assert payload["mAP"] == {"0.30": 1.0, "0.40": 1.0, "0.50": 1.0, "0.60": 1.0, "0.70": 1.0}
    assert returned["test/average_mAP"] == payload["average_mAP"] == 1.0
    assert set(payload["details"]["per_class_AP"]) == {"x", "y"}  # z is in another subset

    cfg = make_cfg(
        "evaluate",
        ["task=localization_metrics", f"gt={gt}", f"pred={pred}", "subset=validation",
         "tiou_thresholds=[0.5,0.85]"],
        name="custom",
    )  # fmt: skip
    localization_metrics.run(cfg)
    payload = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert payload["mAP"] == {"0.50": 1.0, "0.85": 0.5}
    assert payload["details"]["per_class_AP"]["y"] == {"0.50": 1.0, "0.85": 0.0}
    assert payload["average_mAP"] == pytest.approx(0.75)


def test_bad_results_file_is_one_error_line(tmp_path):
    gt, pred = write_files(tmp_path)
    pred.write_text(json.dumps({"results": {"a": [{"label": "x", "segment": [0, 1]}]}}))
    proc = subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), "task=localization_metrics", f"gt={gt}",
         f"pred={pred}", f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"error: {pred}: results['a'][0]: expected" in proc.stderr


def test_threshold_presets_and_errors():
    from vidlab.errors import UserError
    from vidlab.tasks.localization_metrics import resolve_thresholds

    assert resolve_thresholds("thumos14") == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7])
    assert len(resolve_thresholds("activitynet")) == 10
    assert resolve_thresholds([0.5, 0.75]) == [0.5, 0.75]
    with pytest.raises(UserError, match="preset"):
        resolve_thresholds("coco")
    with pytest.raises(UserError, match="outside"):
        resolve_thresholds([0.5, 1.5])
