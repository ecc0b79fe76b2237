"""Tracklet actions on scripted scenes: fall and run event F1 of an action classifier bundle.

For each scene seed, runs the stream exactly as a user types it::

    python evaluate.py task=stream source=synthetic data=synthetic_scene data.seed=N
        detector=oracle tracker=bytetrack analytics=actions analytics.actions.bundle=<bundle>
        hydra.run.dir=<out>/seed_N [HYDRA_OVERRIDE ...]

(the scene is generated with its actions: fallers, posed figures, ``action`` truth), reads each
run's ``metrics.json`` and prints per seed and in total (counts summed over the seeds, then the
ratios) the true positives, false positives, misses and F1 of the ``fall`` and ``run`` events,
plus the start-time error of the matches. Written to ``<out>/tracklet_actions.md``.

    python benchmarks/tracklet_actions.py --bundle <dir> [--seeds 100 101 102 103 104]
                                          [--out-dir DIR] [HYDRA_OVERRIDE ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from vidlab.utils.reporting import print_table

REPO = Path(__file__).resolve().parents[1]
LABELS = ("fall", "run")
COLUMNS = ("seed", "label", "TP", "FP", "FN", "precision", "recall", "F1", "start error s")


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def run_seed(bundle: str, seed: int, out: Path, extra: list[str]) -> dict:
    """One stream run; the per-label action scores of its metrics.json."""
    cmd = [
        sys.executable, "evaluate.py", "task=stream", "source=synthetic", "data=synthetic_scene",
        f"data.seed={seed}", "detector=oracle", "tracker=bytetrack", "analytics=actions",
        f"analytics.actions.bundle={bundle}", "stream.display=false",
        f"hydra.run.dir={out / f'seed_{seed}'}", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    saved = json.loads((out / f"seed_{seed}" / "metrics.json").read_text())
    types = saved["details"]["events"]["types"]
    empty = {"tp": 0, "fp": 0, "fn": 0, "latency_mean_s": None}
    return {
        "wall_s": time.perf_counter() - start,
        **{label: types.get(f"action/{label}", empty) for label in LABELS},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True, help="classifier export bundle (or .ckpt)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104])
    parser.add_argument("--out-dir", type=Path, default=REPO / "logs" / "tracklet_actions")
    args, extra = parser.parse_known_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows, total = [], {label: [0, 0, 0] for label in LABELS}
    for seed in args.seeds:
        result = run_seed(str(Path(args.bundle).resolve()), seed, args.out_dir.resolve(), extra)
        for label in LABELS:
            s = result[label]
            counts = (int(s["tp"]), int(s["fp"]), int(s["fn"]))
            total[label] = [a + b for a, b in zip(total[label], counts, strict=True)]
            p, r, f1 = _f1(*counts)
            lat = s.get("latency_mean_s")
            rows.append([seed, label, *counts, f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}",
                         "-" if lat is None else f"{lat:+.2f}"])  # fmt: skip
    for label in LABELS:
        p, r, f1 = _f1(*total[label])
        rows.append(["all", label, *total[label], f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}", ""])
    print_table("tracklet actions", list(COLUMNS), rows)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    (args.out_dir / "tracklet_actions.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
