"""Spread of training results over seeds: each experiment trained once per seed, then min, median
and max of its metrics.

    python benchmarks/seed_spread.py --seeds 0 1 2 --threads 1 \
        --run "x3d: experiment=synthetic_direction" \
        --run "frame2d: experiment=synthetic_direction model=frame2d_synthetic"

Each ``--run "tag: override override ..."`` names one experiment: the overrides go to ``train.py``
as they are, followed by ``seed=S hydra.run.dir=<out>/<tag>/seed<S>``. Every (experiment, seed)
pair runs in a fresh ``python train.py`` process, one at a time (so wall times are comparable and
the runs do not share a process's RNG or caches). ``--threads N`` sets ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS`` for those processes (PyTorch sizes its intra-op pool from them). A run whose
``metrics.json`` is already there is read, not trained again, unless ``--rerun``; so an interrupted
sweep continues where it stopped.

From each run's ``metrics.json`` (``{"schema", "task", "metrics", "details", "provenance"}``) the
script reads the ``--metrics`` keys of ``metrics`` (default ``val/top1`` and ``test/top1``), the
wall time ``details.wall_time_s``, the commit ``provenance.git_commit`` and, from the CSV logger's
``csv/metrics.csv``, the ``--curve`` key per epoch (default ``val/top1``). It prints one table per
experiment (a row per seed, then min / median / max) and writes ``seed_spread.csv`` (one row per
run, with its command) and ``seed_spread.md`` (the tables) to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidlab.utils.reporting import format_value, print_table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_METRICS = ("val/top1", "test/top1")


@dataclass(frozen=True)
class Experiment:
    """One ``--run``: a tag (the folder name) and its ``train.py`` overrides."""

    tag: str
    overrides: tuple[str, ...]


@dataclass
class RunResult:
    """One (experiment, seed) run as read back from its ``metrics.json``."""

    tag: str
    seed: int
    command: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    wall_time_s: float | None = None
    git_commit: str | None = None
    curve: list[float] = field(default_factory=list)  # the curve key per epoch, if logged


def parse_run(spec: str) -> Experiment:
    """``"tag: a=1 b=2"`` -> ``Experiment("tag", ("a=1", "b=2"))`` (overrides split like a shell)."""
    tag, sep, rest = spec.partition(":")
    tag = tag.strip()
    if not sep or not tag or any(c in tag for c in "/\\ "):
        raise ValueError(
            f"--run {spec!r}: expected 'tag: override override ...' with a tag that is a plain "
            "folder name (no spaces or slashes)"
        )
    overrides = tuple(shlex.split(rest))
    clash = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in ("seed", "hydra.run.dir")]
    if clash:
        raise ValueError(f"--run {spec!r}: {clash} are set by the script (--seeds, --out)")
    return Experiment(tag, overrides)


def run_dir(out: Path, tag: str, seed: int) -> Path:
    return out / tag / f"seed{seed}"


def train_command(python: str, experiment: Experiment, seed: int, out: Path) -> list[str]:
    return [
        python,
        "train.py",  # run with cwd=ROOT
        *experiment.overrides,
        f"seed={seed}",
        f"hydra.run.dir={run_dir(out, experiment.tag, seed)}",
    ]


def read_result(
    path: Path,
    tag: str,
    seed: int,
    command: str,
    keys: Sequence[str] = DEFAULT_METRICS,
    curve_key: str = "val/top1",
) -> RunResult:
    """Read one run's ``metrics.json``; a missing key is ``None`` (shown as ``-``)."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the run's metrics.json ({err})") from err
    if not isinstance(payload, dict) or not isinstance(payload.get("metrics"), dict):
        raise ValueError(
            f"{path}: expected the layout {{'schema', 'task', 'metrics', 'details', "
            f"'provenance'}} with a 'metrics' mapping"
        )
    details = payload.get("details") or {}
    provenance = payload.get("provenance") or {}
    return RunResult(
        tag=tag,
        seed=seed,
        command=command,
        metrics={k: payload["metrics"].get(k) for k in keys},
        wall_time_s=details.get("wall_time_s"),
        git_commit=provenance.get("git_commit"),
        curve=read_curve(path.parent / "csv" / "metrics.csv", curve_key, details.get("epochs")),
    )


def read_curve(path: Path, key: str, epochs: int | None) -> list[float]:
    """The values of `key` in the CSV logger's ``metrics.csv``, in order, one per validation.

    The train task validates and tests the best checkpoint after fitting, which the logger also
    records; only the first `epochs` values (``details.epochs``) are the per-epoch curve. Empty when
    the file or the column is absent.
    """
    if not path.exists():
        return []
    with open(path, newline="") as f:
        values = [float(row[key]) for row in csv.DictReader(f) if row.get(key)]
    return values if epochs is None else values[:epochs]


def spread(values: Sequence[float | None]) -> tuple[float | None, float | None, float | None]:
    """Min, median and max of the values that are there (``None`` for all three if none is)."""
    present = [v for v in values if v is not None]
    if not present:
        return None, None, None
    return min(present), statistics.median(present), max(present)


def has_curves(results: Sequence[RunResult]) -> bool:
    return any(r.curve for r in results)


def format_curve(curve: Sequence[float]) -> str:
    return ", ".join(f"{v:.3f}" for v in curve) if curve else "-"


