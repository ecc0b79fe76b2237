"""A trained vidlab Re-ID model inside the trackers: `tracker.reid.weights=<.onnx|.ckpt>` and the
downstream parity gate (ONNX encoder vs PyTorch encoder give identical tracks and metrics)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidlab.data.synthetic.mot import SceneConfig, write_mot_folder
from vidlab.export import reid as reid_export
from vidlab.models.reid import ReIDNet
from vidlab.tasks.reid import ReIDModule, reid_from_checkpoint
from vidlab.tracking.encoders import (
    ColorHistogramEncoder,
    OnnxEncoder,
    TorchEncoder,
    encoder_from_weights,
)
from vidlab.tracking.trackers.botsort import BotSort
from vidlab.tracking.trackers.deepsort import DeepSort

SIZE = [64, 32]
MEAN, STD = [0.5, 0.45, 0.4], [0.25, 0.25, 0.25]


@pytest.fixture(scope="module")
def reid_model(tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, exported ONNX) of a small untrained Re-ID net with non-default preprocessing."""
    root = tmp_path_factory.mktemp("reid_model")
    torch.manual_seed(0)
    net_cfg = {
        "_target_": "vidlab.models.reid.ReIDNet",
        "backbone": "test_resnet",
        "image_size": SIZE,
        "last_stride": 2,
    }
    net = ReIDNet(**{k: v for k, v in net_cfg.items() if k != "_target_"})
    module = ReIDModule(net, None, num_classes=4)
    module.checkpoint_meta = {
        "config": {"model": {"_target_": "vidlab.tasks.reid.ReIDModule", "net": net_cfg}},
        "class_names": [],
        "input": {"image_size": SIZE, "mean": MEAN, "std": STD},
    }
    ckpt = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(ckpt)
    torch.save(ckpt, root / "reid.ckpt")
    onnx = reid_export.export_onnx(
        net,
        torch.randn(1, 3, *SIZE),
        root / "model.onnx",
        metadata={"input": {"image_size": SIZE, "mean": MEAN, "std": STD}},
    )
    return root / "reid.ckpt", onnx


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seq")
    scene = SceneConfig(num_frames=40, initial_people=4, width=480, height=270)
    (folder,) = write_mot_folder(root, 1, 3, render_frames=True, config=scene)
    return folder


def test_weights_select_the_encoder_with_the_models_preprocessing(reid_model, sequence):
    ckpt, onnx = reid_model
    torch_enc, onnx_enc = encoder_from_weights(ckpt), encoder_from_weights(onnx)
    assert isinstance(torch_enc, TorchEncoder) and isinstance(onnx_enc, OnnxEncoder)
    for enc in (torch_enc, onnx_enc):
        assert enc.input_size == tuple(SIZE) and enc.mean == tuple(MEAN) and enc.std == tuple(STD)
    frame = cv2.imread(str(sequence / "img1" / "000001.jpg"))
    boxes = np.array([[10, 20, 60, 140], [200, 50, 240, 200], [300, 100, 330, 180]], np.float32)
    a, b = torch_enc.encode(frame, boxes), onnx_enc.encode(frame, boxes)
    assert (
        a.shape
        == b.shape
        == (3, ReIDNet(backbone="test_resnet", image_size=SIZE, last_stride=2).num_features)
    )
    assert np.min(np.sum(a * b, axis=1)) >= 0.9999  # both unit-norm: dot = cosine


def test_tracker_constructors_take_reid_weights(reid_model):
    _, onnx = reid_model
    fallback = ColorHistogramEncoder()
    assert DeepSort(encoder=fallback, reid={"weights": None}).encoder is fallback
    assert isinstance(DeepSort(encoder=fallback, reid={"weights": str(onnx)}).encoder, OnnxEncoder)
    bot = BotSort(with_reid=True, cmc="none", reid={"weights": str(onnx), "batch_size": 8})
    assert isinstance(bot.encoder, OnnxEncoder) and bot.encoder.batch_size == 8
    other = onnx.with_suffix(".pth")
    other.touch()
    with pytest.raises(ValueError, match=r"\.onnx or \.ckpt"):
        DeepSort(reid={"weights": str(other)})
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        DeepSort(reid={"weights": "missing.onnx"})


def test_downstream_parity_gate(reid_model, sequence):
    ckpt, onnx = reid_model
    module, meta = reid_from_checkpoint(ckpt)
    spec = meta["input"]
    torch_enc = TorchEncoder(
        module.net, input_size=tuple(spec["image_size"]), mean=spec["mean"], std=spec["std"]
    )
    onnx_enc = encoder_from_weights(onnx)
    builders = {
        "deepsort": lambda enc: DeepSort(encoder=enc),
        "botsort": lambda enc: BotSort(with_reid=True, cmc="none", encoder=enc),
    }
    for name, make in builders.items():
        gate = reid_export.tracking_parity([sequence], make, torch_enc, onnx_enc, name)
        assert gate.ok and gate.identical_tracks, gate.as_dict()
        assert gate.num_rows > 0 and gate.torch_metrics["IDF1"] > 0


def test_parity_verdict_needs_identical_tracks_and_metrics():
    same = {"HOTA": 0.5, "MOTA": 0.4, "IDF1": 0.6, "IDSW": 3.0}
    assert reid_export.TrackingParity("deepsort", True, same, dict(same), 10).ok
    assert not reid_export.TrackingParity("deepsort", False, same, dict(same), 10).ok
    assert not reid_export.TrackingParity("deepsort", True, same, {**same, "IDSW": 4.0}, 10).ok


def test_track_task_runs_deepsort_with_exported_encoder(make_cfg, reid_model):
    _, onnx = reid_model
    cfg = make_cfg(
        "evaluate",
        [
            "task=track",
            "tracker=deepsort",
            f"tracker.reid.weights={onnx}",
            "data.synthetic.n_sequences=1",
            "data.synthetic.num_frames=30",
            "data.synthetic.initial_people=3",
        ],
    )
    metrics = run_track(cfg)
    assert 0.0 < metrics["test/IDF1"] <= 1.0


def run_track(cfg):
    from vidlab.tasks.track import run

    return run(cfg)
