"""Resuming a training run: a run interrupted mid-epoch and resumed from its last.ckpt ends with
exactly the weights of an uninterrupted run, in the original run directory, with the history kept."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from vidlab.tasks import train

STEPS_PER_EPOCH = 8  # tiny_run: 64 training clips, batches of 8, 2 epochs


class _Crash(RuntimeError):
    pass


class CrashAfterStep(pl.Callback):
    """Stands for a killed process: raises once `step` optimizer steps are done (after the
    step's last.ckpt write when the step is a multiple of every_n_steps)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise _Crash(f"crash after step {self.step}")


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread when the CPU is shared (and the runs compare equal
    whatever the count)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def _assert_same_weights(a: Path, b: Path) -> None:
    first, second = _weights(a), _weights(b)
    assert first.keys() == second.keys()
    differ = [k for k in first if not torch.equal(first[k], second[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"


def _logged(run_dir: Path, key: str) -> list[tuple[int, str]]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return [(int(r["step"]), r[key]) for r in csv.DictReader(f) if r.get(key)]


def _crashing_run(make_cfg, overrides, monkeypatch, step: int, name: str) -> Path:
    original = train.instantiate_group

    def with_crash(group):
        built = original(group)
        return (
            [*built, CrashAfterStep(step)]
            if group is not None and "last_checkpoint" in group
            else built
        )

    monkeypatch.setattr(train, "instantiate_group", with_crash)
    cfg = make_cfg("train", overrides, name=name)
    with pytest.raises(_Crash):
        train.run(cfg)
    monkeypatch.setattr(train, "instantiate_group", original)
    return Path(cfg.paths.output_dir)


# Step 5: resumes mid-epoch from step 4. Step 9: from the save after epoch 0's validation (the
# step-8 save is deferred to it).
@pytest.mark.parametrize("crash_step", [5, 9], ids=["mid_epoch", "after_validation"])
def test_resumed_run_ends_with_the_uninterrupted_weights(
    make_cfg, tiny_run, monkeypatch, one_thread, crash_step
):
    overrides = [
        *tiny_run,
        "callbacks.last_checkpoint.every_n_steps=4",
        "model.net.dropout_rate=0.5",
        "trainer.log_every_n_steps=1",
    ]
    reference = Path(make_cfg("train", overrides, name="reference").paths.output_dir)
    train.run(make_cfg("train", overrides, name="reference"))

    run_dir = _crashing_run(make_cfg, overrides, monkeypatch, crash_step, "run")
    last = run_dir / "checkpoints" / "last.ckpt"
    saved_step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert saved_step == 4 * (crash_step // 4)
    resumed = train.run(make_cfg("train", [*overrides, f"ckpt_path={last}"], name="resume"))

    _assert_same_weights(reference / "checkpoints" / "last.ckpt", last)
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert not (run_dir / "checkpoints" / "best-v1.ckpt").exists()
    payload = json.loads((run_dir / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    scalars = {k: v for k, v in expected["metrics"].items() if not isinstance(v, dict)}
    assert resumed == scalars
    assert payload["details"]["best_checkpoint"] == str(
        run_dir.resolve() / "checkpoints" / "best.ckpt"
    )
    assert payload["details"]["resume_count"] == 1
    assert payload["details"]["resumed_from"]["checkpoint"] == str(last)
    assert payload["details"]["resumed_from"]["global_step"] == saved_step
    assert (
        payload["details"]["global_step"]
        == expected["details"]["global_step"]
        == 2 * STEPS_PER_EPOCH
    )
    # The CSV log holds the whole history once: the uninterrupted run's rows.
    for key in ("train/loss_step", "val/top1"):
        assert _logged(run_dir, key) == _logged(reference, key)
    assert [s for s, _ in _logged(run_dir, "train/loss_step")] == list(range(2 * STEPS_PER_EPOCH))


REPO_ROOT = Path(__file__).resolve().parents[2]


def _train_cmd(tiny_run: list[str], tmp_path: Path, run_name: str, *extra: str) -> list[str]:
    overrides = [
        *(o for o in tiny_run if not o.startswith("data.train_size=")),
        "data.train_size=128",  # 16 steps per epoch
        "callbacks.last_checkpoint.every_n_steps=3",
        "callbacks.progress_bar.refresh_rate=0",
        "model.net.dropout_rate=0.5",
        "trainer.log_every_n_steps=1",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path / run_name}",
    ]
    return [sys.executable, str(REPO_ROOT / "train.py"), *overrides, *extra]


def _env() -> dict[str, str]:
    src = str(REPO_ROOT / "src")
    path = os.environ.get("PYTHONPATH")
    # One thread: quick on a shared CPU, and the same arithmetic in every process.
    return {
        **os.environ,
        "PYTHONPATH": f"{src}{os.pathsep}{path}" if path else src,
        "OMP_NUM_THREADS": "1",
    }


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_weights(tmp_path, tiny_run):
    steps = 2 * 16
    subprocess.run(
        _train_cmd(tiny_run, tmp_path, "reference"),
        env=_env(),
        check=True,
        capture_output=True,
        timeout=600,
    )
    reference = tmp_path / "reference"

    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(
        _train_cmd(tiny_run, tmp_path, "run"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    saved_step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert saved_step % 3 == 0 and saved_step % 16 != 0, saved_step  # a mid-epoch save
    print(f"killed after the last.ckpt write at step {saved_step}")

    resumed = subprocess.run(
        _train_cmd(tiny_run, tmp_path, "resume", f"ckpt_path={last}"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    _assert_same_weights(reference / "checkpoints" / "last.ckpt", last)
    payload = json.loads((run_dir / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    assert payload["details"]["global_step"] == expected["details"]["global_step"] == steps
    assert payload["details"]["resumed_from"]["global_step"] == saved_step
    assert payload["details"]["resumed_from"]["invocation_dir"] == str(tmp_path / "resume")
    assert payload["details"]["best_checkpoint"] == expected["details"]["best_checkpoint"].replace(
        str(reference), str(run_dir)
    )
    for key, value in expected["metrics"].items():
        if not isinstance(value, dict):
            assert payload["metrics"][key] == value, key
    # The run continued in its directory; the resuming invocation's own keeps its config and log.
    assert not (tmp_path / "resume" / "checkpoints").exists()
    assert (tmp_path / "resume" / ".hydra" / "config.yaml").is_file()
    # Every step logged once, with the uninterrupted run's values; none lost after the checkpoint.
    logged, wanted = (
        _logged(run_dir, "train/loss_step"),
        dict(_logged(reference, "train/loss_step")),
    )
    assert len({s for s, _ in logged}) == len(logged)
    assert all(wanted[s] == v for s, v in logged)
    assert {s for s, _ in logged} >= set(range(saved_step, steps))


REID_TINY = [  # tests/tasks/test_reid_train.py's tiny Re-ID run, 4 P x K batches per epoch
    "experiment=reid_synthetic",
    "data.builder.n_sequences=2",
    "data.builder.num_frames=60",
    "data.builder.width=320",
    "data.builder.height=180",
    "data.builder.initial_people=6",
    "data.builder.crops.num_train_ids=null",
    "data.builder.crops.num_time_spans=2",
    "data.builder.crops.frame_stride=4",
    "data.p_identities=4",
    "data.k_instances=2",
    "data.num_batches=4",
    "data.batch_size=32",
    "model.net.backbone=test_resnet",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "callbacks.last_checkpoint.every_n_steps=3",
]


def test_resumed_reid_run_ends_with_the_uninterrupted_weights(make_cfg, monkeypatch, one_thread):
    # P x K batches come from a batch sampler, whose epoch Lightning does not set; augmentations
    # draw from torch's global generator. Killed in epoch 1 after the step-6 save.
    reference = Path(make_cfg("train", REID_TINY, name="reference").paths.output_dir)
    train.run(make_cfg("train", REID_TINY, name="reference"))
    run_dir = _crashing_run(make_cfg, REID_TINY, monkeypatch, 7, "run")
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 6
    train.run(make_cfg("train", [*REID_TINY, f"ckpt_path={last}"], name="resume"))
    _assert_same_weights(reference / "checkpoints" / "last.ckpt", last)
