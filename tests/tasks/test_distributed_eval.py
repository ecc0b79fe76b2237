"""Distributed evaluation counts every test video exactly once.

Lightning's distributed sampler pads the test set with repeated samples so every rank gets the same
number; with 15 test videos on 2 ranks one video is scored twice. Scores are fused per video index
(`vidlab.evaluation.classification.fuse_views`), so the two-process result must equal the
one-process result exactly.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import hydra
import pytest
import torch

from vidlab.tasks import evaluate
from vidlab.tasks.common import build_classifier, checkpoint_meta
from vidlab.tasks.video_classification import CKPT_META_KEY

REPO = Path(__file__).resolve().parents[2]
TEST_VIDEOS = 15  # odd: two ranks cannot split it evenly
DATA = [
    "data.factors=[horizontal,vertical]",
    "data.num_classes=4",
    "data.num_frames=4",
    "data.crop_size=32",
    "data.train_size=8",
    "data.val_size=8",
    f"data.test_size={TEST_VIDEOS}",
    "data.batch_size=4",
]
MODEL = ["model.net.depth_factor=0.5", "model.net.width_factor=0.5", "model.net.head_dim_out=32"]


def _checkpoint(make_cfg, path: Path) -> None:
    """A randomly initialised tiny X3D saved as a vidlab checkpoint (weights and meta only)."""
    torch.manual_seed(0)
    cfg = make_cfg("train", [*DATA, *MODEL], name="ckpt_run")
    datamodule = hydra.utils.instantiate(cfg.data)
    module = build_classifier(cfg)
    with torch.no_grad():  # a spread of predictions, so every class gets some videos
        module.net.blocks[-1].proj.weight.mul_(50.0)
    torch.save(
        {"state_dict": module.state_dict(), CKPT_META_KEY: checkpoint_meta(cfg, datamodule)}, path
    )


def _read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.mark.slow
@pytest.mark.integration
def test_two_processes_give_the_single_process_metrics(make_cfg, tmp_path):
    ckpt = tmp_path / "tiny.ckpt"
    _checkpoint(make_cfg, ckpt)
    data_dir = tmp_path / "data"  # shared cache of the generated clips

    single_cfg = make_cfg("evaluate", [*DATA, f"ckpt_path={ckpt}"], name="single")
    single = evaluate.run(single_cfg)
    single_dir = Path(single_cfg.paths.output_dir)

    ddp_dir = tmp_path / "ddp"
    env = {**os.environ, "VIDLAB_ROOT": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            *DATA,
            f"ckpt_path={ckpt}",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.sync_batchnorm=false",
            "trainer.strategy.process_group_backend=gloo",
            f"paths.data_dir={data_dir}",
            f"hydra.run.dir={ddp_dir}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads((ddp_dir / "metrics.json").read_text())

    assert single["test/num_videos"] == TEST_VIDEOS
    assert payload["details"]["num_videos"] == TEST_VIDEOS
    for key in ("test/top1", "test/top5", "test/mean_class_accuracy", "test/num_videos"):
        assert payload["metrics"][key] == pytest.approx(single[key], abs=1e-9), key
    # Same video-level predictions: identical confusion matrices and per-class accuracies.
    assert _read_csv(ddp_dir / "test_confusion.csv") == _read_csv(single_dir / "test_confusion.csv")
    assert _read_csv(ddp_dir / "test_per_class_accuracy.csv") == _read_csv(
        single_dir / "test_per_class_accuracy.csv"
    )
    confusion = _read_csv(single_dir / "test_confusion.csv")
    predicted_classes = sum(any(int(row[j]) for row in confusion[1:]) for j in range(1, 5))
    assert predicted_classes >= 2, "degenerate model: the comparison would be too weak"
