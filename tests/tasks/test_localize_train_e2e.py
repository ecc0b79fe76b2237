"""End to end: train the localization classifier on tiny synthetic untrimmed videos, export it and
localize the test videos with `task=localize data=synthetic_untrimmed`: the actions are found."""

from __future__ import annotations

from pathlib import Path

import pytest

# Two action classes (right, left: each other's time reversal) + background, 4-frame windows,
# translation only (no rotation / scale nuisance, no distractors) so that a tiny X3D learns it fast.
E2E = [
    "experiment=synthetic_localization",
    "data.factors=[horizontal]",
    "data.nuisance_motion=false",
    "data.num_distractors=0",
    "data.num_classes=3",
    "data.num_frames=4",
    "data.actions_per_video=[2,3]",
    "data.action_frames=[8,12]",
    "data.gap_frames=[4,8]",
    "data.train_videos=24",
    "data.val_videos=4",
    "data.test_videos=6",
    "data.train_window_stride=2",
    "data.batch_size=16",
    "model.net.depth_factor=0.5",
    "model.net.width_factor=0.5",
    "model.net.head_dim_out=64",
    "trainer.max_epochs=12",
    "trainer.accelerator=cpu",
    "test=false",
]
# A classifier that has learnt where the actions are but hardly which (4 epochs with rotation and
# scale nuisances, window top-1 0.48) gave 0.45; above the bar it also tells the two directions
# apart. Measured with this configuration: 0.70 (about 60 s on the 2-core machine).
MIN_MAP_AT_050 = 0.5


@pytest.mark.slow
def test_train_export_localize(make_cfg):
    from vidlab.tasks import export, localize, train

    cfg = make_cfg("train", E2E, name="train")
    train.run(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        ckpt = next((Path(cfg.paths.output_dir) / "checkpoints").glob("*.ckpt"))
    data = [o for o in E2E if o.startswith("data.")]
    cfg = make_cfg(
        "export",
        ["data=synthetic_untrimmed", *data, f"ckpt_path={ckpt}", "export=torchscript",
         "export.timed_runs=1", "export.warmup_runs=1", "export.num_parity_clips=8"],
        name="export",
    )  # fmt: skip
    export.run(cfg)
    bundle = Path(cfg.paths.output_dir) / "bundles" / "torchscript"
    cfg = make_cfg(
        "evaluate",
        ["task=localize", "data=synthetic_untrimmed", *data, f"classifier={bundle}",
         "localize.timelines=false"],
        name="localize",
    )  # fmt: skip
    metrics = localize.run(cfg)
    assert metrics["test/videos"] == 6
    assert metrics["test/mAP_0.50"] >= MIN_MAP_AT_050, metrics
