"""`python export.py` for a Re-ID checkpoint: the one export stage's embedding family (ONNX +
TorchScript bundles with the common card schema, embedding parity, the tracking-parity gate)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidlab.export import reid as reid_export
from vidlab.export import stage
from vidlab.export.onnx import read_onnx_metadata
from vidlab.export.runtime import load_bundle
from vidlab.export.verify import ParityError
from vidlab.models.reid import ReIDNet
from vidlab.tasks import export as task
from vidlab.tasks.reid import ReIDModule
from vidlab.utils.runinfo import file_sha256

SIZE = [64, 32]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def write_tiny_market(root: Path) -> Path:
    """Market layout with 3 train ids and 3 test ids, coloured figures, two cameras."""
    splits = {
        "bounding_box_train": (range(1, 4), (1, 2)),
        "query": (range(11, 14), (1,)),
        "bounding_box_test": (range(11, 14), (2, 2)),
    }
    rng = np.random.default_rng(0)
    for folder, (pids, cams) in splits.items():
        (root / folder).mkdir(parents=True)
        for pid in pids:
            colour = np.random.default_rng(pid).integers(0, 256, 3)
            for k, cam in enumerate(cams):
                img = np.clip(colour + rng.normal(0, 20, (48, 20, 3)), 0, 255).astype(np.uint8)
                cv2.imwrite(str(root / folder / f"{pid:04d}_c{cam}s1_{k:06d}_00.jpg"), img)
    return root


def write_reid_checkpoint(path: Path, market: Path) -> Path:
    """A vidlab Re-ID checkpoint as train.py writes it (untrained weights suffice for parity)."""
    torch.manual_seed(0)
    net_cfg = {
        "_target_": "vidlab.models.reid.ReIDNet",
        "backbone": "test_resnet",
        "image_size": SIZE,
        "pooling": "gem",
        "last_stride": 2,
    }
    data_cfg = {
        "_target_": "vidlab.data.reid.datamodule.ReIDDataModule",
        "root": str(market),
        "image_size": SIZE,
        "batch_size": 4,
    }
    net = ReIDNet(**{k: v for k, v in net_cfg.items() if k != "_target_"})
    with torch.no_grad():  # non-trivial BNNeck statistics, as after training
        net.neck.running_mean.uniform_(-0.5, 0.5)
        net.neck.running_var.uniform_(0.5, 2.0)
    module = ReIDModule(net, None, num_classes=3)
    module.checkpoint_meta = {
        "config": {
            "model": {
                "_target_": "vidlab.tasks.reid.ReIDModule",
                "num_classes": None,
                "net": net_cfg,
            },
            "data": data_cfg,
        },
        "class_names": [],
        "input": {"image_size": SIZE, "mean": MEAN, "std": STD},
    }
    ckpt = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(ckpt)
    torch.save(ckpt, path)
    return path


@pytest.fixture
def reid_ckpt(tmp_path):
    return write_reid_checkpoint(tmp_path / "reid.ckpt", write_tiny_market(tmp_path / "market"))


EXPORT = ["export=reid", "export.num_parity_crops=6", "export.timed_runs=1", "export.warmup_runs=0"]


def test_export_writes_checked_bundles_with_the_common_card(make_cfg, reid_ckpt, monkeypatch):
    monkeypatch.delenv("VIDLAB_REAL_DATA", raising=False)
    cfg = make_cfg("export", [f"ckpt_path={reid_ckpt}", *EXPORT])
    metrics = task.run(cfg)
    out = Path(cfg.paths.output_dir)
    assert metrics["export/onnx/min_cosine"] >= 0.9999
    assert metrics["export/torchscript/min_cosine"] >= 0.9999
    assert metrics["export/num_parity_samples"] == 6  # 3 queries + 3 of the 6 gallery images
    dim = ReIDNet(backbone="test_resnet", image_size=SIZE, last_stride=2).num_features
    batch = np.random.default_rng(0).normal(size=(5, 3, *SIZE)).astype(np.float32)
    outputs = []
    for fmt, file in (("onnx", "model.onnx"), ("torchscript", "model.ts")):
        card = json.loads((out / "bundles" / fmt / "card.json").read_text())
        assert card["family"] == "embedding" and card["file"] == file
        assert card["input"]["image_size"] == SIZE and card["input"]["mean"] == MEAN
        assert card["input"]["std"] == STD and card["output"]["l2_normalized"] is True
        assert card["output"]["embedding_dim"] == dim
        assert card["provenance"]["source_checkpoint"]["sha256"] == file_sha256(reid_ckpt)
        assert card["sha256"][file] == file_sha256(out / "bundles" / fmt / file)
        bundle = load_bundle(out / "bundles" / fmt)  # any family loads through the runtime
        assert bundle.family == "embedding"
        outputs.append(bundle.predict(batch))
    # The ONNX file describes its own preprocessing; batch size is dynamic; outputs are unit norm.
    assert read_onnx_metadata(out / "bundles" / "onnx" / "model.onnx")["input"] == {
        "image_size": SIZE,
        "mean": MEAN,
        "std": STD,
    }
    assert outputs[0].shape == outputs[1].shape == (5, dim)
    np.testing.assert_allclose(np.linalg.norm(outputs[0], axis=1), 1.0, atol=1e-5)
    report = json.loads((out / "metrics.json").read_text())
    assert report["task"] == "export" and report["details"]["family"] == "embedding"
    assert (out / "export_report.csv").is_file()


def test_real_market_crops_join_the_parity_set(make_cfg, reid_ckpt, real_data, monkeypatch):
    monkeypatch.setenv("VIDLAB_REAL_DATA", str(real_data))
    cfg = make_cfg("export", [f"ckpt_path={reid_ckpt}", *EXPORT, "export.formats=[onnx]"])
    metrics = task.run(cfg)
    assert metrics["export/real_crops"] == 2
    assert metrics["export/onnx/min_cosine"] >= 0.9999


def test_parity_failure_rejects_the_artifact(make_cfg, reid_ckpt, monkeypatch):
    # The rejection logic alone: the loaded artifact gives every crop the same embedding.
    real_load = stage.load_predictor

    def constant_predictor(path, runtime, threads=None):
        predict = real_load(path, runtime, threads)
        return lambda x: np.ones_like(predict(x))

    monkeypatch.setattr(stage, "load_predictor", constant_predictor)
    cfg = make_cfg("export", [f"ckpt_path={reid_ckpt}", *EXPORT, "export.formats=[onnx]"])
    with pytest.raises(ParityError, match="onnx"):
        task.run(cfg)
    bundle = Path(cfg.paths.output_dir) / "bundles" / "onnx"
    assert (bundle / "model.onnx.rejected").is_file() and not (bundle / "model.onnx").exists()
    assert not (bundle / "card.json").exists()
    report = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert report["details"]["ok"] is False
    assert report["details"]["parity"]["onnx"]["min_cosine"] < 0.9999


def test_embedding_parity_figures():
    ref = np.array([[1.0, 0.0], [0.0, 2.0]])
    same = reid_export.embedding_parity(ref, ref * 3.0)
    assert same.ok and same.min_cosine == pytest.approx(1.0)
    tilted = reid_export.embedding_parity(ref, np.array([[1.0, 0.1], [0.0, 1.0]]))
    assert tilted.min_cosine == pytest.approx(1 / np.sqrt(1.01)) and not tilted.ok
    with pytest.raises(ValueError, match="embeddings"):
        reid_export.embedding_parity(ref, ref[:1])


@pytest.mark.slow
def test_tracking_parity_option_runs_the_downstream_gate(make_cfg, reid_ckpt, monkeypatch):
    monkeypatch.delenv("VIDLAB_REAL_DATA", raising=False)
    overrides = [
        f"ckpt_path={reid_ckpt}",
        *EXPORT,
        "export.formats=[onnx]",
        "export.tracking_parity=true",
        "export.tracking_frames=30",
        "export.tracking_people=3",
    ]
    cfg = make_cfg("export", overrides)
    metrics = task.run(cfg)
    assert metrics["export/onnx/tracking_parity"] == 1.0
    report = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    gates = {g["tracker"]: g for g in report["details"]["gates"]["onnx"]["tracking_parity"]}
    assert set(gates) == {"deepsort", "botsort"}
    for gate in gates.values():
        assert gate["identical_tracks"] and gate["torch"] == gate["export"] and gate["num_rows"] > 0
