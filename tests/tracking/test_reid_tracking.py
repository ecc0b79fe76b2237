"""A trained vidlab Re-ID model inside the trackers, injected as their encoder
(`tracker/encoder=reid tracker.encoder.path=<bundle|.onnx|.ckpt>`), and the downstream parity gate
(ONNX encoder vs PyTorch encoder give identical tracks and metrics)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidlab.checkpoint import EMBEDDING, load_network
from vidlab.data.synthetic.mot import SceneConfig, write_mot_folder
from vidlab.export.stage import ExportInputs, export_checkpoint
from vidlab.models.reid import ReIDNet
from vidlab.tasks.reid import ReIDModule
from vidlab.tracking.encoders import (
    BundleEncoder,
    ColorHistogramEncoder,
    OnnxEncoder,
    TorchEncoder,
    load_encoder,
)
from vidlab.tracking.parity import TrackingParity, TrackingParityGate, tracking_parity
from vidlab.tracking.trackers.botsort import BotSort
from vidlab.tracking.trackers.deepsort import DeepSort

EXPORT_OPTIONS = {
    "formats": ["onnx"],
    "opset": 18,
    "min_cosine": 0.9999,
    "warmup_runs": 0,
    "timed_runs": 1,
    "threads": 1,
}

SIZE = [64, 32]
MEAN, STD = [0.5, 0.45, 0.4], [0.25, 0.25, 0.25]


@pytest.fixture(scope="module")
def reid_model(tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint, ONNX export bundle) of a small untrained Re-ID net with non-default
    preprocessing; the bundle is written by the one export stage."""
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
    crops = torch.randn(6, 3, *SIZE)
    export_checkpoint(
        root / "reid.ckpt",
        root / "export",
        EXPORT_OPTIONS,
        lambda family, meta, calibration: ExportInputs(crops),
    )
    return root / "reid.ckpt", root / "export" / "bundles" / "onnx"


@pytest.fixture(scope="module")
def sequence(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seq")
    scene = SceneConfig(num_frames=40, initial_people=4, width=480, height=270)
    (folder,) = write_mot_folder(root, 1, 3, render_frames=True, config=scene)
    return folder


def test_load_encoder_takes_a_bundle_an_onnx_file_or_a_checkpoint(reid_model, sequence):
    ckpt, bundle = reid_model
    encoders = [load_encoder(bundle), load_encoder(bundle / "model.onnx"), load_encoder(ckpt)]
    assert [type(e) for e in encoders] == [BundleEncoder, OnnxEncoder, TorchEncoder]
    for enc in encoders:  # preprocessing from the card, the ONNX metadata and the checkpoint meta
        assert enc.input_size == tuple(SIZE) and enc.mean == tuple(MEAN) and enc.std == tuple(STD)
    frame = cv2.imread(str(sequence / "img1" / "000001.jpg"))
    boxes = np.array([[10, 20, 60, 140], [200, 50, 240, 200], [300, 100, 330, 180]], np.float32)
    a, *others = (enc.encode(frame, boxes) for enc in encoders)
    dim = ReIDNet(backbone="test_resnet", image_size=SIZE, last_stride=2).num_features
    assert a.shape == (3, dim)
    for b in others:
        assert b.shape == a.shape
        assert np.min(np.sum(a * b, axis=1)) >= 0.9999  # all unit-norm: dot = cosine


def test_load_encoder_errors_name_the_path(reid_model, tmp_path):
    other = tmp_path / "model.pth"
    other.touch()
    with pytest.raises(ValueError, match=r"bundle folder, a \.onnx or a \.ckpt"):
        load_encoder(other)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        load_encoder(tmp_path / "missing.onnx")


def test_trackers_take_the_injected_encoder(reid_model):
    _, bundle = reid_model
    encoder = BundleEncoder(bundle, batch_size=8)
    assert DeepSort(encoder=encoder).encoder is encoder
    bot = BotSort(with_reid=True, cmc="none", encoder=encoder)
    assert bot.encoder is encoder and bot.encoder.batch_size == 8
    fallback = ColorHistogramEncoder()
    assert DeepSort(encoder=fallback).encoder is fallback


def test_downstream_parity_gate(reid_model, sequence):
    ckpt, bundle = reid_model
    net, meta = load_network(ckpt, family=EMBEDDING)
    spec = meta["input"]
    torch_enc = TorchEncoder(
        net, input_size=tuple(spec["image_size"]), mean=spec["mean"], std=spec["std"]
    )
    onnx_enc = load_encoder(bundle)
    builders = {
        "deepsort": lambda enc: DeepSort(encoder=enc),
        "botsort": lambda enc: BotSort(with_reid=True, cmc="none", encoder=enc),
    }
    for name, make in builders.items():
        gate = tracking_parity([sequence], make, torch_enc, onnx_enc, name)
        assert gate.ok and gate.identical_tracks, gate.as_dict()
        assert gate.num_rows > 0 and gate.torch_metrics["IDF1"] > 0


def test_gate_object_checks_a_bundle_against_the_eager_network(reid_model):
    from vidlab.export.reid import NormalizedEmbedding

    ckpt, bundle = reid_model
    net, _ = load_network(ckpt)
    gate = TrackingParityGate(num_frames=20, num_people=3)
    results = gate(NormalizedEmbedding(net), bundle)
    assert [r.tracker for r in results] == ["deepsort", "botsort"]
    assert all(r.ok for r in results)


def test_parity_verdict_needs_identical_tracks_and_metrics():
    same = {"HOTA": 0.5, "MOTA": 0.4, "IDF1": 0.6, "IDSW": 3.0}
    assert TrackingParity("deepsort", True, same, dict(same), 10).ok
    assert not TrackingParity("deepsort", False, same, dict(same), 10).ok
    assert not TrackingParity("deepsort", True, same, {**same, "IDSW": 4.0}, 10).ok


@pytest.mark.parametrize("source", ["bundle", "checkpoint"])
def test_track_task_runs_deepsort_with_the_injected_reid_encoder(make_cfg, reid_model, source):
    ckpt, bundle = reid_model
    path = bundle if source == "bundle" else ckpt
    cfg = make_cfg(
        "evaluate",
        [
            "task=track",
            "tracker=deepsort",
            "tracker/encoder=reid",
            f"tracker.encoder.path={path}",
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
