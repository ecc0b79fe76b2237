"""What an exported person detector computes, the post-processing it needs, and its parity check.

torchvision's detectors cannot be exported whole: their ``forward`` resizes a list of images of any
size, generates anchors for it, and post-processes with data-dependent control flow. The detector
export family exports `DetectorExport` instead, for the **fixed input size** the detector was
trained at (``meta["input"]["image_size"]``; frames are letterboxed to it, as the evaluation data
pipeline does), so the anchors are constants:

    images (B, 3, H, W) float32 RGB in [0, 1]
        -> normalisation (the model's ``image_mean`` / ``image_std``) -> backbone + FPN -> head
        -> ``detections`` (B, L, 4 + C): decoded xyxy boxes in input pixels, clipped to the image,
           and per-class scores (RetinaNet: sigmoid(cls); FCOS: sqrt(sigmoid(cls) *
           sigmoid(centerness)), as torchvision scores them),

for L anchors (locations x anchors per location, level by level) and C classes (torchvision's
labels, background included: index 0 is scored like any class, as torchvision does). The rest of
torchvision's post-processing (score threshold, top-k per level, class-wise NMS, detections per
image) is `PostProcess`, shared by the runtime (`vidlab.detection.Detector`) and the parity check
(`detection_parity`), and described on the bundle card.

Exportable architectures: FCOS and RetinaNet (`EXPORTABLE`). Faster R-CNN (a second stage over
data-dependent proposals) and SSD (softmax scores, per-class top-k) are refused with a clear
message (`UnsupportedDetector`).

The input size can differ from the training size (`with_input_size`, ``export.input_size``): the
networks are fully convolutional, so a larger input shows a camera's people at the size the
training frames showed them (e.g. 960 x 540 frames at 384 x 640 have the 2/3 letterbox scale of
the 480 x 270 ``synthetic_det`` frames at 192 x 320) at the cost of more pixels per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import FCOS, RetinaNet
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import batched_nms

from vidlab.checkpoint import DETECTOR, family_of
from vidlab.errors import UserError

log = logging.getLogger(__name__)

#: Architectures the detector export family writes (torchvision class -> card name).
EXPORTABLE = {FCOS: "fcos", RetinaNet: "retinanet"}
#: fp32 parity: matched boxes within this many input pixels, scores within `SCORE_ATOL`.
BOX_ATOL = 1e-3
SCORE_ATOL = 1e-4
#: int8 parity: boxes of eager and artifact matched at IoU >= `MATCH_IOU` with the same label,
#: F1 of the matching at least `MIN_BOX_AGREEMENT`.
MATCH_IOU = 0.5
MIN_BOX_AGREEMENT = 0.9


#: Input sides must be multiples of this (the coarsest FPN level's stride of the exported heads).
SIZE_MULTIPLE = 32


def with_input_size(
    model: nn.Module, meta: dict[str, Any], size: Sequence[int] | None
) -> dict[str, Any]:
    """Run a detector checkpoint's network at input ``size`` = (H, W) instead of its training
    size: its meta with the new ``input.image_size`` (the training size kept as
    ``input.trained_image_size``), and `model`'s own resize set to the identity at that size (in
    place), so the eager model and the exported one compute the same. None: both unchanged.

    Raises:
        UserError: not a detector, or a size that is not two positive multiples of 32.
    """
    if size is None:
        return meta
    family = family_of(meta)
    if family != DETECTOR:
        raise UserError(
            f"export.input_size applies to detectors only, this checkpoint is a {family}"
        )
    if len(size) != 2 or any(int(v) != v or v <= 0 or v % SIZE_MULTIPLE for v in size):
        raise UserError(
            f"export.input_size={list(size)}: expected [H, W], positive multiples of {SIZE_MULTIPLE}"
        )
    h, w = int(size[0]), int(size[1])
    model.transform.min_size, model.transform.max_size = (min(h, w),), max(h, w)
    trained = [int(v) for v in meta["input"]["image_size"]]
    new_input = {**meta["input"], "image_size": [h, w]}
    new_input.setdefault("trained_image_size", trained)
    return {**meta, "input": new_input}


class UnsupportedDetector(UserError):
    """A detector architecture the export family cannot write."""


def architecture(model: nn.Module) -> str:
    """The card name of `model`'s architecture (``fcos`` or ``retinanet``).

    Raises:
        UnsupportedDetector: any other architecture (the message says which ones export).
    """
    for cls, name in EXPORTABLE.items():
        if isinstance(model, cls):
            return name
    raise UnsupportedDetector(
        f"cannot export a {type(model).__name__} detector: the detector export family writes "
        f"{sorted(EXPORTABLE.values())} (single-stage heads with constant anchors at a fixed "
        "input size); train model=det_fcos_* or model=det_retinanet_* to get a deployable bundle"
    )


# ------------------------------------------------------------------------------- post-processing


@dataclass(frozen=True)
class PostProcess:
    """torchvision's single-stage post-processing on `DetectorExport` outputs.

    Attributes:
        level_sizes: rows of L per FPN level (anchors of the level), in output order.
        num_classes: C, background included.
        score_thresh: candidates need a score above this.
        nms_thresh: IoU above which class-wise NMS suppresses the lower-scoring box.
        topk_candidates: best-scoring (anchor, class) candidates kept per level before NMS.
        detections_per_img: boxes kept per image after NMS (best first).
    """

    level_sizes: tuple[int, ...]
    num_classes: int
    score_thresh: float
    nms_thresh: float
    topk_candidates: int
    detections_per_img: int

    @classmethod
    def from_card(cls, section: dict[str, Any]) -> PostProcess:
        """From a card's ``postprocessing`` section (`as_card`)."""
        return cls(
            tuple(int(n) for n in section["level_sizes"]),
            int(section["num_classes"]),
            float(section["score_thresh"]),
            float(section["nms_thresh"]),
            int(section["topk_candidates"]),
            int(section["detections_per_img"]),
        )

    def as_card(self) -> dict[str, Any]:
        return {**asdict(self), "level_sizes": list(self.level_sizes)}

    @property
    def num_anchors(self) -> int:
        return sum(self.level_sizes)

    def __call__(
        self, output: np.ndarray | torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One image's (L, 4 + C) output -> boxes (N, 4) xyxy, scores (N,), labels (N,) int64,
        best first, as torchvision's ``postprocess_detections`` keeps them."""
        out = torch.as_tensor(output, dtype=torch.float32)
        if out.shape != (self.num_anchors, 4 + self.num_classes):
            raise ValueError(
                f"detector output of shape {tuple(out.shape)}, expected "
                f"({self.num_anchors}, {4 + self.num_classes})"
            )
        boxes, scores, labels = [], [], []
        for level in out.split(list(self.level_sizes)):
            flat = level[:, 4:].flatten()  # (anchor, class) row-major, as torchvision flattens
            keep = torch.where(flat > self.score_thresh)[0]
            top, order = flat[keep].topk(min(self.topk_candidates, len(keep)))
            keep = keep[order]
            boxes.append(level[torch.div(keep, self.num_classes, rounding_mode="floor"), :4])
            scores.append(top)
            labels.append(keep % self.num_classes)
        all_boxes, all_scores, all_labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        kept = batched_nms(all_boxes, all_scores, all_labels, self.nms_thresh)
        kept = kept[: self.detections_per_img]
        return all_boxes[kept].numpy(), all_scores[kept].numpy(), all_labels[kept].numpy()


# ------------------------------------------------------------------------------------- wrapper


class DetectorExport(nn.Module):
    """Normalisation + backbone + head + box decoding of a torchvision FCOS / RetinaNet at a fixed
    input size (see the module docstring); ``forward`` maps (B, 3, H, W) -> (B, L, 4 + C)."""

    def __init__(self, model: nn.Module, image_size: Sequence[int]) -> None:
        super().__init__()
        self.arch = architecture(model)
        self.model = model.eval()
        self.height, self.width = int(image_size[0]), int(image_size[1])
        transform = model.transform
        self.register_buffer("mean", torch.tensor(transform.image_mean).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(transform.image_std).view(3, 1, 1))
        with torch.no_grad():
            dummy = torch.zeros(1, 3, self.height, self.width)
            features = list(model.backbone(dummy).values())
            images = ImageList(dummy, [(self.height, self.width)])
            anchors = model.anchor_generator(images, features)[0]  # (L, 4), level by level
        locations = [f.shape[-2] * f.shape[-1] for f in features]
        per_location = len(anchors) // sum(locations)
        self.register_buffer("anchors", anchors)
        self.post = PostProcess(
            tuple(n * per_location for n in locations),
            int(model.head.classification_head.num_classes),
            float(model.score_thresh),
            float(model.nms_thresh),
            int(model.topk_candidates),
            int(model.detections_per_img),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std
        head = self.model.head(list(self.model.backbone(x).values()))
        logits = head["cls_logits"]  # (B, L, C)
        if self.arch == "fcos":
            scores = torch.sqrt(torch.sigmoid(logits) * torch.sigmoid(head["bbox_ctrness"]))
            boxes = self.model.box_coder.decode(head["bbox_regression"], self.anchors)
        else:
            scores = torch.sigmoid(logits)
            codes = head["bbox_regression"]  # (B, L, 4)
            anchors = self.anchors.expand(codes.shape[0], -1, -1)
            boxes = self.model.box_coder.decode_single(codes.reshape(-1, 4), anchors.reshape(-1, 4))
            boxes = boxes.reshape(codes.shape)
        limits = torch.tensor([self.width, self.height, self.width, self.height], dtype=boxes.dtype)
        boxes = torch.minimum(boxes.clamp(min=0), limits)  # torchvision's clip_boxes_to_image
        return torch.cat([boxes, scores], dim=-1)  # (B, L, 4 + C)


# --------------------------------------------------------------------------------------- parity


def eager_detections(model: nn.Module, images: torch.Tensor, max_boxes: int) -> np.ndarray:
    """The torchvision model's own eval outputs, packed: (N, max_boxes, 6) rows of x1, y1, x2, y2,
    score, label, best first, NaN-padded."""
    packed = np.full((len(images), max_boxes, 6), np.nan, np.float32)
    with torch.inference_mode():
        for start in range(0, len(images), 8):
            for i, det in enumerate(model.eval()(list(images[start : start + 8])), start=start):
                n = len(det["boxes"])
                packed[i, :n, :4] = det["boxes"].numpy()
                packed[i, :n, 4] = det["scores"].numpy()
                packed[i, :n, 5] = det["labels"].numpy()
    return packed


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


@dataclass(frozen=True)
class DetectionParity:
    """Eager torchvision detections vs an artifact's, after threshold and NMS.

    fp32: every image keeps the same number of boxes, matched one to one (same label, closest
    corners) within `box_atol` px and `score_atol`. int8 (`quantized`): boxes matched at IoU >=
    `MATCH_IOU` with the same label, F1 of the matching >= `min_agreement`.

    Attributes:
        max_abs_diff: largest corner difference of matched boxes (px; inf where counts differ).
        max_score_diff: largest score difference of matched boxes.
        box_agreement: F1 of the IoU matching over all images.
        count_mismatches: images whose number of kept boxes differs.
        num_boxes: eager boxes over all images.
    """

    max_abs_diff: float
    max_score_diff: float
    box_agreement: float
    count_mismatches: int
    num_boxes: int
    num_samples: int
    quantized: bool
    box_atol: float = BOX_ATOL
    score_atol: float = SCORE_ATOL
    min_agreement: float = MIN_BOX_AGREEMENT

    @property
    def ok(self) -> bool:
        if self.quantized:
            return self.box_agreement >= self.min_agreement
        return (
            self.count_mismatches == 0
            and self.max_abs_diff <= self.box_atol
            and self.max_score_diff <= self.score_atol
        )

    def describe(self) -> str:
        if self.quantized:
            return (
                f"box agreement {self.box_agreement:.4f} (>= {self.min_agreement}) over "
                f"{self.num_boxes} eager boxes in {self.num_samples} images"
            )
        return (
            f"{self.num_boxes} boxes in {self.num_samples} images, {self.count_mismatches} "
            f"images with another box count, max box diff {self.max_abs_diff:.2e} px (<= "
            f"{self.box_atol}), max score diff {self.max_score_diff:.2e} (<= "
            f"{self.score_atol})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def detection_parity(
    reference: np.ndarray,
    outputs: np.ndarray,
    post: PostProcess,
    *,
    quantized: bool = False,
    box_atol: float = BOX_ATOL,
    score_atol: float = SCORE_ATOL,
    min_agreement: float = MIN_BOX_AGREEMENT,
) -> DetectionParity:
    """Compare `eager_detections` (N, D, 6) with an artifact's raw outputs (N, L, 4 + C) run
    through `post` (see `DetectionParity`)."""
    from scipy.optimize import linear_sum_assignment

    box_diff = score_diff = 0.0
    mismatches = matched = num_ref = num_out = 0
    for ref, out in zip(reference, outputs, strict=True):
        ref = ref[~np.isnan(ref[:, 4])]
        boxes, scores, labels = post(out)
        num_ref, num_out = num_ref + len(ref), num_out + len(boxes)
        same = ref[:, 5, None] == labels[None, :]
        iou = np.where(same, _iou(ref[:, :4], boxes), 0.0)
        rows, cols = linear_sum_assignment(-iou)
        matched += int(np.sum(iou[rows, cols] >= MATCH_IOU))
        if len(ref) != len(boxes):
            mismatches += 1
            continue
        corner = np.abs(ref[:, None, :4] - boxes[None, :, :]).max(axis=2)
        corner = np.where(same, corner, np.inf)
        rows, cols = linear_sum_assignment(np.minimum(corner, 1e9))
        if len(rows):
            box_diff = max(box_diff, float(corner[rows, cols].max()))
            score_diff = max(score_diff, float(np.abs(ref[rows, 4] - scores[cols]).max()))
    agreement = 2 * matched / max(num_ref + num_out, 1)
    return DetectionParity(
        float("inf") if mismatches else box_diff,
        score_diff,
        agreement,
        mismatches,
        num_ref,
        len(reference),
        quantized,
        box_atol,
        score_atol,
        min_agreement,
    )
