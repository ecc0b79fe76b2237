"""`python evaluate.py task=mot_metrics data.root=<gt folder> results_dir=<results folder>`.

Scores MOTChallenge tracker results (one `<sequence>.txt` per sequence) against the ground truth
of a folder of sequence folders with HOTA, CLEAR and Identity metrics (TrackEval 1.3.0 parity),
writes `metrics.json` to the run directory and prints a per-sequence table.

This task is deliberately light: it imports numpy, scipy and rich, never torch or Lightning, so
that the whole command (Hydra start-up included) stays fast.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from vidlab.evaluation.mot import evaluate_folder
from vidlab.evaluation.mot.evaluate import SKIPPED
from vidlab.utils.reporting import print_table

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
SPLIT = "test"  # metric keys returned to the entry script are "test/<field>"
COMBINED = "COMBINED"
# Columns of the console table (all fields are in metrics.json); fractions are shown as
# percentages with two decimals, like TrackEval's tables.
TABLE_PERCENT = ("HOTA", "DetA", "AssA", "MOTA", "IDF1")
TABLE_COUNTS = ("IDSW", "Frag")
PERCENT = 100.0


def run(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate `cfg.results_dir` against `cfg.data.root` and write `metrics.json`.

    Config keys: `data.root` (folder of sequence folders), `data.benchmark` (MOT15/16/17/20),
    `data.sequences` (names, or null for all), `results_dir` (folder of `<sequence>.txt`),
    `allow_missing` (skip sequences missing their seqinfo.ini, ground truth or results, listed
    under "skipped" in metrics.json; false: that is an error), `paths.output_dir` (run directory).

    Returns:
        The combined scalar fields as `test/<field>` (e.g. `test/HOTA`, `test/MOTA`), fractions,
        and `test/skipped_sequences` when `allow_missing` skipped some.
    """
    sequences = cfg.data.get("sequences")
    scores = evaluate_folder(
        Path(cfg.data.root),
        Path(cfg.results_dir),
        sequences=None if sequences is None else [str(s) for s in sequences],
        benchmark=str(cfg.data.get("benchmark", "MOT17")),
        allow_missing=bool(cfg.get("allow_missing", False)),
    )
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / METRICS_FILE
    metrics_path.write_text(json.dumps(scores, indent=2), encoding="utf-8")
    log.info("wrote %s (%d sequences)", metrics_path, len(scores["sequences"]))
    _print_scores(scores)
    metrics = {
        f"{SPLIT}/{name}": value
        for name, value in scores[COMBINED].items()
        if not isinstance(value, list)
    }
    skipped = scores.get(SKIPPED, {})
    if skipped:
        log.warning(
            "%d sequence(s) skipped (allow_missing=true), not in the scores: %s",
            len(skipped), ", ".join(skipped),
        )  # fmt: skip
        metrics[f"{SPLIT}/skipped_sequences"] = len(skipped)
    return metrics


def _print_scores(scores: dict[str, Any]) -> None:
    """Per-sequence and combined summary table (percentages and counts)."""
    rows = [(name, fields) for name, fields in scores["sequences"].items()]
    rows.append((COMBINED, scores[COMBINED]))
    print_table(
        "MOT metrics (%)",
        ["sequence", *TABLE_PERCENT, *TABLE_COUNTS],
        [
            [name]
            + [f"{PERCENT * fields[k]:.2f}" for k in TABLE_PERCENT]
            + [int(fields[k]) for k in TABLE_COUNTS]
            for name, fields in rows
        ],
    )
