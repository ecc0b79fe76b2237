"""`python export.py` for a Re-ID checkpoint: ONNX + TorchScript, embedding and tracking parity."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidlab.export import reid as reid_export
from vidlab.export.verify import ParityError
from vidlab.models.reid import ReIDNet
from vidlab.tasks import reid_export as task
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


EXPORT = ["export=reid", "export.num_parity_crops=6"]


def test_export_writes_checked_artifacts_and_card(make_cfg, reid_ckpt, monkeypatch):
    monkeypatch.delenv("VIDLAB_REAL_DATA", raising=False)
    cfg = make_cfg("export", [f"ckpt_path={reid_ckpt}", *EXPORT])
    metrics = task.run(cfg)
    out = Path(cfg.paths.output_dir)
    assert metrics["export/onnx_min_cosine"] >= 0.9999
    assert metrics["export/torchscript_min_cosine"] >= 0.9999
    assert metrics["export/parity_crops"] == 6  # 3 queries + 3 of the 6 gallery images
    card = json.loads((out / "model_card.json").read_text())
    assert card["input"]["image_size"] == SIZE and card["input"]["mean"] == MEAN
    assert card["input"]["std"] == STD and card["output"]["l2_normalized"] is True
    assert (
        card["output"]["embedding_dim"]
        == ReIDNet(backbone="test_resnet", image_size=SIZE, last_stride=2).num_features
    )
    assert card["source_checkpoint"]["sha256"] == file_sha256(reid_ckpt)
    # The ONNX file describes its own preprocessing; batch size is dynamic; outputs are unit norm.
    meta = reid_export.read_onnx_metadata(out / "model.onnx")
    assert meta["input"] == {"image_size": SIZE, "mean": MEAN, "std": STD}
    batch = torch.randn(5, 3, *SIZE)
    onnx = reid_export.onnx_embeddings(out / "model.onnx", batch)
    ts = reid_export.torchscript_embeddings(out / "model.ts", batch)
    assert onnx.shape == ts.shape == (5, card["output"]["embedding_dim"])
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def test_real_market_crops_join_the_parity_set(make_cfg, reid_ckpt, real_data, monkeypatch):
    monkeypatch.setenv("VIDLAB_REAL_DATA", str(real_data))
    cfg = make_cfg("export", [f"ckpt_path={reid_ckpt}", *EXPORT, "export.formats=[onnx]"])
    metrics = task.run(cfg)
    assert metrics["export/real_crops"] == 2
    assert metrics["export/onnx_min_cosine"] >= 0.9999


def test_parity_failure_rejects_the_artifact(make_cfg, reid_ckpt, monkeypatch):
    # The rejection logic alone: a stand-in export whose runtime gives every crop one embedding.
    def fake_export(net, example, path, **kwargs):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"not a real model")
        return Path(path)

    dim = ReIDNet(backbone="test_resnet", image_size=SIZE, last_stride=2).num_features

    def constant(path, images):  # every crop gets the same embedding
        return np.ones((len(images), dim), np.float32)

    monkeypatch.setattr(reid_export, "export_onnx", fake_export)
    monkeypatch.setattr(reid_export, "onnx_embeddings", constant)
    cfg = make_cfg("export", [f"ckpt_path={reid_ckpt}", *EXPORT, "export.formats=[onnx]"])
    with pytest.raises(ParityError, match="onnx"):
        task.run(cfg)
    out = Path(cfg.paths.output_dir)
    assert (out / "model.onnx.rejected").is_file() and not (out / "model.onnx").exists()
    report = json.loads((out / "metrics.json").read_text())
    assert report["ok"] is False and report["parity"]["onnx"]["min_cosine"] < 0.9999


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
    assert metrics["export/tracking_parity"] == 1.0
    report = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    gates = {g["tracker"]: g for g in report["parity"]["tracking"]}
    assert set(gates) == {"deepsort", "botsort"}
    for gate in gates.values():
        assert gate["identical_tracks"] and gate["torch"] == gate["export"] and gate["num_rows"] > 0
