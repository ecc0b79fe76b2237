"""The synthetic-data experiments of the zoo models (X3D-XS, a small SlowFast, a small TimeSformer)
compose, build and train end to end; the synthetic datamodule packs SlowFast pathways; the small
TimeSformer's recipe, as `python train.py experiment=synthetic_timesformer` runs it, clears 90%
validation top-1 (slow: about 4 minutes on 2 cores)."""

from __future__ import annotations

import pytest
import torch

from vidlab.data.datamodules.synthetic import SyntheticActionDataModule
from vidlab.tasks import train

TINY_DATA = [
    "data.train_size=32",
    "data.val_size=16",
    "data.test_size=16",
    "data.batch_size=8",
    "trainer.accelerator=cpu",
    "debug=fdr",
]


@pytest.mark.parametrize(
    "experiment",
    [
        "synthetic_x3d_xs",
        "synthetic_slowfast",
        "synthetic_timesformer",
        "synthetic_swin3d",
        "synthetic_tsm",
        "synthetic_tsn",
        "synthetic_c3d",
    ],
)
def test_experiment_trains_one_batch(make_cfg, experiment):
    cfg = make_cfg("train", [f"experiment={experiment}", *TINY_DATA])
    metrics = train.run(cfg)
    assert 0.0 <= metrics["test/top1"] <= 1.0
    assert metrics["test/num_videos"] == 8


def test_synthetic_datamodule_packs_slowfast_pathways(tmp_path):
    dm = SyntheticActionDataModule(
        num_frames=8,
        crop_size=16,
        train_size=8,
        val_size=4,
        test_size=4,
        batch_size=4,
        cache_dir=tmp_path,
        slowfast_alpha=4,
    )
    dm.setup("fit")
    slow, fast = next(iter(dm.train_dataloader()))["video"]
    assert slow.shape == (4, 3, 2, 16, 16) and fast.shape == (4, 3, 8, 16, 16)
    # The slow pathway is a subset of the fast one's frames (first and last here).
    assert torch.equal(slow[:, :, 0], fast[:, :, 0]) and torch.equal(slow[:, :, 1], fast[:, :, 7])


@pytest.mark.slow
def test_small_timesformer_recipe_clears_ninety_percent(make_cfg):
    cfg = make_cfg(
        "train", ["experiment=synthetic_timesformer", "trainer.accelerator=cpu", "test=false"]
    )
    val_top1 = train.run(cfg)["val/top1"]
    assert val_top1 >= 0.90, val_top1
