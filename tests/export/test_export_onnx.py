"""ONNX export: parity with eager PyTorch on real clips, dynamic batch, and the failure path."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn

from vidlab.export import onnx as onnx_export
from vidlab.export.program import make_exportable
from vidlab.export.verify import ParityError, check_onnx_parity
from vidlab.models.timesformer import create_timesformer
from vidlab.models.x3d import create_x3d
from vidlab.tasks import export


def _tiny_x3d() -> nn.Module:
    torch.manual_seed(0)
    return create_x3d(
        num_classes=5,
        num_frames=4,
        crop_size=32,
        width_factor=0.5,
        depth_factor=0.5,
        head_dim_out=32,
    ).eval()


def test_swish_is_swapped_for_silu():
    from pytorchvideo.layers.swish import Swish

    net = nn.Sequential(nn.Conv3d(3, 4, 1), Swish(), nn.Sequential(Swish()))
    x = torch.randn(2, 3, 2, 4, 4)
    expected = net(x)
    make_exportable(net)
    assert not any(isinstance(m, Swish) for m in net.modules())
    assert torch.allclose(net(x), expected, atol=1e-6)


def test_export_parity_and_dynamic_batch(tmp_path):
    net = _tiny_x3d()
    clips = torch.randn(6, 3, 4, 32, 32)
    path = onnx_export.export_onnx(net, clips[:1], tmp_path / "m.onnx")
    result = check_onnx_parity(path, net, clips, atol=1e-4)  # batch 6 through a batch-1 export
    assert result.ok and result.num_samples == 6
    assert result.max_abs_diff < 1e-4
    assert result.top1_agreement == 1.0


def test_transformer_export_keeps_the_batch_dynamic(tmp_path):
    """Reshapes of the batch (a TimeSformer's token rearranges) must not bake in the example's
    batch of 1: the exported model runs at batch 5 and matches eager."""
    torch.manual_seed(0)
    net = create_timesformer(
        num_classes=3,
        num_frames=4,
        crop_size=32,
        patch_size=8,
        embed_dim=32,
        depth=1,
        num_heads=2,
        tubelet_size=2,
        stem_width=4,
        standardize_clips=True,
    ).eval()
    clips = torch.randn(5, 3, 4, 32, 32)
    path = onnx_export.export_onnx(net, clips[:1], tmp_path / "t.onnx")
    result = check_onnx_parity(path, net, clips, atol=1e-4)
    assert result.ok and result.num_samples == 5, result.describe()


def test_parity_check_catches_a_perturbed_model(tmp_path):
    net = _tiny_x3d()
    clips = torch.randn(4, 3, 4, 32, 32)
    path = onnx_export.export_onnx(net, clips[:1], tmp_path / "m.onnx")
    with torch.no_grad():
        net.blocks[-1].proj.bias.add_(1e-2)
    result = check_onnx_parity(path, net, clips, atol=1e-4)
    assert not result.ok
    assert result.max_abs_diff == pytest.approx(1e-2, rel=1e-3)


def _perturb_initializers(path: Path) -> None:
    model = onnx.load(str(path))
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype.kind == "f" and array.size > 1:
            init.CopyFrom(numpy_helper.from_array(array * 1.5, init.name))
            break
    onnx.save(model, str(path))


def test_export_task_end_to_end_and_rejection(make_cfg, tiny_checkpoint, monkeypatch):
    ckpt, data = tiny_checkpoint()
    cfg = make_cfg(
        "export", [*data, f"ckpt_path={ckpt}", "export.num_parity_clips=16"], name="export_ok"
    )
    metrics = export.run(cfg)
    out = Path(cfg.paths.output_dir)
    assert metrics["export/onnx/max_abs_diff"] <= 1e-4
    bundle = out / "bundles" / "onnx"
    card = json.loads((bundle / "card.json").read_text())
    assert card["input"]["shape"] == ["batch", 3, 4, 32, 32]
    assert card["input"]["mean"] == [0.45, 0.45, 0.45]
    assert card["class_names"][0] == "right-approach"
    assert len(card["provenance"]["source_checkpoint"]["sha256"]) == 64
    assert (bundle / "model.onnx").is_file()

    real_export = onnx_export.export_onnx

    def corrupting_export(*args, **kwargs):
        path = real_export(*args, **kwargs)
        _perturb_initializers(path)
        return path

    monkeypatch.setattr(onnx_export, "export_onnx", corrupting_export)
    bad_cfg = make_cfg(
        "export", [*data, f"ckpt_path={ckpt}", "export.num_parity_clips=16"], name="export_bad"
    )
    with pytest.raises(ParityError, match="parity failed"):
        export.run(bad_cfg)
    bad_bundle = Path(bad_cfg.paths.output_dir) / "bundles" / "onnx"
    assert not (bad_bundle / "model.onnx").exists()
    assert (bad_bundle / "model.onnx.rejected").exists()
    assert not (bad_bundle / "card.json").exists()
    # The report is written before the failure is raised, and shows it.
    report = (Path(bad_cfg.paths.output_dir) / "export_report.csv").read_text()
    assert "onnx," in report and ",False," in report
