"""Processes and sweeps: two-process DDP on CPU (gloo), an Optuna sweep, crash-resume."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from vidlab.tasks import train

REPO = Path(__file__).resolve().parents[2]


def _python(args: list[str], tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIDLAB_ROOT": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.integration
def test_ddp_two_cpu_processes(tmp_path, tiny_run):
    run_dir = tmp_path / "ddp_run"
    result = _python(
        [
            "train.py",
            *tiny_run,
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.strategy.process_group_backend=gloo",
            "trainer.sync_batchnorm=false",
            "data.train_size=64",
            f"hydra.run.dir={run_dir}",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads((run_dir / "metrics.json").read_text())
    # 64 clips, 2 ranks, batch 8 per rank, drop_last: 4 steps per epoch, 2 epochs.
    assert payload["details"]["global_step"] == 8
    # Distributed test scoring counts each of the 32 test videos exactly once.
    assert payload["metrics"]["test/num_videos"] == 32
    # Only rank zero owns the run directory: one config, one metrics file, one log folder.
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert not any(run_dir.glob("*/.hydra"))


@pytest.mark.integration
def test_optuna_sweep_two_trials(tmp_path, tiny_run):
    sweep_dir = tmp_path / "sweep"
    result = _python(
        [
            "train.py",
            "-m",
            "hparams_search=optuna",
            *tiny_run,
            "hydra.sweeper.n_trials=2",
            "hydra.sweeper.sampler.n_startup_trials=2",
            "trainer.max_epochs=1",
            "test=false",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"optimizer.lr", "optimizer.weight_decay"}
    trials = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(trials) == 2
    values = [json.loads((t / "metrics.json").read_text())["metrics"]["val/top1"] for t in trials]
    assert best["best_value"] == pytest.approx(max(values))


@pytest.mark.integration
def test_killed_run_resumes_from_last_checkpoint(tmp_path, make_cfg, tiny_run):
    run_dir = tmp_path / "killed"
    # 64 clips / batch 8 = 8 steps per epoch; 6 epochs; last.ckpt every 3 steps.
    overrides = [*tiny_run, "trainer.max_epochs=6", "callbacks.last_checkpoint.every_n_steps=3"]
    env = {**os.environ, "VIDLAB_ROOT": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "train.py", *overrides, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    saved_step = 0
    while time.time() < deadline and proc.poll() is None:
        if last.exists():
            try:
                saved_step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
            except (RuntimeError, EOFError, KeyError):
                saved_step = 0  # being replaced right now
            if saved_step >= 12:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The run may have written one more last.ckpt between the poll above and the kill: what it
    # resumes from is the file on disk now (written atomically, so it always loads).
    saved_step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert 12 <= saved_step < 48, f"run was not killed mid-training (step {saved_step})"
    assert not (run_dir / "metrics.json").exists()

    resume_cfg = make_cfg("train", [*overrides, f"ckpt_path={last}"], name="resumed")
    train.run(resume_cfg)
    # The resumed run continued in the killed run's directory, where that one had stopped.
    payload = json.loads((run_dir / "metrics.json").read_text())
    details = payload["details"]
    assert details["global_step"] == 48 and details["resume_count"] == 1
    assert details["resumed_from"]["global_step"] == saved_step
    assert not (tmp_path / "resumed" / "checkpoints").exists()
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("train/loss_step")]
    # One history: the rows logged before the kill (flushed with each last.ckpt), then the rest.
    assert steps == [9, 19, 29, 39]
