"""Person detectors built from torchvision's detection architectures.

- FCOS (Tian et al., ICCV 2019, https://arxiv.org/abs/1904.01355): anchor-free, one box per
  feature-map location, centerness.
- RetinaNet (Lin et al., ICCV 2017, https://arxiv.org/abs/1708.02002): anchors and focal loss.
- Faster R-CNN (Ren et al., NeurIPS 2015, https://arxiv.org/abs/1506.01497) with an FPN (Lin et
  al., CVPR 2017): two-stage.
- SSDlite (Sandler et al., CVPR 2018, https://arxiv.org/abs/1801.04381) on MobileNetV3 (Howard et
  al., ICCV 2019).

The heads, losses, box coding and post-processing are torchvision's; this module chooses the
backbone (ResNet-10/18/34/50/101 or MobileNetV3 with an FPN of any width and any set of levels), sizes
anchors for people, and loads weights. Every model takes a list of (3, H, W) RGB tensors in [0, 1]
(normalisation is inside, ``image_mean`` / ``image_std``), returns losses in training mode and
``[{"boxes": (N, 4) xyxy, "scores": (N,), "labels": (N,)}]`` in eval mode. ``image_size`` (H, W) is
the input the data pipeline letterboxes to; the internal resize is then the identity.

Classes follow COCO's indices: 0 is background, 1 is person (`PERSON_LABEL`), so ``num_classes=2``.
``weights=<file>`` loads a torchvision COCO checkpoint (91 classes) from a local file: the
classification layers keep their background and person rows (``keep_classes``), every other tensor
is loaded as is, and missing / unexpected / remapped keys are logged and kept in
``model.weights_report``. ``pretrained=<file>`` loads ImageNet weights into the backbone only.
Nothing is downloaded: torchvision is always called with ``weights=None``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.ssdlite import SSDLiteHead
from torchvision.models.detection.ssdlite import _mobilenet_extractor as _ssdlite_extractor
from torchvision.models.resnet import BasicBlock, ResNet
from torchvision.ops import misc as misc_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

log = logging.getLogger(__name__)

PERSON_LABEL = 1
COCO_NUM_CLASSES = 91
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: ResNets by name; ``resnet10`` is ResNet-18 with one basic block per stage instead of two (half
#: the compute: the CPU-sized default).
RESNETS = ("resnet10", "resnet18", "resnet34", "resnet50", "resnet101")
MOBILENETS = ("mobilenet_v3_small", "mobilenet_v3_large")
#: Aspect ratios (height / width) of the anchors of anchor-based heads: upright people.
PERSON_ASPECTS = (1.0, 2.0, 3.0)


# ---------------------------------------------------------------------------------------- backbone


def _load_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
    return state


def _backbone_with_fpn(
    name: str,
    *,
    returned_layers: Sequence[int],
    fpn_channels: int,
    extra: str | None,
    trainable_layers: int,
    frozen_bn: bool,
    pretrained: str | None,
) -> BackboneWithFPN:
    """A ResNet or MobileNetV3 trunk with an FPN over `returned_layers` (ResNet: 1-4 = C2-C5;
    MobileNetV3: indices of its strided stages) and optional extra levels (``"p6p7"``, ``"pool"``)."""
    norm = misc_ops.FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
    if name in RESNETS:
        if name == "resnet10":
            trunk = ResNet(BasicBlock, [1, 1, 1, 1], norm_layer=norm)
        else:
            trunk = getattr(torchvision.models, name)(weights=None, norm_layer=norm)
        if pretrained:
            _report("backbone", trunk.load_state_dict(_load_file(pretrained), strict=False))
        stages = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
        if trainable_layers == 5:
            stages.append("bn1")
        for pname, param in trunk.named_parameters():
            if all(not pname.startswith(s) for s in stages):
                param.requires_grad_(False)
        expansion = 4 if name in ("resnet50", "resnet101") else 1
        in_channels = [64 * expansion * 2 ** (k - 1) for k in returned_layers]
        return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
        body = trunk
    elif name in MOBILENETS:
        trunk = getattr(torchvision.models, name)(weights=None, norm_layer=norm)
        if pretrained:
            _report("backbone", trunk.load_state_dict(_load_file(pretrained), strict=False))
        body = trunk.features
        stage_idx = (
            [0] + [i for i, b in enumerate(body) if getattr(b, "_is_cn", False)] + [len(body) - 1]
        )
        freeze_before = (
            stage_idx[len(stage_idx) - trainable_layers] if trainable_layers else len(body)
        )
        for block in body[:freeze_before]:
            block.requires_grad_(False)
        in_channels = [body[stage_idx[k]].out_channels for k in returned_layers]
        return_layers = {str(stage_idx[k]): str(v) for v, k in enumerate(returned_layers)}
    else:
        raise ValueError(
            f"unknown detection backbone {name!r}; expected one of {RESNETS + MOBILENETS}"
        )
    blocks = {
        "p6p7": LastLevelP6P7(fpn_channels, fpn_channels),
        "pool": LastLevelMaxPool(),
        None: None,
    }
    if extra not in blocks:
        raise ValueError(f"extra={extra!r}, expected 'p6p7', 'pool' or null")
    return BackboneWithFPN(
        body, return_layers, in_channels, fpn_channels, extra_blocks=blocks[extra]
    )


def _level_strides(backbone: BackboneWithFPN, image_size: Sequence[int]) -> list[int]:
    """Stride of every FPN output level, measured on a dummy input of `image_size`."""
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        feats = backbone(torch.zeros(1, 3, *image_size))
    backbone.train(was_training)
    return [round(image_size[0] / f.shape[-2]) for f in feats.values()]


def _common(
    image_size: Sequence[int],
    image_mean: Sequence[float],
    image_std: Sequence[float],
    **kwargs: Any,
) -> dict[str, Any]:
    h, w = int(image_size[0]), int(image_size[1])
    return {
        "min_size": min(h, w),
        "max_size": max(h, w),
        "image_mean": list(image_mean),
        "image_std": list(image_std),
        **kwargs,
    }


# ---------------------------------------------------------------------------------------- builders


def create_fcos(
    *,
    backbone: str = "resnet50",
    num_classes: int = 2,
    image_size: Sequence[int] = (192, 320),
    returned_layers: Sequence[int] = (2, 3, 4),
    extra_levels: str | None = "p6p7",
    fpn_channels: int = 256,
    head_convs: int = 4,
    trainable_layers: int = 5,
    frozen_bn: bool = False,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.6,
    detections_per_img: int = 100,
    topk_candidates: int = 1000,
    center_sampling_radius: float = 1.5,
    image_mean: Sequence[float] = IMAGENET_MEAN,
    image_std: Sequence[float] = IMAGENET_STD,
    weights: str | None = None,
    pretrained: str | None = None,
    keep_classes: Sequence[int] = (0, PERSON_LABEL),
) -> FCOS:
    """FCOS on a ResNet/MobileNetV3 FPN; each level's anchor size is its stride (torchvision's
    FCOS regresses objects up to 8 strides at a level). See the module docstring for the rest."""
    body = _backbone_with_fpn(
        backbone,
        returned_layers=returned_layers,
        fpn_channels=fpn_channels,
        extra=extra_levels,
        trainable_layers=trainable_layers,
        frozen_bn=frozen_bn,
        pretrained=pretrained,
    )
    strides = _level_strides(body, image_size)
    anchors = AnchorGenerator(tuple((s,) for s in strides), ((1.0,),) * len(strides))
    model = FCOS(
        body,
        num_classes,
        anchor_generator=anchors,
        head=FCOSHead(fpn_channels, 1, num_classes, num_convs=head_convs),
        center_sampling_radius=center_sampling_radius,
        score_thresh=score_thresh,
        nms_thresh=nms_thresh,
        detections_per_img=detections_per_img,
        topk_candidates=topk_candidates,
        **_common(image_size, image_mean, image_std),
    )
    return _with_weights(model, num_classes, weights, keep_classes)


def create_retinanet(
    *,
    backbone: str = "resnet50",
    num_classes: int = 2,
    image_size: Sequence[int] = (192, 320),
    returned_layers: Sequence[int] = (2, 3, 4),
    extra_levels: str | None = "p6p7",
    fpn_channels: int = 256,
    anchor_scale: float = 4.0,
    anchor_aspects: Sequence[float] = PERSON_ASPECTS,
    trainable_layers: int = 5,
    frozen_bn: bool = False,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
    topk_candidates: int = 1000,
    image_mean: Sequence[float] = IMAGENET_MEAN,
    image_std: Sequence[float] = IMAGENET_STD,
    weights: str | None = None,
    pretrained: str | None = None,
    keep_classes: Sequence[int] = (0, PERSON_LABEL),
) -> RetinaNet:
    """RetinaNet on a ResNet/MobileNetV3 FPN; anchors of ``anchor_scale x stride x {1, 2^1/3,
    2^2/3}`` at heights/widths `anchor_aspects` per level (torchvision's COCO model: scale 4,
    aspects 0.5, 1, 2: pass those to load its weights)."""
    body = _backbone_with_fpn(
        backbone,
        returned_layers=returned_layers,
        fpn_channels=fpn_channels,
        extra=extra_levels,
        trainable_layers=trainable_layers,
        frozen_bn=frozen_bn,
        pretrained=pretrained,
    )
    strides = _level_strides(body, image_size)
    sizes = tuple(tuple(anchor_scale * s * 2 ** (k / 3) for k in range(3)) for s in strides)
    anchors = AnchorGenerator(sizes, (tuple(anchor_aspects),) * len(strides))
    head = RetinaNetHead(
        fpn_channels,
        anchors.num_anchors_per_location()[0],
        num_classes,
        norm_layer=partial(nn.GroupNorm, 32),
    )
    model = RetinaNet(
        body,
        num_classes,
        anchor_generator=anchors,
        head=head,
        score_thresh=score_thresh,
        nms_thresh=nms_thresh,
        detections_per_img=detections_per_img,
        topk_candidates=topk_candidates,
        **_common(image_size, image_mean, image_std),
    )
    return _with_weights(model, num_classes, weights, keep_classes)


def create_faster_rcnn(
    *,
    backbone: str = "resnet50",
    num_classes: int = 2,
    image_size: Sequence[int] = (192, 320),
    returned_layers: Sequence[int] = (1, 2, 3, 4),
    fpn_channels: int = 256,
    anchor_scale: float = 8.0,
    anchor_aspects: Sequence[float] = PERSON_ASPECTS,
    trainable_layers: int = 5,
    frozen_bn: bool = False,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
    image_mean: Sequence[float] = IMAGENET_MEAN,
    image_std: Sequence[float] = IMAGENET_STD,
    weights: str | None = None,
    pretrained: str | None = None,
    keep_classes: Sequence[int] = (0, PERSON_LABEL),
) -> FasterRCNN:
    """Faster R-CNN with an FPN (levels plus a max-pooled top level, as torchvision's); one RPN
    anchor size per level, ``anchor_scale x stride`` (torchvision's COCO model: 8 = 32 px at C2,
    aspects 0.5, 1, 2)."""
    body = _backbone_with_fpn(
        backbone,
        returned_layers=returned_layers,
        fpn_channels=fpn_channels,
        extra="pool",
        trainable_layers=trainable_layers,
        frozen_bn=frozen_bn,
        pretrained=pretrained,
    )
    strides = _level_strides(body, image_size)
    anchors = AnchorGenerator(
        tuple((anchor_scale * s,) for s in strides), (tuple(anchor_aspects),) * len(strides)
    )
    model = FasterRCNN(
        body,
        num_classes,
        rpn_anchor_generator=anchors,
        box_score_thresh=score_thresh,
        box_nms_thresh=nms_thresh,
        box_detections_per_img=detections_per_img,
        **_common(image_size, image_mean, image_std),
    )
    return _with_weights(model, num_classes, weights, keep_classes)


def create_ssdlite(
    *,
    num_classes: int = 2,
    image_size: Sequence[int] = (320, 320),
    width_mult: float = 1.0,
    reduced_tail: bool = True,
    trainable_layers: int = 6,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.55,
    detections_per_img: int = 100,
    topk_candidates: int = 300,
    weights: str | None = None,
    pretrained: str | None = None,
    keep_classes: Sequence[int] = (0, PERSON_LABEL),
) -> SSD:
    """SSDlite on MobileNetV3-Large, as torchvision's ``ssdlite320_mobilenet_v3_large`` but at any
    `image_size` (the input is resized to exactly that size inside) and `width_mult`; inputs are
    normalised to [-1, 1] as torchvision's. ``reduced_tail`` halves the last stage (the paper's
    choice without ImageNet weights; torchvision's COCO checkpoint used false)."""
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
    trunk = torchvision.models.mobilenet_v3_large(
        weights=None, norm_layer=norm, reduced_tail=reduced_tail, width_mult=width_mult
    )
    if pretrained:
        _report("backbone", trunk.load_state_dict(_load_file(pretrained), strict=False))
    size = (int(image_size[0]), int(image_size[1]))
    body = _ssdlite_extractor(trunk, trainable_layers, norm)
    anchors = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95)
    channels = det_utils.retrieve_out_channels(body, size)
    head = SSDLiteHead(channels, anchors.num_anchors_per_location(), num_classes, norm)
    model = SSD(
        body,
        anchors,
        size,
        num_classes,
        head=head,
        score_thresh=score_thresh,
        nms_thresh=nms_thresh,
        detections_per_img=detections_per_img,
        topk_candidates=topk_candidates,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    )
    return _with_weights(model, num_classes, weights, keep_classes)


