"""`python evaluate.py task=localize`: a classifier bundle with a background class localizes actions
in synthetic untrimmed videos; results, timelines and (with ground truth) metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import hydra
import pytest
import torch

from vidlab.tasks.common import build_classifier, checkpoint_meta
from vidlab.tasks.video_classification import CKPT_META_KEY

# Tiny untrimmed videos (2 actions of 8-10 frames each) and a tiny X3D for 4-frame windows.
TINY_UNTRIMMED = [
    "experiment=synthetic_localization",
    "data.num_frames=4",
    "data.actions_per_video=[2,2]",
    "data.action_frames=[8,10]",
    "data.gap_frames=[4,6]",
    "data.train_videos=2",
    "data.val_videos=2",
    "data.test_videos=2",
    "data.batch_size=8",
    "model.net.depth_factor=0.5",
    "model.net.width_factor=0.5",
    "model.net.head_dim_out=32",
    "trainer.accelerator=cpu",
]


def export_bundle(make_cfg, overrides: list[str], ckpt: Path) -> Path:
    from vidlab.tasks import export

    data = [o for o in overrides if o.startswith("data.")]
    cfg = make_cfg(
        "export",
        ["data=synthetic_untrimmed", *data, f"ckpt_path={ckpt}", "export=torchscript",
         "export.timed_runs=1", "export.warmup_runs=1", "export.num_parity_clips=8"],
        name="export",
    )  # fmt: skip
    export.run(cfg)
    return Path(cfg.paths.output_dir) / "bundles" / "torchscript"


def test_localize_writes_results_timelines_and_metrics(make_cfg, tmp_path):
    cfg = make_cfg("train", TINY_UNTRIMMED, name="train")
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    torch.manual_seed(0)
    module = build_classifier(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    ckpt.parent.mkdir(parents=True)
    meta = checkpoint_meta(cfg, datamodule)
    assert meta["class_names"][0] == "background" and len(meta["class_names"]) == 5
    torch.save({"state_dict": module.state_dict(), CKPT_META_KEY: meta}, ckpt)
    bundle = export_bundle(make_cfg, TINY_UNTRIMMED, ckpt)

    from vidlab.tasks import localize

    videos = datamodule.videos_dir()
    cfg = make_cfg(
        "evaluate",
        ["task=localize", f"source={videos}", f"classifier={bundle}",
         f"gt={datamodule.annotations_path}", "localize.segments.thresholds=[0.05,0.2]",
         "localize.batch_size=4"],
        name="localize",
    )  # fmt: skip
    returned = localize.run(cfg)
    out = Path(cfg.paths.output_dir)
    results = json.loads((out / "results.json").read_text())["results"]
    assert sorted(results) == sorted(p.stem for p in videos.glob("*.mp4"))  # all 6 videos
    for predictions in results.values():
        for p in predictions:
            assert set(p) == {"label", "score", "segment"} and p["label"] != "background"
            assert 0 <= p["segment"][0] < p["segment"][1]
    assert len(list((out / "timelines").glob("*.png"))) == 6
    payload = json.loads((out / "metrics.json").read_text())
    assert payload["task"] == "localize" and set(payload["mAP"]) >= {"0.50", "0.95"}
    assert returned["test/frames"] > 0 and returned["test/average_mAP"] == payload["average_mAP"]
    assert payload["details"]["per_class_AP"]

    # Without source: the test videos of the dataset, scored against its ground truth.
    data_overrides = [o for o in TINY_UNTRIMMED if o.startswith("data.")]
    cfg = make_cfg(
        "evaluate",
        ["task=localize", "data=synthetic_untrimmed", *data_overrides, f"classifier={bundle}",
         "localize.timelines=false"],
        name="from_data",
    )  # fmt: skip
    from_data = localize.run(cfg)
    assert from_data["test/videos"] == 2 and "test/mAP_0.50" in from_data

    # A single video without ground truth: results and timeline, metrics without mAP.
    one = sorted(videos.glob("*.mp4"))[0]
    cfg = make_cfg(
        "evaluate", ["task=localize", f"source={one}", f"classifier={bundle}"], name="one"
    )
    returned = localize.run(cfg)
    assert "test/average_mAP" not in returned and returned["test/videos"] == 1
    out = Path(cfg.paths.output_dir)
    assert list(json.loads((out / "results.json").read_text())["results"]) == [one.stem]


def test_localize_needs_a_classifier_bundle(make_cfg, tmp_path):
    from vidlab.errors import UserError
    from vidlab.tasks import localize

    cfg = make_cfg("evaluate", ["task=localize", f"source={tmp_path}"])
    with pytest.raises(UserError, match="classifier="):
        localize.run(cfg)
