"""The detection builders: every architecture trains and predicts on tiny images, and COCO
checkpoints load from a local file with the person class kept and the head remapped."""

from __future__ import annotations

import pytest
import torch

from vidlab.models.detection import (
    COCO_NUM_CLASSES,
    PERSON_LABEL,
    create_faster_rcnn,
    create_fcos,
    create_retinanet,
    create_ssdlite,
    load_detection_weights,
)

SIZE = (64, 96)
TINY = {
    "fcos": (
        create_fcos,
        {
            "backbone": "resnet18",
            "fpn_channels": 32,
            "head_convs": 1,
            "extra_levels": None,
            "image_size": SIZE,
        },
    ),
    "fcos_mobilenet": (
        create_fcos,
        {
            "backbone": "mobilenet_v3_small",
            "returned_layers": [3, 4],
            "fpn_channels": 32,
            "head_convs": 1,
            "image_size": SIZE,
        },
    ),
    "retinanet": (
        create_retinanet,
        {
            "backbone": "resnet18",
            "fpn_channels": 32,
            "extra_levels": None,
            "anchor_scale": 2.0,
            "image_size": SIZE,
        },
    ),
    "faster_rcnn": (
        create_faster_rcnn,
        {"backbone": "resnet18", "fpn_channels": 32, "anchor_scale": 2.0, "image_size": SIZE},
    ),
    "ssdlite": (create_ssdlite, {"image_size": (96, 96), "width_mult": 0.25}),
}


def _batch():
    images = [torch.rand(3, *SIZE), torch.rand(3, *SIZE)]
    targets = [
        {"boxes": torch.tensor([[10.0, 8.0, 30.0, 60.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
    ]
    return images, targets


@pytest.mark.parametrize("name", list(TINY))
def test_builder_trains_and_predicts(name):
    torch.manual_seed(0)
    build, kwargs = TINY[name]
    model = build(num_classes=2, **kwargs)
    assert model.num_classes == 2 and model.weights_report is None
    images, targets = _batch()
    model.train()
    losses = model(images, targets)
    loss = sum(losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    with torch.no_grad():
        out = model(images)
    assert len(out) == 2
    for pred in out:
        assert pred["boxes"].shape[1] == 4 and len(pred["scores"]) == len(pred["labels"])
        if len(pred["boxes"]):  # boxes in input pixels
            assert pred["boxes"][:, 2:].max() <= max(SIZE) + 1e-3


def _coco_file(tmp_path, build, kwargs, extra_key=False):
    torch.manual_seed(1)
    coco = build(num_classes=COCO_NUM_CLASSES, **kwargs)
    state = coco.state_dict()
    if extra_key:
        state["not_a_layer.weight"] = torch.zeros(3)
    path = tmp_path / "coco.pth"
    torch.save(state, path)
    return coco, path


@pytest.mark.parametrize("name", ["fcos", "retinanet", "faster_rcnn", "ssdlite"])
def test_coco_weights_keep_the_person_class(tmp_path, name):
    build, kwargs = TINY[name]
    coco, path = _coco_file(tmp_path, build, kwargs)
    model = build(num_classes=2, weights=str(path), **kwargs)
    report = model.weights_report
    assert report["missing"] == [] and report["unexpected"] == [] and report["skipped"] == []
    assert report["remapped"], "the class layers must be remapped"
    ours, theirs = model.state_dict(), coco.state_dict()
    for key in ours:
        if key not in report["remapped"]:
            assert torch.equal(ours[key], theirs[key]), key
    # The same image scored by both: person scores agree (class layers kept row for row).
    model.eval()
    coco.eval()
    images = [torch.rand(3, *(kwargs["image_size"]))]
    with torch.no_grad():
        if name == "faster_rcnn":
            feats = model.backbone(model.transform(images)[0].tensors)
            pooled = model.roi_heads.box_head(
                torch.cat([v.mean((2, 3)) for v in feats.values()])[:, :32, None, None].expand(
                    -1, -1, 7, 7
                )
            )
            a = model.roi_heads.box_predictor(pooled)
            b = coco.roi_heads.box_predictor(pooled)
            assert torch.allclose(a[0], b[0][:, [0, PERSON_LABEL]])
            assert torch.allclose(
                a[1],
                b[1].reshape(len(pooled), -1, 4)[:, [0, PERSON_LABEL]].reshape(len(pooled), -1),
            )
        else:
            feats = list(model.backbone(model.transform(images)[0].tensors).values())
            head = model.head.classification_head
            a = head(feats)
            b = coco.head.classification_head(feats)
            assert torch.allclose(
                a,
                b.reshape(*b.shape[:2], COCO_NUM_CLASSES)[..., [0, PERSON_LABEL]].reshape(a.shape),
                atol=1e-6,
            )


def test_weights_report_missing_and_unexpected_keys(tmp_path, caplog):
    build, kwargs = TINY["fcos"]
    coco, path = _coco_file(tmp_path, build, kwargs, extra_key=True)
    state = torch.load(path, weights_only=True)
    del state["head.regression_head.bbox_ctrness.bias"]
    torch.save(state, path)
    model = build(num_classes=2, **kwargs)
    with caplog.at_level("WARNING"):
        report = load_detection_weights(model, path)
    assert report["unexpected"] == ["not_a_layer.weight"]
    assert report["missing"] == ["head.regression_head.bbox_ctrness.bias"]
    assert "not_a_layer.weight" in caplog.text and "bbox_ctrness" in caplog.text


def test_weights_file_errors(tmp_path):
    build, kwargs = TINY["fcos"]
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        build(weights=str(tmp_path / "nowhere.pth"), **kwargs)
    with pytest.raises(ValueError, match="unknown detection backbone 'vgg'"):
        create_fcos(backbone="vgg", image_size=SIZE)
