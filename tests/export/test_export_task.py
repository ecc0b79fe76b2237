"""`export.run`: every format verified and reported, int8 agreement, rejection, Re-ID dispatch."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import load_network
from vidlab.export import formats as export_formats
from vidlab.export.formats import FORMATS
from vidlab.export.runtime import load_predictor
from vidlab.export.verify import ParityError
from vidlab.tasks import export
from vidlab.tasks.video_classification import CKPT_META_KEY

REQUIRED_COLUMNS = {
    "format",
    "size_mb",
    "latency_ms_b1",
    "latency_ms_b8",
    "top1",
    "parity_ok",
    "max_abs_diff",
    "top1_agreement",
    "threads",
}
# Keeps the timing part of a test short; the figures are not what these tests check.
QUICK = [
    "export.warmup_runs=1",
    "export.timed_runs=1",
    "export.num_parity_clips=16",
    "export.num_calibration_clips=16",
]


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "export_report.csv", newline="") as f:
        return {row["format"]: row for row in csv.DictReader(f)}


def _available() -> list[str]:
    return [name for name, fmt in FORMATS.items() if fmt.unavailable_reason() is None]


@pytest.mark.slow
def test_export_all_writes_every_available_format(make_cfg, tiny_checkpoint):
    ckpt, data = tiny_checkpoint()
    # Untrained weights give near-tied logits, so int8 may flip classes: agreement is checked
    # (computed and reported), not required, here.
    cfg = make_cfg(
        "export",
        [*data, f"ckpt_path={ckpt}", "export=all", *QUICK, "export.min_top1_agreement=0.0"],
    )
    metrics = export.run(cfg)
    out = Path(cfg.paths.output_dir)
    rows = _rows(out)
    assert list(rows) == ["pytorch_fp32", *_available()]
    assert REQUIRED_COLUMNS <= set(next(iter(rows.values())))
    for name in _available():
        row = rows[name]
        assert row["parity_ok"] == "True"
        assert float(row["size_mb"]) > 0 and float(row["latency_ms_b8"]) > 0
        assert int(row["threads"]) == torch.get_num_threads()
        card = json.loads((out / "bundles" / name / "card.json").read_text())
        assert (out / "bundles" / name / card["file"]).is_file()
        if not FORMATS[name].quantized:
            assert float(row["max_abs_diff"]) <= 1e-4
    assert (out / "export_report.md").read_text().count("\n| ") == len(rows) + 1
    assert metrics["export/onnx/parity_ok"] == 1.0


@pytest.mark.slow
def test_int8_agreement_and_accuracy_are_reported(make_cfg, tiny_checkpoint):
    ckpt, data = tiny_checkpoint()
    cfg = make_cfg(
        "export",
        [*data, f"ckpt_path={ckpt}", "export=onnx_int8", *QUICK, "export.min_top1_agreement=0.0"],
    )
    export.run(cfg)
    out = Path(cfg.paths.output_dir)
    rows = _rows(out)
    # Recompute the agreement and accuracy from the bundle, the checkpoint and the clips.
    net, _ = load_network(ckpt)
    clips, labels = export.datamodule_clips(cfg.data, "val", 16)
    with torch.no_grad():
        eager = net(clips).argmax(1).numpy()
    int8 = load_predictor(out / "bundles" / "onnx_int8" / "model_int8.onnx", "onnxruntime")(
        clips.numpy()
    ).argmax(1)
    row = rows["onnx_int8"]
    assert float(row["top1_agreement"]) == pytest.approx(np.mean(eager == int8))
    assert float(row["top1"]) == pytest.approx(np.mean(int8 == labels.numpy()))
    assert float(row["top1_drop"]) == pytest.approx(
        np.mean(eager == labels.numpy()) - np.mean(int8 == labels.numpy())
    )


def test_perturbed_artifact_is_rejected_after_the_report(make_cfg, tiny_checkpoint, monkeypatch):
    ckpt, data = tiny_checkpoint()
    real_write = FORMATS["torchscript"].write

    def perturbing_write(ctx, folder):
        with torch.no_grad():
            ctx.net.blocks[-1].proj.bias.add_(1e-2)  # the artifact now differs from eager
        try:
            return real_write(ctx, folder)
        finally:
            with torch.no_grad():
                ctx.net.blocks[-1].proj.bias.sub_(1e-2)

    monkeypatch.setitem(
        export_formats.FORMATS,
        "torchscript",
        FORMATS["torchscript"].__class__("torchscript", "torchscript", False, perturbing_write),
    )
    cfg = make_cfg("export", [*data, f"ckpt_path={ckpt}", "export=torchscript", *QUICK])
    with pytest.raises(ParityError, match="torchscript"):
        export.run(cfg)
    out = Path(cfg.paths.output_dir)
    bundle = out / "bundles" / "torchscript"
    assert (bundle / "model.ts.rejected").is_file()
    assert not (bundle / "model.ts").exists() and not (bundle / "card.json").exists()
    row = _rows(out)["torchscript"]
    assert row["parity_ok"] == "False"
    assert float(row["max_abs_diff"]) == pytest.approx(1e-2, rel=1e-3)
    assert json.loads((out / "metrics.json").read_text())["details"]["ok"] is False


def test_checkpoint_family_picks_the_export_family(make_cfg, tmp_path):
    """A Re-ID checkpoint goes through the same stage as the embedding family: no int8 format for
    it, and a clear error when none of the asked formats fits."""
    from vidlab.checkpoint import EMBEDDING, family_of

    ckpt = tmp_path / "reid.ckpt"
    torch.save({"state_dict": {}, CKPT_META_KEY: {"task": "reid"}}, ckpt)
    assert family_of(torch.load(ckpt, weights_only=True)[CKPT_META_KEY]) == EMBEDDING
    from vidlab.export.families import get_family
    from vidlab.export.stage import requested_formats

    fmts = requested_formats(get_family(EMBEDDING), ["onnx", "onnx_int8", "torchscript"])
    assert [f.name for f in fmts] == ["onnx", "torchscript"]
    with pytest.raises(ValueError, match="embedding model"):
        requested_formats(get_family(EMBEDDING), ["onnx_int8"])


def test_unknown_format_lists_the_valid_ones(make_cfg, tiny_checkpoint):
    ckpt, data = tiny_checkpoint()
    cfg = make_cfg("export", [*data, f"ckpt_path={ckpt}", "export.formats=[tflite]"])
    with pytest.raises(ValueError, match="onnx_int8"):
        export.run(cfg)
