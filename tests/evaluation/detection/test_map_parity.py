"""Our detection mAP (torchmetrics + ignore regions as iscrowd) against pycocotools' COCOeval, and
hand-made cases of what an ignore region does."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from vidlab.evaluation.detection import build_map_metric, summarise, to_map_inputs
from vidlab.evaluation.detection.plots import save_pr_curve_png


def _scene(rng: np.random.Generator, n_images: int = 12):
    """Random ground truth, ignore regions and noisy predictions on a 1/8-pixel grid (exact in
    float32, so both paths see the very same numbers)."""
    preds, targets = [], []
    for _ in range(n_images):
        n, m = int(rng.integers(0, 6)), int(rng.integers(0, 3))
        xy = rng.integers(0, 400, (n + m, 2)) / 8.0
        wh = rng.integers(40, 300, (n + m, 2)) / 8.0
        boxes = np.concatenate([xy, xy + wh], 1)
        gt, ignore = boxes[:n], boxes[n:]
        keep = rng.random(n) > 0.2
        jitter = rng.integers(-24, 25, (n, 4)) / 8.0
        found = (gt + jitter)[keep]
        found[:, 2:] = np.maximum(found[:, 2:], found[:, :2] + 1)
        fps = int(rng.integers(0, 4))
        fp_xy = rng.integers(0, 400, (fps, 2)) / 8.0
        fp = np.concatenate([fp_xy, fp_xy + rng.integers(40, 200, (fps, 2)) / 8.0], 1)
        in_ignore = ignore[: int(rng.integers(0, len(ignore) + 1))] + 0.5  # inside ignore regions
        det = np.concatenate([found, fp, in_ignore]).reshape(-1, 4)
        scores = rng.integers(1, 1000, len(det)) / 1024.0
        labels = np.where(rng.random(len(det)) < 0.9, 1, 0)  # a few non-person predictions
        preds.append(
            {
                "boxes": torch.tensor(det, dtype=torch.float32),
                "scores": torch.tensor(scores, dtype=torch.float32),
                "labels": torch.tensor(labels),
            }
        )
        targets.append(
            {
                "boxes": torch.tensor(gt, dtype=torch.float32).reshape(-1, 4),
                "labels": torch.ones(n, dtype=torch.int64),
                "ignore": torch.tensor(ignore, dtype=torch.float32).reshape(-1, 4),
            }
        )
    return preds, targets


def _ours(preds, targets):
    metric = build_map_metric()
    metric.update(*to_map_inputs(preds, targets))
    return summarise(metric.compute())


def _cocoeval(preds, targets) -> np.ndarray:
    """COCOeval stats computed straight from the same boxes (person predictions only)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for image_id, (pred, target) in enumerate(zip(preds, targets, strict=True), start=1):
        images.append({"id": image_id})
        for crowd, boxes in ((0, target["boxes"]), (1, target["ignore"])):
            for x1, y1, x2, y2 in boxes.double().tolist():
                anns.append(
                    {
                        "id": len(anns) + 1,
                        "image_id": image_id,
                        "category_id": 1,
                        "bbox": [x1, y1, x2 - x1, y2 - y1],
                        "area": (x2 - x1) * (y2 - y1),
                        "iscrowd": crowd,
                    }
                )
        for (x1, y1, x2, y2), score, label in zip(
            pred["boxes"].double().tolist(),
            pred["scores"].double().tolist(),
            pred["labels"].tolist(),
            strict=True,
        ):
            if label == 1:
                dets.append(
                    {
                        "image_id": image_id,
                        "category_id": 1,
                        "score": score,
                        "bbox": [x1, y1, x2 - x1, y2 - y1],
                        "area": (x2 - x1) * (y2 - y1),
                    }
                )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "p"}]}
        gt.createIndex()
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_equals_pycocotools_cocoeval(seed):
    preds, targets = _scene(np.random.default_rng(seed))
    ours = _ours(preds, targets)
    stats = _cocoeval(preds, targets)
    assert 0.05 < stats[0] < 0.95  # a non-trivial case
    assert ours.mAP == pytest.approx(stats[0], abs=1e-9)
    assert ours.AP50 == pytest.approx(stats[1], abs=1e-9)
    assert ours.AP75 == pytest.approx(stats[2], abs=1e-9)
    assert ours.AR100 == pytest.approx(stats[8], abs=1e-9)


def _one(pred_boxes, scores, gt, ignore):
    pred = {
        "boxes": torch.tensor(pred_boxes, dtype=torch.float32).reshape(-1, 4),
        "scores": torch.tensor(scores, dtype=torch.float32),
        "labels": torch.ones(len(scores), dtype=torch.int64),
    }
    target = {
        "boxes": torch.tensor(gt, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.ones(len(gt), dtype=torch.int64),
        "ignore": torch.tensor(ignore, dtype=torch.float32).reshape(-1, 4),
    }
    return _ours([pred], [target])


def test_detections_in_an_ignore_region_are_not_false_positives():
    gt = [[0, 0, 20, 50]]
    crowd = [[100, 0, 160, 60]]
    # A higher-scored detection inside the ignore region, then the true one.
    with_ignore = _one([[105, 5, 125, 55], [0, 0, 20, 50]], [0.9, 0.8], gt, crowd)
    assert with_ignore.AP50 == pytest.approx(1.0)
    without = _one([[105, 5, 125, 55], [0, 0, 20, 50]], [0.9, 0.8], gt, [])
    assert without.AP50 < 0.6  # the same detection is a false positive ranked first
    # An ignore region nobody detects is not a miss.
    assert _one([[0, 0, 20, 50]], [0.9], gt, crowd).AR100 == pytest.approx(1.0)


def test_pr_curve_png(tmp_path):
    preds, targets = _scene(np.random.default_rng(3))
    result = _ours(preds, targets)
    assert set(result.precision_curves) == {"AP50", "AP75"}
    curve = result.precision_curves["AP50"]
    assert curve.shape == (101,) and np.nanmax(curve) <= 1.0
    # COCO's interpolated precision never increases with recall.
    valid = curve[~np.isnan(curve)]
    assert np.all(np.diff(valid) <= 1e-12)
    path = save_pr_curve_png(result, tmp_path / "pr.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
