"""The quickstart (`python train.py` with its defaults) over several global seeds.

Each seed runs as its own process, one at a time, exactly as a user would type it
(``python train.py seed=N hydra.run.dir=<out>/seed_N`` plus any extra Hydra overrides), so every
run pays the interpreter start, the imports and (the first one, on a fresh clone) the generation
of the synthetic dataset. The table gives each run's final val and test top-1 (from its
``metrics.json``: the best checkpoint, validated and tested after training), the wall time of the
whole command, the CPU time it used (user + system, its child processes included: on a shared
machine the wall time is only an upper bound, while the CPU time of a one-thread run,
``OMP_NUM_THREADS=1``, is about what it takes on one idle core), and min / median / max rows. It is printed and written to ``<out>/quickstart.csv``
and ``<out>/quickstart.md``.

    python benchmarks/quickstart.py [--seeds 0 1 2 3 4 42] [--out-dir DIR] [--min-val-top1 0.9]
                                    [HYDRA_OVERRIDE ...]

With ``--min-val-top1`` the script exits with status 1 when any run ends below it (CI's
quickstart check); a run that fails or writes no metrics.json exits with its status or 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from vidlab.utils.reporting import print_table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEEDS = (0, 1, 2, 3, 4, 42)
COLUMNS = ("seed", "val top-1", "test top-1", "wall s", "cpu s")


@dataclass(frozen=True)
class SeedRun:
    """One `python train.py seed=N` run: its final metrics, the command's wall and CPU time."""

    seed: int
    val_top1: float
    test_top1: float
    wall_s: float
    cpu_s: float


def run_seed(seed: int, run_dir: Path, overrides: list[str], python: str) -> SeedRun:
    """Run the quickstart with global seed `seed` into `run_dir` and read its metrics.json.

    Raises:
        RuntimeError: the command failed or left no metrics.json with val and test top-1.
    """
    command = [
        python,
        str(REPO / "train.py"),
        f"seed={seed}",
        f"hydra.run.dir={run_dir}",
        *overrides,
    ]
    print("+ " + " ".join(command), flush=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    if completed.returncode != 0:
        raise RuntimeError(f"seed {seed}: `{' '.join(command)}` exited {completed.returncode}")
    path = run_dir / "metrics.json"
    if not path.is_file():
        raise RuntimeError(f"seed {seed}: {path} was not written")
    metrics = json.loads(path.read_text())["metrics"]
    missing = [k for k in ("val/top1", "test/top1") if k not in metrics]
    if missing:
        raise RuntimeError(
            f"seed {seed}: {path} has no {missing} in 'metrics' (keys: {sorted(metrics)})"
        )
    return SeedRun(seed, float(metrics["val/top1"]), float(metrics["test/top1"]), wall, cpu)


def summary_rows(runs: list[SeedRun]) -> list[tuple[str, float, float, float, float]]:
    """min / median / max of val top-1, test top-1, wall and CPU time over the runs."""
    columns = [
        [r.val_top1 for r in runs],
        [r.test_top1 for r in runs],
        [r.wall_s for r in runs],
        [r.cpu_s for r in runs],
    ]
    return [
        (name, *(round(fn(c), digits) for c, digits in zip(columns, (4, 4, 1, 1), strict=True)))
        for name, fn in (("min", min), ("median", statistics.median), ("max", max))
    ]


def table_rows(runs: list[SeedRun]) -> list[tuple]:
    rows: list[tuple] = [
        (str(r.seed), r.val_top1, r.test_top1, round(r.wall_s, 1), round(r.cpu_s, 1)) for r in runs
    ]
    return rows + summary_rows(runs)


def write_reports(rows: list[tuple], out_dir: Path) -> None:
    """`quickstart.csv` and `quickstart.md` (a markdown table, as the README quotes it)."""
    with open(out_dir / "quickstart.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append(f"| {row[0]} | {row[1]:.4f} | {row[2]:.4f} | {row[3]:.1f} | {row[4]:.1f} |")
    (out_dir / "quickstart.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="run directories and reports (default: logs/benchmarks/quickstart/<timestamp>)",
    )
    parser.add_argument(
        "--min-val-top1",
        type=float,
        default=None,
        help="exit 1 when any seed's val top-1 is below this",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs train.py")
    args, overrides = parser.parse_known_args()
    unknown = [o for o in overrides if o.startswith("-")]
    if unknown:
        parser.error(f"unknown options {unknown}; Hydra overrides are key=value")

    out_dir = args.out_dir or REPO / "logs" / "benchmarks" / "quickstart" / time.strftime(
        "%Y-%m-%d_%H-%M-%S"
    )
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in args.seeds:
        try:
            runs.append(run_seed(seed, out_dir / f"seed_{seed}", overrides, args.python))
        except RuntimeError as error:
            print(f"quickstart benchmark: {error}", file=sys.stderr)
            return 2
    rows = table_rows(runs)
    print_table(
        f"python train.py {' '.join(overrides)}".rstrip() + f" over seeds {args.seeds}",
        COLUMNS,
        rows,
    )
    write_reports(rows, out_dir)
    print(f"reports: {out_dir / 'quickstart.csv'}, {out_dir / 'quickstart.md'}")
    if args.min_val_top1 is not None:
        low = [(r.seed, r.val_top1) for r in runs if r.val_top1 < args.min_val_top1]
        if low:
            print(
                f"quickstart check failed: val top-1 below {args.min_val_top1} for "
                f"(seed, val top-1) {low}",
                file=sys.stderr,
            )
            return 1
        print(f"quickstart check passed: val top-1 >= {args.min_val_top1} for every seed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
