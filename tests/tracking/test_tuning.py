"""Tracker tuning: a Hydra multirun with the Optuna sweeper, objective on val/, report on test/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_optuna_multirun_tunes_on_val_and_reports_test(tmp_path):
    cmd = [
        sys.executable, "evaluate.py", "-m", "task=track", "hparams_search=tracker_optuna",
        "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2",
        "data.synthetic.num_frames=40", "data.synthetic.initial_people=4",
        f"paths.root_dir={tmp_path}", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    best = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {
        "tracker.track_thresh", "tracker.new_track_thresh", "tracker.match_thresh",
        "tracker.track_buffer",
    }  # fmt: skip
    trials = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir() and p.name.isdigit())
    assert len(trials) == 2
    val_hota = []
    for trial in trials:
        val = json.loads((trial / "metrics_val.json").read_text())
        test = json.loads((trial / "metrics.json").read_text())
        assert sorted(val["details"]["sequences"]) == ["SYN-01", "SYN-02", "SYN-03"]
        assert sorted(test["details"]["sequences"]) == ["SYN-04", "SYN-05", "SYN-06"]
        assert val["metrics"]["val/HOTA"] == pytest.approx(val["details"]["COMBINED"]["HOTA"])
        val_hota.append(float(np.mean(val["details"]["COMBINED"]["HOTA"])))
    assert best["best_value"] == pytest.approx(max(val_hota))
