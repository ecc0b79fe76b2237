"""Training task: fast_dev_run, metrics.json contents, checkpoint format, seed reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidlab.errors import UserError
from vidlab.tasks import train
from vidlab.tasks.video_classification import CKPT_META_KEY


def test_fast_dev_run(make_cfg, tiny_run):
    cfg = make_cfg("train", [*tiny_run, "debug=fdr"])
    metrics = train.run(cfg)
    assert 0.0 <= metrics["test/top1"] <= 1.0
    assert metrics["test/num_videos"] == 8  # one batch of the test split
    assert (Path(cfg.paths.output_dir) / "metrics.json").is_file()


def test_run_writes_metrics_and_weights_only_checkpoints(make_cfg, tiny_run):
    cfg = make_cfg("train", tiny_run)
    metrics = train.run(cfg)
    out = Path(cfg.paths.output_dir)
    payload = json.loads((out / "metrics.json").read_text())
    provenance = payload["provenance"]
    assert payload["task"] == "train" and list(payload) == [
        "schema",
        "task",
        "metrics",
        "details",
        "provenance",
    ]
    assert provenance["seed"] == cfg.seed
    assert provenance["data"]["splits"]["train"]["videos"] == 64
    assert provenance["data"]["seed"] == cfg.data.seed
    assert provenance["versions"]["torch"].startswith("2.")
    assert "git_commit" in provenance
    assert payload["metrics"]["test/top1"] == pytest.approx(metrics["test/top1"])
    assert payload["metrics"]["test/num_videos"] == 32
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = torch.load(out / "checkpoints" / name, map_location="cpu", weights_only=True)
        assert ckpt[CKPT_META_KEY]["class_names"] == [
            "right-approach",
            "left-approach",
            "right-recede",
            "left-recede",
        ]
        assert ckpt[CKPT_META_KEY]["input"]["num_frames"] == 4
    assert (out / "test_confusion.csv").read_text().startswith("true\\pred,right-approach")
    assert (out / "test_confusion.png").stat().st_size > 0
    assert (out / "csv" / "metrics.csv").is_file()


def test_train_false_tests_the_given_checkpoint(make_cfg, tiny_run):
    trained_cfg = make_cfg("train", [*tiny_run, "trainer.max_epochs=2"], name="trained")
    trained = train.run(trained_cfg)
    best = Path(trained_cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    # Seeded differently: a freshly built module would score otherwise (it used to be tested).
    again = train.run(
        make_cfg("train", [*tiny_run, "train=false", f"ckpt_path={best}", "seed=3"], name="eval")
    )
    assert again["test/top1"] == pytest.approx(trained["test/top1"])
    assert again["val/loss"] == pytest.approx(trained["val/loss"], rel=1e-5)  # the same weights
    with pytest.raises(UserError, match="train=false .* give ckpt_path"):
        train.run(make_cfg("train", [*tiny_run, "train=false"], name="none"))


def test_same_seed_same_metrics(make_cfg, tiny_run):
    first = train.run(make_cfg("train", [*tiny_run, "seed=7"], name="a"))
    second = train.run(make_cfg("train", [*tiny_run, "seed=7"], name="b"))
    assert first == second
    third = train.run(make_cfg("train", [*tiny_run, "seed=8"], name="c"))
    assert third["val/loss"] != first["val/loss"]
