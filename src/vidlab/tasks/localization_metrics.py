"""`python evaluate.py task=localization_metrics gt=<ground truth> pred=<results.json>`.

Scores ActivityNet-format results against ActivityNet v1.3 JSON or THUMOS14 ground truth with the
ActivityNet detection protocol (`vidlab.evaluation.localization`), writes ``metrics.json`` and
prints a table.

``metrics.json`` (`vidlab.utils.runinfo.write_metrics` layout): ``metrics`` holds
``test/mAP_<t>`` per threshold and ``test/average_mAP``; the top-level ``mAP`` maps each threshold
written with two decimals (``"0.50"``) to its mAP and ``average_mAP`` is their mean; ``details``
holds ``per_class_AP`` (``{class: {"0.50": AP}}``), the segment counts per class and the number of
predictions whose label is no ground-truth class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig

from vidlab.errors import UserError
from vidlab.evaluation.localization import (
    TIOU_PRESETS,
    LocalizationResult,
    SegmentTable,
    evaluate_localization,
)
from vidlab.evaluation.localization.io import read_ground_truth, read_results
from vidlab.utils.reporting import print_table
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
SPLIT = "test"


def resolve_thresholds(value: Any) -> list[float]:
    """A preset name (``activitynet``, ``thumos14``) or a list of thresholds in (0, 1]."""
    if isinstance(value, str):
        if value not in TIOU_PRESETS:
            raise UserError(
                f"tiou_thresholds={value!r}: expected a preset ({', '.join(TIOU_PRESETS)}) or a "
                "list such as [0.3,0.5,0.7]"
            )
        return list(TIOU_PRESETS[value])
    if isinstance(value, (int, float)):
        value = [value]
    if not isinstance(value, (list, tuple, ListConfig)) or not value:
        raise UserError(f"tiou_thresholds={value!r}: expected a preset name or a non-empty list")
    thresholds = [float(t) for t in value]
    bad = [t for t in thresholds if not 0.0 < t <= 1.0]
    if bad:
        raise UserError(f"tiou_thresholds: {bad} outside (0, 1]")
    return thresholds


def score(
    gt_path: str | Path,
    pred_path: str | Path,
    thresholds: Sequence[float],
    subset: str | None,
    out_path: str | Path,
    provenance: dict[str, Any] | None = None,
) -> tuple[dict[str, float], LocalizationResult]:
    """Evaluate the files, write `out_path` (metrics.json) and print a table.

    Returns:
        The flat metrics (``test/mAP_0.50``, ..., ``test/average_mAP``) and the full result.
    """
    gt = read_ground_truth(gt_path, subset)
    if not len(gt):
        raise UserError(
            f"{gt_path}: no ground-truth segment"
            + (f" in subset {subset!r}" if subset else "")
            + "; expected at least one annotation to score against"
        )
    pred = read_results(pred_path)
    where = {"gt": str(gt_path), "pred": str(pred_path), "subset": subset}
    return score_tables(gt, pred, thresholds, out_path, where | (provenance or {}))


def score_tables(
    gt: SegmentTable,
    pred: SegmentTable,
    thresholds: Sequence[float],
    out_path: str | Path,
    provenance: dict[str, Any] | None = None,
    task: str = "localization_metrics",
) -> tuple[dict[str, float], LocalizationResult]:
    """`score` on tables already read (``task=localize`` scores its own results this way)."""
    result = evaluate_localization(gt, pred, thresholds)
    if result.ignored_predictions:
        log.warning(
            "%d predictions have labels that are not ground-truth classes; not scored",
            result.ignored_predictions,
        )
    by_threshold = result.mAP_by_threshold()
    metrics = {f"{SPLIT}/mAP_{k}": v for k, v in by_threshold.items()}
    metrics[f"{SPLIT}/average_mAP"] = result.average_mAP
    write_metrics(
        out_path,
        task=task,
        metrics=metrics,
        details={
            "per_class_AP": result.ap_by_class(),
            "num_ground_truth": dict(zip(result.classes, result.num_ground_truth, strict=True)),
            "num_predictions": dict(zip(result.classes, result.num_predictions, strict=True)),
            "ignored_predictions": result.ignored_predictions,
            "tiou_thresholds": list(result.thresholds),
        },
        provenance={
            **(provenance or {}),
            "versions": package_versions(),
            "git_commit": git_commit(),
        },
        extra={"mAP": by_threshold, "average_mAP": result.average_mAP},
    )
    print_table(
        "Temporal localization mAP (%)",
        ["tIoU", "mAP"],
        [
            *((k, f"{100 * v:.2f}") for k, v in by_threshold.items()),
            ("average", f"{100 * result.average_mAP:.2f}"),
        ],
    )
    return metrics, result


def run(cfg: DictConfig) -> dict[str, Any]:
    """Config keys: `gt`, `pred`, `tiou_thresholds` (preset or list), `subset`,
    `paths.output_dir`. Returns the flat metrics."""
    thresholds = resolve_thresholds(cfg.tiou_thresholds)
    out = Path(cfg.paths.output_dir) / METRICS_FILE
    metrics, _ = score(cfg.gt, cfg.pred, thresholds, cfg.get("subset"), out)
    log.info("wrote %s", out)
    return metrics
