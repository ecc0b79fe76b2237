"""The `task=mot_metrics` command: vidlab.tasks.mot_metrics through Hydra, and as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vidlab.errors import VERBOSE_ENV_VARS
from vidlab.evaluation.mot import evaluate_folder
from vidlab.tasks import mot_metrics

REPO_ROOT = Path(__file__).resolve().parents[3]


def perfect_results(tmp_path: Path, motkit) -> tuple[Path, Path]:
    """Generated sequences whose results are the considered pedestrians of the ground truth."""
    seqs = motkit.make_synthetic(8, 2)
    perfect = []
    for s in seqs:
        keep = (s.gt[:, 7] == 1) & (s.gt[:, 6] == 1)
        rows = s.gt[keep]
        res = np.column_stack([rows[:, :6], np.ones(len(rows)), -np.ones((len(rows), 3))])
        perfect.append(type(s)(s.name, s.num_frames, s.gt, res))
    return motkit.write_folder(tmp_path, perfect)


def test_run_writes_metrics_json_and_returns_test_metrics(tmp_path: Path, make_cfg, motkit) -> None:
    gt_root, res_dir = perfect_results(tmp_path, motkit)
    cfg = make_cfg(
        "evaluate", ["task=mot_metrics", f"data.root={gt_root}", f"results_dir={res_dir}"]
    )
    metrics = mot_metrics.run(cfg)
    written = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert written["task"] == "mot_metrics" and written["metrics"] == metrics
    scores = written["details"]
    assert sorted(scores["sequences"]) == ["SYN008-00", "SYN008-01"]
    # Perfect tracking scores 1 everywhere.
    for field in ("HOTA", "MOTA", "IDF1", "DetA", "AssA", "LocA"):
        assert scores["COMBINED"][field] == 1.0
        assert metrics[f"test/{field}"] == 1.0
    assert scores == evaluate_folder(gt_root, res_dir)
    assert written["provenance"]["results_dir"] == str(res_dir)
    assert not any(isinstance(v, list) for v in metrics.values())


def test_run_honours_sequences_and_benchmark(tmp_path: Path, make_cfg, motkit) -> None:
    gt_root, res_dir = perfect_results(tmp_path, motkit)
    overrides = [
        "task=mot_metrics",
        f"data.root={gt_root}",
        f"results_dir={res_dir}",
        "data.sequences=[SYN008-01]",
        "data.benchmark=MOT20",
    ]
    cfg = make_cfg("evaluate", overrides)
    mot_metrics.run(cfg)
    written = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert list(written["details"]["sequences"]) == ["SYN008-01"]
    assert written["provenance"]["data"]["benchmark"] == "MOT20"


# Runs the entry script in a fresh interpreter and reports which heavy modules got imported.
WRAPPER = """
import runpy, sys
sys.argv = ["evaluate.py", *sys.argv[1:]]
try:
    runpy.run_path("evaluate.py", run_name="__main__")
finally:
    heavy = sorted(m for m in ("torch", "lightning", "pytorch_lightning") if m in sys.modules)
    print("HEAVY_MODULES=" + ",".join(heavy))
"""


@pytest.mark.integration
def test_command_line_stays_light(tmp_path: Path, motkit) -> None:
    gt_root, res_dir = motkit.write_folder(tmp_path, motkit.make_synthetic(9, 2))
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, "task=mot_metrics", f"data.root={gt_root}",
         f"results_dir={res_dir}", f"hydra.run.dir={run_dir}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY_MODULES=\n" in proc.stdout  # neither torch nor Lightning was imported
    assert "MOT metrics" in proc.stdout and "COMBINED" in proc.stdout  # the table
    written = json.loads((run_dir / "metrics.json").read_text())
    assert written["details"] == evaluate_folder(gt_root, res_dir)


def test_sequence_without_seqinfo_is_an_error_unless_allowed(
    tmp_path: Path, make_cfg, motkit
) -> None:
    gt_root, res_dir = perfect_results(tmp_path, motkit)
    (gt_root / "SYN008-01" / "seqinfo.ini").unlink()
    overrides = ["task=mot_metrics", f"data.root={gt_root}", f"results_dir={res_dir}"]
    with pytest.raises(FileNotFoundError) as info:
        mot_metrics.run(make_cfg("evaluate", overrides))
    assert str(gt_root / "SYN008-01" / "seqinfo.ini") in str(info.value)
    # With allow_missing=true the other sequence is scored and the skipped one is counted.
    cfg = make_cfg("evaluate", [*overrides, "allow_missing=true"])
    metrics = mot_metrics.run(cfg)
    written = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert list(written["details"]["sequences"]) == ["SYN008-00"]
    assert list(written["details"]["skipped"]) == ["SYN008-01"]
    assert metrics["test/skipped_sequences"] == 1


def test_results_file_without_its_sequence_is_an_error(tmp_path: Path, motkit) -> None:
    gt_root, res_dir = perfect_results(tmp_path, motkit)
    (res_dir / "SYN008-07.txt").write_text("1,1,0,0,5,5,1,-1,-1,-1\n")
    with pytest.raises(FileNotFoundError, match=r"SYN008-07: .*seqinfo.ini does not exist"):
        evaluate_folder(gt_root, res_dir)
    # An explicit sequence list names what to evaluate: the extra file is not looked at.
    assert list(evaluate_folder(gt_root, res_dir, sequences=["SYN008-00"])["sequences"]) == [
        "SYN008-00"
    ]


@pytest.mark.integration
def test_command_line_reports_user_errors_in_one_line(tmp_path: Path, motkit) -> None:
    gt_root, res_dir = perfect_results(tmp_path, motkit)
    (gt_root / "SYN008-01" / "seqinfo.ini").unlink()
    command = [sys.executable, "evaluate.py", "task=mot_metrics", f"data.root={gt_root}",
               f"results_dir={res_dir}", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in VERBOSE_ENV_VARS}
    proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert str(gt_root / "SYN008-01" / "seqinfo.ini") in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    # VIDLAB_VERBOSE=1 keeps the traceback for debugging.
    verbose = subprocess.run(command, cwd=REPO_ROOT, env={**env, "VIDLAB_VERBOSE": "1"},
                             capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert verbose.returncode != 0 and "Traceback" in verbose.stderr
