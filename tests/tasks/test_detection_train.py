"""`python train.py experiment=det_synthetic`, tiny: metrics.json, PR plots, and a checkpoint that
`vidlab.checkpoint.load_network` rebuilds as a detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidlab.checkpoint import DETECTOR, CheckpointError, load_network
from vidlab.tasks.train import run as train_run

# Two training steps on 64x96 letterboxed frames of one short sequence per split.
SMOKE = [
    "experiment=det_synthetic",
    "data.source.splits.train.n_sequences=1",
    "data.source.splits.val.n_sequences=1",
    "data.source.splits.test.n_sequences=1",
    "data.source.num_frames=20",
    "data.source.frame_stride=5",
    "data.source.width=160",
    "data.source.height=96",
    "data.image_size=[64,96]",
    "data.batch_size=2",
    "data.limit={train:4,val:2,test:2}",
    "model.net.fpn_channels=32",
    "model.net.head_convs=1",
    "trainer.max_epochs=1",
    "trainer.check_val_every_n_epoch=1",
    "trainer.accelerator=cpu",
    "callbacks.last_checkpoint.every_n_steps=0",
]


def test_experiment_composes(make_cfg):
    cfg = make_cfg("train", ["experiment=det_synthetic"])
    assert cfg.model.net._target_ == "vidlab.models.detection.create_fcos"
    assert cfg.model.net.image_size == [192, 320] and cfg.model.net.num_classes == 2
    assert cfg.callbacks.model_checkpoint.monitor == "val/AP50"
    splits = cfg.data.source.splits
    assert len({splits.train.seed, splits.val.seed, splits.test.seed}) == 3


def test_train_writes_detection_metrics_and_a_detector_checkpoint(make_cfg):
    cfg = make_cfg("train", SMOKE)
    metrics = train_run(cfg)
    out = Path(cfg.paths.output_dir)
    payload = json.loads((out / "metrics.json").read_text())
    for split in ("val", "test"):
        for name in ("mAP", "AP50", "AP75", "AR100"):
            value = payload["metrics"][f"{split}/{name}"]
            assert value is None or 0.0 <= value <= 1.0  # null: undefined (no detection yet)
            assert f"{split}/{name}" in metrics
        assert (out / f"{split}_pr_curve.png").is_file()
    best = out / "checkpoints" / "best.ckpt"
    net, meta = load_network(best, family=DETECTOR)
    assert meta["family"] == DETECTOR and meta["class_names"] == ["person"]
    spec = meta["input"]
    assert spec["image_size"] == [64, 96] and spec["person_label"] == 1
    assert spec["mean"] == pytest.approx([0.485, 0.456, 0.406]) and spec["resize"] == "letterbox"
    # The rebuilt network predicts what the checkpoint's module predicts.
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    module_net = type(net)  # the same torchvision class, built from the stored config
    assert module_net.__name__ == "FCOS"
    images = [torch.rand(3, 64, 96)]
    with torch.no_grad():
        ours = net(images)[0]
    again, _ = load_network(best)
    with torch.no_grad():
        theirs = again.eval()(images)[0]
    assert torch.equal(ours["boxes"], theirs["boxes"]) and torch.equal(
        ours["scores"], theirs["scores"]
    )
    assert any(k.startswith("net.head.") for k in state)
    with pytest.raises(CheckpointError, match="checkpoint is a detector model"):
        load_network(best, family="classifier")