# ---------------------------------------------------------------------------------------- weights


def _report(what: str, result: Any, remapped: list[str] | None = None) -> dict[str, list[str]]:
    report = {
        "missing": list(result.missing_keys),
        "unexpected": list(result.unexpected_keys),
        "remapped": list(remapped or []),
    }
    if report["missing"] or report["unexpected"]:
        log.warning(
            "%s weights: %d missing keys %s, %d unexpected keys %s",
            what,
            len(report["missing"]),
            report["missing"][:8],
            len(report["unexpected"]),
            report["unexpected"][:8],
        )
    if report["remapped"]:
        log.info("%s weights: class layers remapped to classes kept: %s", what, report["remapped"])
    return report


def remap_class_rows(
    name: str,
    source: torch.Tensor,
    target_shape: torch.Size,
    keep: Sequence[int],
    source_classes: int = COCO_NUM_CLASSES,
) -> torch.Tensor | None:
    """Rows of a classification tensor for the classes `keep`, or None if it is not one.

    Class scores are laid out ``(anchor, class)`` along dim 0 (RetinaNet, FCOS, SSD, Faster R-CNN's
    ``cls_score``); Faster R-CNN's ``bbox_pred`` is ``(class, 4)``.
    """
    rows, out_rows = source.shape[0], target_shape[0]
    if source.shape[1:] != target_shape[1:] or rows % source_classes or out_rows % len(keep):
        return None
    per_class = "bbox_pred" in name
    group = rows // source_classes  # anchors per location, or box deltas per class
    if out_rows // len(keep) != group:
        return None
    index = torch.as_tensor(list(keep))
    if per_class:  # (class, group)
        return source.reshape(source_classes, group, *source.shape[1:])[index].reshape(target_shape)
    return source.reshape(group, source_classes, *source.shape[1:])[:, index].reshape(target_shape)


