"""Fixtures for the compression tests: short tiny runs and a tiny trained-looking teacher."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from vidlab.tasks.common import build_classifier
from vidlab.tasks.video_classification import CKPT_META_KEY

# A few batches of the tiny run: enough optimizer steps to exercise schedules and checkpoints.
SHORT = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "logger=csv",
]


@pytest.fixture
def short_run(tiny_run: list[str]) -> list[str]:
    """The tiny run cut to 2 epochs of 4 batches (8 optimizer steps)."""
    return [*tiny_run, *SHORT]


def save_vidlab_checkpoint(cfg, path: Path, seed: int = 0) -> Path:
    """A vidlab-format checkpoint of the (randomly initialised) model of `cfg`."""
    torch.manual_seed(seed)
    module = build_classifier(cfg)
    meta = {
        "config": OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False),
        "class_names": [str(i) for i in range(int(cfg.data.num_classes))],
        "input": {"num_frames": int(cfg.data.num_frames), "crop_size": int(cfg.data.crop_size)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), CKPT_META_KEY: meta}, path)
    return path


@pytest.fixture
def make_teacher(make_cfg, tiny_run, tmp_path) -> Callable[..., Path]:
    """Write a tiny teacher checkpoint (wider than the tiny student) and return its path."""

    def _make(extra: list[str] | None = None) -> Path:
        cfg = make_cfg(
            "train",
            [*tiny_run, "model.net.width_factor=1.0", "model.net.head_dim_out=48", *(extra or [])],
            name="teacher",
        )
        return save_vidlab_checkpoint(cfg, tmp_path / "teacher" / "teacher.ckpt")

    return _make
