"""Every logger config works without a network and writes its files into the run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidlab.tasks import train

LIMITS = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "validate=false",
]


@pytest.mark.parametrize(
    ("logger", "expected"),
    [
        ("csv", "csv/metrics.csv"),
        ("tensorboard", "tensorboard"),
        ("wandb", "wandb"),
        ("mlflow", "mlflow.db"),
    ],
)
def test_logger_writes_locally(make_cfg, tiny_run, monkeypatch, logger, expected):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = make_cfg("train", [*tiny_run, *LIMITS, f"logger={logger}"])
    train.run(cfg)
    target = Path(cfg.paths.output_dir) / expected
    assert target.exists(), f"{logger} wrote nothing at {target}"
    if target.is_dir():
        assert any(p.is_file() and p.stat().st_size > 0 for p in target.rglob("*"))
