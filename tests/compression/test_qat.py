"""Quantization-aware training: fake-quant fine-tuning, int8 conversion whose outputs follow the
fake-quant model, a saved int8 program, and plain float checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidlab.compression.qat import ARTIFACT_FILE, REPORT_FILE, convert_qat, prepare_qat
from vidlab.models.x3d import X3D
from vidlab.tasks import train
from vidlab.tasks.common import classifier_from_checkpoint

CLIP = (4, 3, 4, 32, 32)  # (B, 3, T, H, W)


@pytest.mark.slow
def test_converted_int8_follows_fake_quant_model():
    torch.manual_seed(0)
    net = X3D(
        num_classes=4,
        num_frames=4,
        crop_size=32,
        width_factor=1.0,
        depth_factor=0.5,
        head_dim_out=32,
    )
    prepared = prepare_qat(net, torch.randn(CLIP))
    optimizer = torch.optim.SGD(prepared.parameters(), lr=0.01)
    for _ in range(4):  # a few QAT steps so observers and BN statistics settle
        loss = prepared(torch.randn(CLIP)).logsumexp(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    prepared.eval()
    clip = torch.randn(8, *CLIP[1:])
    with torch.no_grad():
        fake = prepared(clip)
        int8 = convert_qat(prepared)(clip)
    scale = fake.abs().max()
    assert int8.shape == fake.shape
    assert (int8 - fake).abs().max() <= 0.25 * scale  # int8 rounding of a few layers, not noise
    assert torch.corrcoef(torch.stack([fake.flatten(), int8.flatten()]))[0, 1] > 0.95


@pytest.mark.slow
def test_qat_run_writes_int8_program_and_float_checkpoint(make_cfg, short_run):
    cfg = make_cfg(
        "train",
        [
            *short_run,
            "callbacks=qat",
            "trainer.max_epochs=1",
            "callbacks.qat.eval_batches=1",
            "validate=false",
            "test=false",
        ],
    )
    train.run(cfg)
    out = Path(cfg.paths.output_dir)
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["clips"] == 8  # eval_batches=1: one validation batch
    assert report["top1_agreement"] >= 0.75
    program = torch.export.load(out / ARTIFACT_FILE).module()
    module, _ = classifier_from_checkpoint(out / "checkpoints" / "best.ckpt")  # plain float net
    clip = torch.randn(3, 3, 4, 32, 32)
    with torch.no_grad():
        assert program(clip).shape == module(clip).shape == (3, 4)
    quant_ops = [n for n in program.graph.nodes if "quantize" in str(n.target)]
    assert quant_ops, "the saved program holds no quantize/dequantize operations"
