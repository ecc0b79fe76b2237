"""Train -> evaluate round trip: the evaluate task reproduces what training reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidlab.tasks import evaluate, train
from vidlab.utils.runinfo import file_sha256


def test_evaluate_matches_training(make_cfg, tiny_run):
    train_cfg = make_cfg("train", tiny_run, name="train")
    trained = train.run(train_cfg)
    best = Path(train_cfg.paths.output_dir) / "checkpoints" / "best.ckpt"

    data_overrides = [o for o in tiny_run if o.startswith(("data.", "trainer.accelerator"))]
    eval_cfg = make_cfg("evaluate", [*data_overrides, f"ckpt_path={best}"], name="eval")
    metrics = evaluate.run(eval_cfg)
    for key in ("test/top1", "test/top5", "test/mean_class_accuracy"):
        assert metrics[key] == pytest.approx(trained[key], abs=1e-9)

    out = Path(eval_cfg.paths.output_dir)
    payload = json.loads((out / "metrics.json").read_text())
    assert payload["task"] == "evaluate" and list(payload) == [
        "schema",
        "task",
        "metrics",
        "details",
        "provenance",
    ]
    assert payload["metrics"] == metrics
    assert payload["provenance"]["checkpoint"]["sha256"] == file_sha256(best)
    assert payload["details"]["views"]["total"] == 1
    assert payload["details"]["num_videos"] == 32
    rows = (out / "test_confusion.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 4
    assert sum(int(c) for row in rows[1:] for c in row.split(",")[1:]) == 32
    assert (out / "test_confusion.png").stat().st_size > 0


def test_evaluate_rejects_missing_checkpoint(make_cfg, tmp_path):
    cfg = make_cfg("evaluate", [f"ckpt_path={tmp_path / 'nope.ckpt'}"])
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        evaluate.run(cfg)


def test_evaluate_rejects_foreign_checkpoint(make_cfg, tmp_path):
    import torch

    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    cfg = make_cfg("evaluate", [f"ckpt_path={foreign}"])
    with pytest.raises(ValueError, match="not a vidlab training checkpoint"):
        evaluate.run(cfg)
