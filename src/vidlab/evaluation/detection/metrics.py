"""COCO box AP (mAP@[.5:.95], AP50, AP75, AR100) of person detections, ignore regions honoured.

Scoring is torchmetrics' `MeanAveragePrecision` on the pycocotools backend, i.e. COCO's own
``COCOeval`` (the summary numbers are taken in float64 from its accumulated arrays, `summarise`). Ignore regions are passed as ground truth with ``iscrowd=1``, which is COCO's
semantics for them: a detection that matches no real box but overlaps an ignore region with
intersection-over-detection-area >= the IoU threshold (at every threshold of 0.50:0.95) is neither
a true nor a false positive, several detections may fall in one region, and ignore regions are
never counted as misses. Only person predictions (``labels == person_label``) are scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

#: COCO's 101 recall thresholds (the x axis of `DetectionResult.precision_curves`).
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
#: Index of an IoU threshold in COCO's 0.50:0.05:0.95.
IOU_INDEX = {"AP50": 0, "AP75": 5}


def build_map_metric(backend: str = "pycocotools") -> Any:
    """A fresh `MeanAveragePrecision` (xyxy boxes, 1/10/100 detections, PR curves kept)."""
    from torchmetrics.detection import MeanAveragePrecision

    return MeanAveragePrecision(
        box_format="xyxy",
        iou_type="bbox",
        extended_summary=True,
        backend=backend,
        max_detection_thresholds=[1, 10, 100],
    )


def to_map_inputs(
    preds: list[dict[str, torch.Tensor]],
    targets: list[dict[str, torch.Tensor]],
    person_label: int = 1,
) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    """Predictions and targets as `MeanAveragePrecision` wants them.

    Args:
        preds: per image ``{"boxes": (D, 4) xyxy, "scores": (D,), "labels": (D,)}``.
        targets: per image ``{"boxes": (N, 4) xyxy, "ignore": (M, 4) xyxy (optional)}``.
        person_label: the label scored.

    Returns:
        ``(preds, targets)``: person predictions only; targets with the ignore regions appended
        as ``iscrowd=1`` boxes.
    """
    out_preds, out_targets = [], []
    for pred, target in zip(preds, targets, strict=True):
        keep = pred["labels"] == person_label
        out_preds.append(
            {
                "boxes": pred["boxes"][keep].detach().float().cpu().reshape(-1, 4),
                "scores": pred["scores"][keep].detach().float().cpu(),
                "labels": torch.zeros(int(keep.sum()), dtype=torch.int64),
            }
        )
        boxes = target["boxes"].detach().float().cpu().reshape(-1, 4)
        ignore = target.get("ignore", torch.zeros(0, 4)).detach().float().cpu().reshape(-1, 4)
        n, m = len(boxes), len(ignore)
        out_targets.append(
            {
                "boxes": torch.cat([boxes, ignore]),
                "labels": torch.zeros(n + m, dtype=torch.int64),
                "iscrowd": torch.cat(
                    [torch.zeros(n, dtype=torch.int64), torch.ones(m, dtype=torch.int64)]
                ),
            }
        )
    return out_preds, out_targets


@dataclass(frozen=True)
class DetectionResult:
    """COCO summary numbers and the precision-recall curves (area ``all``, 100 detections).

    Attributes:
        mAP: AP averaged over IoU 0.50:0.05:0.95.
        AP50: AP at IoU 0.5.
        AP75: AP at IoU 0.75.
        AR100: recall with at most 100 detections per image, averaged over IoU thresholds.
        precision_curves: ``{"AP50": (101,), "AP75": (101,)}`` precision at `RECALL_THRESHOLDS`
            (NaN where that recall is never reached).
    """

    mAP: float
    AP50: float
    AP75: float
    AR100: float
    precision_curves: dict[str, np.ndarray] = field(default_factory=dict)

    def as_dict(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}/{k}": getattr(self, k) for k in ("mAP", "AP50", "AP75", "AR100")}


def _coco_mean(values: np.ndarray) -> float:
    """COCOeval.summarize's mean: over the defined (> -1) entries; NaN when there is none."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else float("nan")


def summarise(computed: dict[str, Any]) -> DetectionResult:
    """The `DetectionResult` of ``MeanAveragePrecision.compute()``'s output.

    The four numbers are recomputed in float64 from COCOeval's accumulated ``precision`` (T, R, K,
    A, M) and ``recall`` (T, K, A, M) arrays with ``COCOeval.summarize``'s formulas (area ``all``,
    100 detections), as torchmetrics rounds its scalars to float32. COCO's "undefined" (-1, e.g. no
    ground truth at all) becomes NaN.
    """
    precision, recall = computed.get("precision"), computed.get("recall")
    if not (isinstance(precision, torch.Tensor) and precision.ndim == 5):

        def scalar(key: str) -> float:
            v = float(computed[key])
            return float("nan") if v < 0 else v

        return DetectionResult(
            mAP=scalar("map"), AP50=scalar("map_50"), AP75=scalar("map_75"), AR100=scalar("mar_100")
        )
    prec = precision.double().cpu().numpy()[..., 0, -1]  # (T, R, K): area all, 100 detections
    rec = recall.double().cpu().numpy()[..., 0, -1]  # (T, K)
    curves = {}
    for name, t in IOU_INDEX.items():
        curve = prec[t, :, 0]  # (R,) of the (single) person class
        curves[name] = np.where(curve < 0, np.nan, curve)
    return DetectionResult(
        mAP=_coco_mean(prec),
        AP50=_coco_mean(prec[IOU_INDEX["AP50"]]),
        AP75=_coco_mean(prec[IOU_INDEX["AP75"]]),
        AR100=_coco_mean(rec),
        precision_curves=curves,
    )
