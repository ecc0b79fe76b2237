"""`python train.py experiment=reid_synthetic` and `python evaluate.py task=reid` end to end, tiny."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidlab.tasks import reid_evaluate
from vidlab.tasks.reid import REID_TASK
from vidlab.tasks.train import run as train_run

TINY = [
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
    "data.num_batches=2",
    "data.batch_size=32",
    "model.net.backbone=test_resnet",
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
]


def test_experiment_composes_with_the_recipe_settings(make_cfg):
    cfg = make_cfg("train", ["experiment=reid_market1501", "data.root=/nowhere"])
    assert cfg.callbacks.model_checkpoint.monitor == "val/mAP"
    assert cfg.optimized_metric == "val/mAP"
    assert cfg.model.net.image_size == [256, 128] and cfg.optimizer.lr == pytest.approx(3.5e-4)
    assert cfg.model.center_loss_weight == pytest.approx(5e-4)
    assert (cfg.data.p_identities, cfg.data.k_instances) == (16, 4)
    mot = make_cfg("train", ["experiment=reid_mot17", "data.builder.mot_root=/nowhere"], name="m")
    assert mot.model.net.backbone == "resnet50" and mot.data._target_.endswith("ReIDDataModule")


def test_train_then_evaluate_reid(make_cfg):
    cfg = make_cfg("train", TINY)
    metrics = train_run(cfg)
    for split in ("val", "test"):
        for name in ("rank1", "rank5", "mAP", "mINP"):
            assert 0.0 <= metrics[f"{split}/{name}"] <= 1.0
    best = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    meta = torch.load(best, map_location="cpu", weights_only=True)["vidlab"]
    assert meta["task"] == REID_TASK and meta["num_classes"] > 0
    assert meta["input"]["image_size"] == [64, 32]

    ev = make_cfg(
        "evaluate",
        [
            "task=reid",
            f"ckpt_path={best}",
            "reid.flip=true",
            "reid.rerank=true",
            "reid.k1=5",
            "reid.k2=2",
        ],
        name="eval",
    )
    out = reid_evaluate.run(ev)
    payload = json.loads((Path(ev.paths.output_dir) / "metrics.json").read_text())
    assert payload["task"] == "evaluate_reid" and list(payload) == [
        "schema",
        "task",
        "metrics",
        "details",
        "provenance",
    ]
    assert payload["details"]["options"]["flip"] and payload["details"]["options"]["rerank"]
    assert payload["metrics"]["test/mAP"] == pytest.approx(out["test/mAP"])
    assert payload["details"]["query_size"] > 0 and payload["details"]["gallery_size"] > 0
    plain = reid_evaluate.run(
        make_cfg("evaluate", ["task=reid", f"ckpt_path={best}"], name="eval_plain")
    )
    # Without flip and re-ranking the evaluation reproduces the training run's test figures.
    assert plain["test/mAP"] == pytest.approx(metrics["test/mAP"], abs=1e-6)
