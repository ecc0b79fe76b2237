"""`python evaluate.py task=mot_metrics data.root=<gt folder> results_dir=<results folder>`.

Scores MOTChallenge tracker results (one `<sequence>.txt` per sequence) against the ground truth
of a folder of sequence folders with HOTA, CLEAR and Identity metrics (TrackEval 1.3.0 parity),
writes `metrics.json` to the run directory and prints a per-sequence table.

`metrics.json` has the layout of `vidlab.utils.runinfo.write_metrics`: ``metrics`` holds every
scalar COMBINED field as ``test/<field>`` (``test/HOTA``, ``test/MOTA``, ...), ``details`` the
whole `evaluate_folder` result (``{"sequences": {...}, "COMBINED": {...}}``, per-alpha arrays
included) and ``provenance`` the folders, benchmark, package versions and git commit.

This task is deliberately light: it imports numpy, scipy and rich, never torch or Lightning, so
that the whole command (Hydra start-up included) stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from vidlab.evaluation.mot import evaluate_folder
from vidlab.evaluation.mot.evaluate import SKIPPED
from vidlab.utils.reporting import print_table
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

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
    under "skipped" in metrics.json's details; false: that is an error), `paths.output_dir` (run
    directory).

    Returns:
        The combined scalar fields as `test/<field>` (e.g. `test/HOTA`, `test/MOTA`), fractions,
        and `test/skipped_sequences` when `allow_missing` skipped some.
    """
    data = hydra.utils.instantiate(cfg.data)  # vidlab.data.mot.MOTSequences
    gt_root = data.resolve_root()
    scores = evaluate_folder(
        gt_root,
        Path(cfg.results_dir),
        sequences=data.sequences,
        benchmark=data.benchmark,
        allow_missing=bool(cfg.get("allow_missing", False)),
    )
    metrics = combined_metrics(scores, SPLIT)
    skipped = scores.get(SKIPPED, {})
    if skipped:
        log.warning(
            "%d sequence(s) skipped (allow_missing=true), not in the scores: %s",
            len(skipped), ", ".join(skipped),
        )  # fmt: skip
        metrics[f"{SPLIT}/skipped_sequences"] = len(skipped)
    metrics_path = write_metrics(
        Path(cfg.paths.output_dir) / METRICS_FILE,
        task="mot_metrics",
        metrics=metrics,
        details=scores,
        extra={COMBINED: combined_summary(scores)},
        provenance={
            "data": data.describe() | {"root": str(gt_root)},
            "results_dir": str(cfg.results_dir),
            "versions": package_versions(),
            "git_commit": git_commit(),
        },
    )
    log.info("wrote %s (%d sequences)", metrics_path, len(scores["sequences"]))
    print_scores(scores)
    return metrics


def combined_summary(scores: dict[str, Any]) -> dict[str, float]:
    """The scalar COMBINED fields of an `evaluate_folder` result (``HOTA``, ``MOTA``, ``IDF1``,
    ...), kept as metrics.json's top-level ``COMBINED`` for readers of the earlier layout."""
    return {name: value for name, value in scores[COMBINED].items() if not isinstance(value, list)}


def combined_metrics(scores: dict[str, Any], split: str) -> dict[str, float]:
    """The scalar COMBINED fields of an `evaluate_folder` result as ``<split>/<field>`` metrics."""
    return {f"{split}/{name}": value for name, value in combined_summary(scores).items()}


def print_scores(scores: dict[str, Any], title: str = "MOT metrics (%)") -> None:
    """Per-sequence and combined summary table (percentages and counts)."""
    rows = [(name, fields) for name, fields in scores["sequences"].items()]
    rows.append((COMBINED, scores[COMBINED]))
    print_table(
        title,
        ["sequence", *TABLE_PERCENT, *TABLE_COUNTS],
        [
            [name]
            + [f"{PERCENT * fields[k]:.2f}" for k in TABLE_PERCENT]
            + [int(fields[k]) for k in TABLE_COUNTS]
            for name, fields in rows
        ],
    )
