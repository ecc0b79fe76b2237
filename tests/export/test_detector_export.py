"""The detector export family: `export.py` on a detector checkpoint writes bundles whose boxes after
threshold and NMS are the eager torchvision model's own; a perturbed artifact is rejected."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import load_network
from vidlab.errors import UserError
from vidlab.export import formats as export_formats
from vidlab.export.detector import (
    DetectorExport,
    PostProcess,
    UnsupportedDetector,
    eager_detections,
    with_input_size,
)
from vidlab.export.families import get_family
from vidlab.export.formats import FORMATS
from vidlab.export.runtime import load_bundle
from vidlab.export.verify import ParityError
from vidlab.tasks import export

QUICK = [
    "export.warmup_runs=1",
    "export.timed_runs=1",
    "export.num_parity_images=6",
    "export.threads=2",
]


def _export(make_cfg, ckpt: Path, *overrides: str) -> Path:
    cfg = make_cfg("export", [f"ckpt_path={ckpt}", *QUICK, *overrides], name="export")
    export.run(cfg)
    return Path(cfg.paths.output_dir)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["det_fcos_resnet10", "det_retinanet_resnet50"])
def test_detector_bundle_keeps_the_eager_boxes(make_cfg, tiny_detector_checkpoint, model):
    ckpt = tiny_detector_checkpoint(model)
    out = _export(make_cfg, ckpt, "export.formats=[onnx,torchscript]")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["details"]["ok"] is True
    net, meta = load_network(ckpt)
    images = export.detection_frames(
        export.detection_data_config(make_cfg("export", [f"ckpt_path={ckpt}"], name="again"), meta),
        "val",
        6,
        [96, 160],
    )
    reference = eager_detections(net, images, net.detections_per_img)
    for fmt in ("onnx", "torchscript"):
        bundle = load_bundle(out / "bundles" / fmt)
        assert bundle.family == "detector" and bundle.card["input"]["image_size"] == [96, 160]
        assert "fixed input size" in bundle.card["input"]["fixed_size"]
        post = PostProcess.from_card(bundle.card["postprocessing"])
        outputs = bundle.predict(images.numpy())  # batch 6 through a batch-1 export
        assert outputs.shape == (6, post.num_anchors, 4 + post.num_classes)
        kept = 0
        for ref, raw in zip(reference, outputs, strict=True):
            ref = ref[~np.isnan(ref[:, 4])]
            boxes, scores, labels = post(raw)
            kept += len(boxes)
            # The same boxes kept (the order of near-equal scores may differ): each eager box has
            # its own artifact box with the same label within 1e-3 px and score within 1e-4.
            assert len(boxes) == len(ref)
            corner = np.abs(ref[:, None, :4] - boxes[None]).max(axis=2)
            corner[ref[:, 5, None] != labels[None]] = np.inf  # a box may be kept for two classes
            nearest = corner.argmin(axis=1)
            assert len(set(nearest.tolist())) == len(ref)
            assert corner[np.arange(len(ref)), nearest].max(initial=0) <= 1e-3
            np.testing.assert_allclose(scores[nearest], ref[:, 4], atol=1e-4, rtol=0)
            np.testing.assert_array_equal(labels[nearest], ref[:, 5])
        assert kept > 0
        parity = bundle.card["parity"]
        assert parity["ok"] and parity["count_mismatches"] == 0 and parity["num_boxes"] == kept


@pytest.mark.slow
def test_perturbed_detector_artifact_is_rejected(make_cfg, tiny_detector_checkpoint, monkeypatch):
    ckpt = tiny_detector_checkpoint()
    real_write = FORMATS["onnx"].write

    def perturbing_write(ctx, folder):
        bias = ctx.net.model.head.regression_head.bbox_reg.bias
        with torch.no_grad():
            bias.add_(0.05)  # every box edge moves a little: still boxes, not the same ones
        try:
            return real_write(ctx, folder)
        finally:
            with torch.no_grad():
                bias.sub_(0.05)

    monkeypatch.setitem(
        export_formats.FORMATS,
        "onnx",
        FORMATS["onnx"].__class__("onnx", "onnxruntime", False, perturbing_write),
    )
    with pytest.raises(ParityError, match="onnx"):
        _export(make_cfg, ckpt, "export.formats=[onnx]")
    bundle = Path(make_cfg("export", [], name="export").paths.output_dir) / "bundles" / "onnx"
    assert (bundle / "model.onnx.rejected").is_file() and not (bundle / "card.json").exists()


def test_faster_rcnn_is_refused_in_one_line(tiny_detector_checkpoint):
    ckpt = tiny_detector_checkpoint(
        "det_faster_rcnn_resnet50", ["model.net.backbone=resnet10", "model.net.fpn_channels=32"]
    )
    net, meta = load_network(ckpt)
    with pytest.raises(UnsupportedDetector, match="FasterRCNN.*'fcos', 'retinanet'"):
        get_family("detector").for_checkpoint(net, meta)


def test_input_size_runs_the_network_at_another_size(tiny_detector_checkpoint):
    """`export.input_size`: the exported graph and the eager model both run at the new size
    (the eager model's own resize is the identity there), the card keeps the training size."""
    net, meta = load_network(tiny_detector_checkpoint())
    assert meta["input"]["image_size"] == [96, 160]
    assert with_input_size(net, meta, None) is meta
    resized = with_input_size(net, meta, [128, 224])
    assert resized["input"]["image_size"] == [128, 224]
    assert resized["input"]["trained_image_size"] == [96, 160]
    assert meta["input"]["image_size"] == [96, 160]  # the checkpoint's meta is not modified
    family = get_family("detector").for_checkpoint(net, resized)
    assert family.input_card(resized)["trained_image_size"] == [96, 160]
    exported = DetectorExport(net, [128, 224]).eval()
    images = torch.rand(2, 3, 128, 224, generator=torch.Generator().manual_seed(0))
    reference = eager_detections(net, images, net.detections_per_img)
    with torch.no_grad():
        raw = exported(images)
    for ref, out in zip(reference, raw, strict=True):
        ref = ref[~np.isnan(ref[:, 4])]
        boxes, scores, _ = exported.post(out)
        assert len(ref) > 0 and len(boxes) == len(ref)
        np.testing.assert_allclose(np.sort(scores), np.sort(ref[:, 4]), atol=1e-4)
    assert boxes[:, [2]].max() > 160  # boxes span the larger input, not the training size


@pytest.mark.slow
def test_export_at_another_input_size_passes_parity(make_cfg, tiny_detector_checkpoint):
    out = _export(
        make_cfg, tiny_detector_checkpoint(), "export.formats=[onnx]", "export.input_size=[128,224]"
    )
    card = load_bundle(out / "bundles" / "onnx").card
    assert card["input"]["image_size"] == [128, 224]
    assert card["input"]["trained_image_size"] == [96, 160]
    assert card["parity"]["ok"] and card["parity"]["num_boxes"] > 0


@pytest.mark.parametrize("size", [[100, 224], [128], [0, 224]])
def test_input_size_must_be_multiples_of_32(tiny_detector_checkpoint, size):
    net, meta = load_network(tiny_detector_checkpoint())
    with pytest.raises(UserError, match="multiples of 32"):
        with_input_size(net, meta, size)


def test_input_size_is_refused_for_other_families():
    with pytest.raises(UserError, match="detectors only"):
        with_input_size(torch.nn.Identity(), {"family": "classifier", "input": {}}, [64, 64])
