"""vidlab.checkpoint: one loader for every family, with one-line errors for files that are not
vidlab checkpoints, and export bundles that refuse model files changed after export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import (
    CLASSIFIER,
    EMBEDDING,
    META_KEY,
    CheckpointError,
    check_family,
    family_of,
    load_checkpoint,
    load_network,
)
from vidlab.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def _tiny_classifier_ckpt(path: Path) -> Path:
    """A classification checkpoint as train.py writes it (its config rebuilds the network)."""
    import hydra

    net_cfg = {
        "_target_": "vidlab.models.x3d.create_x3d",
        "num_classes": 3,
        "num_frames": 4,
        "crop_size": 32,
        "width_factor": 1.0,
        "depth_factor": 1.0,
        "bottleneck_factor": 2.25,
        "head_dim_out": 32,
        "dropout_rate": 0.0,
    }
    net = hydra.utils.instantiate(net_cfg)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    meta = {
        "config": {"model": {"num_classes": 3, "net": net_cfg}},
        "class_names": ["a", "b", "c"],
        "input": {
            "num_frames": 4,
            "crop_size": 32,
            "mean": [0.45] * 3,
            "std": [0.225] * 3,
            "frame_stride": 1,
        },
        "family": CLASSIFIER,
    }
    torch.save({"state_dict": state, META_KEY: meta}, path)
    return path


@pytest.fixture
def classifier_ckpt(tmp_path) -> Path:
    return _tiny_classifier_ckpt(tmp_path / "tiny.ckpt")


def test_a_classifier_checkpoint_rebuilds_its_network(classifier_ckpt):
    net, meta = load_network(classifier_ckpt, family=CLASSIFIER)
    assert family_of(meta) == CLASSIFIER and not net.training
    saved = torch.load(classifier_ckpt, weights_only=True)["state_dict"]
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensor, saved[f"net.{name}"])


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "0 bytes"),
        (b"hello, I am a text file\n", "unreadable as a torch checkpoint"),
        (
            bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
            "unreadable as a torch checkpoint",
        ),
    ],
)
def test_files_that_are_not_checkpoints_get_one_line(tmp_path, content, expected):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, UserError)


def test_a_truncated_checkpoint_gets_one_line(classifier_ckpt, tmp_path):
    data = classifier_ckpt.read_bytes()
    path = tmp_path / "truncated.ckpt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_a_foreign_torch_file_and_a_pickle_with_code(tmp_path):
    plain = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="expected keys 'state_dict' and 'vidlab'"):
        load_checkpoint(plain)
    code = tmp_path / "code.ckpt"
    torch.save({"state_dict": {}, META_KEY: {}, "obj": Path("x")}, code)
    with pytest.raises(CheckpointError, match="weights-only"):
        load_checkpoint(code)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_the_wrong_family_names_the_command_to_use(tmp_path):
    path = tmp_path / "reid.ckpt"
    torch.save({"state_dict": {}, META_KEY: {"task": "reid"}}, path)
    meta = load_checkpoint(path)[META_KEY]
    assert family_of(meta) == EMBEDDING  # older Re-ID checkpoints say task=reid
    with pytest.raises(CheckpointError, match="embedding model.*task=reid"):
        check_family(meta, CLASSIFIER, path)


def test_weights_that_do_not_fit_the_config(classifier_ckpt, tmp_path):
    ckpt = torch.load(classifier_ckpt, weights_only=True)
    ckpt["state_dict"]["net.extra.weight"] = torch.zeros(1)
    path = tmp_path / "extra.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=r"unexpected \['extra.weight'\]"):
        load_network(path)


@pytest.mark.parametrize(
    "command, extra",
    [
        ("evaluate.py", []),
        ("export.py", []),
    ],
)
def test_commands_report_a_bad_checkpoint_in_one_line(tmp_path, command, extra):
    bad = tmp_path / "empty.ckpt"
    bad.write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if k not in ("VIDLAB_VERBOSE", "HYDRA_FULL_ERROR")}
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / command),
            f"ckpt_path={bad}",
            f"hydra.run.dir={tmp_path / 'run'}",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert lines == [f"error: {bad}: not a vidlab checkpoint: 0 bytes"], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_a_tampered_bundle_file_is_refused(tmp_path):
    """The card records every model file's SHA-256; load_bundle refuses a changed file."""
    from torch import nn

    from vidlab.export.bundle import BundleError, make_card, write_card
    from vidlab.export.families import get_family
    from vidlab.export.runtime import load_bundle
    from vidlab.export.torchscript import export_torchscript

    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 4 * 4, 3)).eval()
    folder = tmp_path / "bundles" / "torchscript"
    files = [export_torchscript(net, torch.zeros(1, 3, 2, 4, 4), folder / "model.ts")]
    ckpt = _tiny_classifier_ckpt(tmp_path / "c.ckpt")
    meta = torch.load(ckpt, weights_only=True)[META_KEY]
    write_card(
        folder,
        make_card(
            family=get_family(CLASSIFIER),
            fmt="torchscript",
            runtime="torchscript",
            files=files,
            meta=meta,
            ckpt_path=ckpt,
            options={},
            parity={"ok": True},
        ),
    )
    clips = np.random.default_rng(0).normal(size=(2, 3, 2, 4, 4)).astype(np.float32)
    assert load_bundle(folder).predict(clips).shape == (2, 3)
    card = json.loads((folder / "card.json").read_text())
    assert card["sha256"]["model.ts"] and card["family"] == CLASSIFIER
    # Perturb the weights in the file: a valid model, different numbers.
    tampered = torch.jit.load(str(files[0]))
    with torch.no_grad():
        for p in tampered.parameters():
            p.add_(0.5)
    tampered.save(str(files[0]))
    with pytest.raises(BundleError, match="does not match the card") as info:
        load_bundle(folder)
    assert str(files[0]) in str(info.value)
    assert load_bundle(folder, verify=False).predict(clips).shape == (2, 3)  # opt-out works


def test_resuming_a_classifier_from_a_reid_checkpoint_is_refused(make_cfg, tmp_path):
    from vidlab.tasks import train

    ckpt = tmp_path / "reid.ckpt"
    torch.save({"state_dict": {}, META_KEY: {"task": "reid"}, "global_step": 3}, ckpt)
    cfg = make_cfg(
        "train", [f"ckpt_path={ckpt}", "data.train_size=8", "data.val_size=4", "data.test_size=4"]
    )
    with pytest.raises(CheckpointError, match="embedding model.*this command needs a classifier"):
        train.run(cfg)
