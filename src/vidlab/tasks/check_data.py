"""`python evaluate.py task=check_data data=<name> data.root=<dir>`: is this dataset usable?

Reads the layout of the data config (its `index` node only: no Lightning, no torch), probes every
video that exists by decoding its first and last frame in spawned processes, prints a table per
split (listed, found, missing, undecodable, duration and fps ranges), and writes to the run
directory ``bad_files.txt`` (one ``<split>\\t<missing|undecodable>\\t<video>\\t<detail>`` line per
unusable video) and ``metrics.json`` (`vidlab.utils.runinfo.write_metrics`: ``metrics`` the
``<split>/<count>`` counts, ``details`` the dataset name, root, class count, per-split checks and the
problems found). Exits with status 1 when a checked split has no usable video, or when
``data.num_classes`` disagrees with the layout (``metrics.json`` is written first).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from vidlab.data.datasets.check import BadFile, SplitCheck, check_dataset
from vidlab.utils.reporting import print_table
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

log = logging.getLogger(__name__)

BAD_FILES = "bad_files.txt"
REPORT = "metrics.json"
#: Per-split counts reported as ``<split>/<count>`` metrics.
COUNTS = ("listed", "found", "missing", "undecodable", "usable")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Check the dataset of `cfg.data`; returns per-split counts as ``<split>/<count>`` metrics.

    Raises:
        SystemExit: status 1 when a split has no usable video or the class count is wrong.
    """
    settings = cfg.get("check") or {}
    index = hydra.utils.instantiate(cfg.data.index).build()
    workers = int(settings.get("workers") or os.cpu_count() or 1)
    checks, bad = check_dataset(
        index,
        workers=workers,
        backend=settings.get("backend", "auto"),
        splits=settings.get("splits"),
    )
    out_dir = Path(cfg.paths.output_dir)
    bad_path = _write_bad_files(out_dir / BAD_FILES, bad)
    _print_checks(index.name, checks)
    problems = _problems(cfg, index.num_classes, checks)
    metrics = {f"{c.name}/{k}": getattr(c, k) for c in checks for k in COUNTS}
    write_metrics(
        out_dir / REPORT,
        task="check_data",
        metrics=metrics,
        details={
            "dataset": index.name,
            "root": str(index.root),
            "num_classes": index.num_classes,
            "bad_files": str(bad_path),
            "splits": [asdict(c) for c in checks],
            "problems": problems,
        },
        provenance={
            "settings": OmegaConf.to_container(settings, resolve=True) if settings else {},
            "versions": package_versions(),
            "git_commit": git_commit(),
        },
    )
    log.info("%d unusable videos listed in %s", len(bad), bad_path)
    if problems:
        for problem in problems:
            log.error(problem)
        raise SystemExit(1)
    return metrics


def _problems(cfg: DictConfig, num_classes: int, checks: list[SplitCheck]) -> list[str]:
    problems = [
        f"split {c.name!r} has no usable video ({c.listed} listed, {c.missing} missing, "
        f"{c.undecodable} undecodable){': ' + c.error if c.error else ''}"
        for c in checks
        if c.usable == 0
    ]
    configured = None if OmegaConf.is_missing(cfg.data, "num_classes") else cfg.data.num_classes
    if configured is not None and int(configured) != num_classes:
        problems.append(
            f"data.num_classes={configured} but the annotations define {num_classes} classes"
        )
    return problems


def _write_bad_files(path: Path, bad: list[BadFile]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{b.split}\t{b.problem}\t{b.video}\t{b.detail}\n" for b in bad)
    return path


def _print_checks(name: str, checks: list[SplitCheck]) -> None:
    def span(values: tuple[float, float] | None) -> str:
        return "-" if values is None else f"{values[0]:.4g}-{values[1]:.4g}"

    rows = [
        (c.name, c.listed, c.found, c.missing, c.undecodable, c.pyav, c.vfr,
         span(c.duration_s), span(c.fps))
        for c in checks
    ]  # fmt: skip
    # "broken": found but undecodable; "PyAV": decodable only by the fallback backend.
    columns = ["split", "listed", "found", "missing", "broken", "PyAV", "VFR", "seconds", "fps"]
    print_table(f"Dataset check: {name}", columns, rows)
