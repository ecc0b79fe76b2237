"""`python evaluate.py task=events pred=<events.jsonl> gt=<events_gt.jsonl>`: score analytics events.

Reads both files (`vidlab.evaluation.events.read_events`: an unknown event type or key is an error
naming the file and line), scores them (`score_events`) and writes ``metrics.json`` with
``events/<type>/precision|recall|F1`` for every type present, ``counts/line_error`` and
``counts/zone_error``; ``details`` holds the per-type counts and the per-line / per-zone counts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vidlab.evaluation.events import read_events, score_events
from vidlab.utils.reporting import print_table
from vidlab.utils.runinfo import file_sha256, git_commit, write_metrics

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Score `cfg.pred` against `cfg.gt`; returns the flat metrics."""
    pred_path, gt_path = Path(cfg.pred), Path(cfg.gt)
    pred, gt = read_events(pred_path), read_events(gt_path)
    by_type = cfg.get("tolerance_by_type") or {}
    by_type = (
        OmegaConf.to_container(by_type, resolve=True)
        if OmegaConf.is_config(by_type)
        else dict(by_type)
    )
    result = score_events(
        pred,
        gt,
        tolerance_s=float(cfg.get("tolerance_s", 1.0)),
        tolerance_by_type=by_type,
        match_camera=bool(cfg.get("match_camera", False)),
    )
    path = write_metrics(
        Path(cfg.paths.output_dir) / "metrics.json",
        task="events",
        metrics=result["metrics"],
        details={"types": result["types"], "counts": result["counts"]},
        provenance={
            "pred": {"path": str(pred_path), "sha256": file_sha256(pred_path), "events": len(pred)},
            "gt": {"path": str(gt_path), "sha256": file_sha256(gt_path), "events": len(gt)},
            "tolerance_s": float(cfg.get("tolerance_s", 1.0)),
            "tolerance_by_type": by_type,
            "git_commit": git_commit(),
        },
    )
    log.info("wrote %s", path)
    print_scores(result)
    return result["metrics"]


def print_scores(result: dict[str, Any]) -> None:
    """A per-type table and the count errors."""
    rows = [
        [t, s["tp"], s["fp"], s["fn"], f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}",
         "-" if s["latency_mean_s"] is None else f"{s['latency_mean_s']:+.2f}"]
        for t, s in result["types"].items()
    ]  # fmt: skip
    counts = result["counts"]
    rows.append(["counts/line_error", "", "", "", "", "", f"{counts['line_error']:.3f}", ""])
    rows.append(["counts/zone_error", "", "", "", "", "", f"{counts['zone_error']:.3f}", ""])
    print_table(
        "events", ["type", "TP", "FP", "FN", "precision", "recall", "F1", "latency s"], rows
    )