def load_detection_weights(
    model: nn.Module, path: str | Path, keep_classes: Sequence[int] = (0, PERSON_LABEL)
) -> dict[str, list[str]]:
    """Load a torchvision detection checkpoint file into `model`, remapping the class layers to
    `keep_classes` of the checkpoint's classes; returns ``{"missing", "unexpected", "remapped",
    "skipped"}`` keys (skipped: tensors whose shape fits neither as is nor remapped)."""
    source = _load_file(path)
    target = model.state_dict()
    state, remapped, skipped = {}, [], []
    for key, value in source.items():
        if key not in target or target[key].shape == value.shape:
            state[key] = value
            continue
        rows = remap_class_rows(key, value, target[key].shape, keep_classes)
        if rows is None:
            skipped.append(f"{key} {tuple(value.shape)} -> {tuple(target[key].shape)}")
        else:
            state[key], remapped = rows, [*remapped, key]
    report = _report(f"{path}", model.load_state_dict(state, strict=False), remapped)
    # A weight that could not be placed is also missing from the model.
    report["skipped"] = skipped
    if skipped:
        log.warning(
            "%s: %d tensors of another shape not loaded: %s", path, len(skipped), skipped[:5]
        )
    return report


def _with_weights(
    model: nn.Module, num_classes: int, weights: str | None, keep: Sequence[int]
) -> nn.Module:
    model.num_classes = num_classes  # labels including background (the configs check it)
    model.weights_report = None
    if weights:
        model.weights_report = load_detection_weights(model, weights, keep)
    return model