def experiment_rows(results: Sequence[RunResult], keys: Sequence[str]) -> list[list[Any]]:
    """One row per seed (seed, metrics..., wall minutes), then ``min``, ``median``, ``max``.

    When some run has a per-epoch curve, a last column holds it (seed rows only).
    """
    curves = has_curves(results)
    rows: list[list[Any]] = []
    for r in sorted(results, key=lambda r: r.seed):
        wall = None if r.wall_time_s is None else round(r.wall_time_s / 60, 1)
        rows.append([f"seed {r.seed}", *(r.metrics.get(k) for k in keys), wall])
        if curves:
            rows[-1].append(format_curve(r.curve))
    columns = [[r.metrics.get(k) for r in results] for k in keys]
    columns.append(
        [None if r.wall_time_s is None else round(r.wall_time_s / 60, 1) for r in results]
    )
    stats = [spread(c) for c in columns]
    for i, name in enumerate(("min", "median", "max")):
        rows.append([name, *(s[i] for s in stats)] + ([""] if curves else []))
    return rows


def table_columns(keys: Sequence[str], curve_key: str | None = None) -> list[str]:
    return ["run", *keys, "wall min"] + ([f"{curve_key} by epoch"] if curve_key else [])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return format_value(value)
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_reports(
    out: Path,
    experiments: Sequence[Experiment],
    results: Sequence[RunResult],
    keys: Sequence[str],
    curve_key: str = "val/top1",
) -> None:
    """``seed_spread.csv`` (one row per run) and ``seed_spread.md`` (a table per experiment)."""
    with open(out / "seed_spread.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["tag", "seed", *keys, "wall_time_s", f"{curve_key} by epoch", "git_commit", "command"]
        )
        for r in results:
            writer.writerow(
                [
                    r.tag,
                    r.seed,
                    *(r.metrics.get(k) for k in keys),
                    r.wall_time_s,
                    " ".join(f"{v:.4f}" for v in r.curve),
                    r.git_commit,
                    r.command,
                ]
            )
    parts = []
    for exp in experiments:
        mine = [r for r in results if r.tag == exp.tag]
        if not mine:
            continue
        commits = sorted({r.git_commit or "unknown" for r in mine})
        parts.append(
            f"### {exp.tag}\n\n`python train.py {' '.join(exp.overrides)} seed=S` "
            f"(commit {', '.join(commits)})\n\n"
            + markdown_table(
                table_columns(keys, curve_key if has_curves(mine) else None),
                experiment_rows(mine, keys),
            )
        )
    (out / "seed_spread.md").write_text("\n\n".join(parts) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run",
        action="append",
        required=True,
        metavar="'TAG: OVERRIDES'",
        help="an experiment: a tag, a colon, then train.py overrides (repeatable)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("/tmp/vidlab_seed_spread"))
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS / MKL_NUM_THREADS of the training processes",
    )
    parser.add_argument(
        "--metrics",
        nargs="+",
        default=list(DEFAULT_METRICS),
        help="keys of metrics.json's 'metrics' to report",
    )
    parser.add_argument(
        "--curve",
        default="val/top1",
        help="key whose per-epoch values are read from the run's csv/metrics.csv (CSV logger)",
    )
    parser.add_argument(
        "--rerun", action="store_true", help="train again even where a run's metrics.json exists"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for train.py")
    args = parser.parse_args(argv)
    if len(args.seeds) < 3:
        print(f"note: {len(args.seeds)} seed(s); a spread needs at least 3", file=sys.stderr)
    try:
        experiments = [parse_run(spec) for spec in args.run]
    except ValueError as err:
        parser.error(str(err))
    if len({e.tag for e in experiments}) != len(experiments):
        parser.error("--run tags must be distinct (each is a folder under --out)")

    args.out = args.out.resolve()  # train.py runs in the repository root
    env = dict(os.environ)
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    failed: list[str] = []
    for exp in experiments:
        for seed in args.seeds:
            cmd = train_command(args.python, exp, seed, args.out)
            shown = shlex.join(cmd[1:])
            metrics_path = run_dir(args.out, exp.tag, seed) / "metrics.json"
            if args.rerun or not metrics_path.exists():
                print(f"[{exp.tag} seed {seed}] python {shown}", flush=True)
                log_path = args.out / exp.tag / f"seed{seed}.log"
                log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(log_path, "w") as log:
                    code = subprocess.run(
                        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                    ).returncode
                if code != 0 or not metrics_path.exists():
                    failed.append(f"{exp.tag} seed {seed}: exit {code}, log {log_path}")
                    print(f"  failed: exit {code}; see {log_path}", file=sys.stderr)
                    continue
            results.append(
                read_result(
                    metrics_path, exp.tag, seed, f"python {shown}", args.metrics, args.curve
                )
            )
            # Rewrite the reports after every run, so a stopped sweep leaves its tables.
            write_reports(args.out, experiments, results, args.metrics, args.curve)

    for exp in experiments:
        mine = [r for r in results if r.tag == exp.tag]
        if mine:
            print_table(
                f"{exp.tag}: python train.py {' '.join(exp.overrides)}",
                table_columns(args.metrics, args.curve if has_curves(mine) else None),
                experiment_rows(mine, args.metrics),
            )
    print(f"reports: {args.out / 'seed_spread.csv'}, {args.out / 'seed_spread.md'}")
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
