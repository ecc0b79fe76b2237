"""Export test helpers: a tiny X3D, and a checkpoint of it written without training."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hydra
import pytest
import torch
from torch import nn

from vidlab.models.x3d import create_x3d
from vidlab.tasks.common import build_classifier, checkpoint_meta
from vidlab.tasks.video_classification import CKPT_META_KEY


@pytest.fixture
def tiny_net() -> nn.Module:
    """A tiny X3D for 4-frame 32x32 clips, 5 classes, seeded, eval mode."""
    torch.manual_seed(0)
    return create_x3d(
        num_classes=5,
        num_frames=4,
        crop_size=32,
        width_factor=0.5,
        depth_factor=0.5,
        head_dim_out=32,
    ).eval()


def write_untrained_checkpoint(make_cfg: Callable, overrides: list[str], name: str) -> Path:
    """``<run>/checkpoints/best.ckpt`` as training writes it (state dict and vidlab meta) for the
    train config `overrides` compose, with seeded, untrained weights."""
    cfg = make_cfg("train", overrides, name=name)
    datamodule = hydra.utils.instantiate(cfg.data)
    torch.manual_seed(0)
    module = build_classifier(cfg)
    path = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = checkpoint_meta(cfg, datamodule)
    torch.save({"state_dict": module.state_dict(), CKPT_META_KEY: meta}, path)
    return path


@pytest.fixture
def tiny_checkpoint(make_cfg, tiny_run, tmp_path) -> Callable[..., tuple[Path, list[str]]]:
    """`tiny_checkpoint()` -> (checkpoint path, the data overrides an export config needs).

    The checkpoint has what training writes (state dict and vidlab meta) but untrained, seeded
    weights: export checks compare against the eager model, not against labels, and writing it
    takes a second instead of a training run.
    """

    def _make(name: str = "train") -> tuple[Path, list[str]]:
        path = write_untrained_checkpoint(make_cfg, tiny_run, name)
        return path, [o for o in tiny_run if o.startswith("data.")]

    return _make
