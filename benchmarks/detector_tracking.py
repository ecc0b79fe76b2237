"""What a detector does to tracking: HOTA / MOTA / IDF1 of trackers on three sets of boxes.

    python benchmarks/detector_tracking.py --detector <detector bundle dir> \
        [--trackers bytetrack botsort] [--seed 0] [--sequences 4] [--out <dir>]

On the rendered synthetic MOT sequences (``data=synthetic_mot``, ``data.synthetic.seed`` and
``data.synthetic.n_sequences`` as given), every tracker runs on

(a) the simulated detector's ``det/det.txt`` (misses, jitter, false positives, low scores under
    occlusion: the generator's noise model),
(b) the boxes of ``--detector`` (a detector bundle from ``python export.py``), detected on the
    sequences' frames by ``task=track detector=...``,
(c) the ground-truth boxes (pedestrians of ``gt.txt``, score 1): the tracker's own ceiling.

Each cell is one ``python evaluate.py task=track ...`` process (its command is printed and written to
``<out>/commands.txt``); the table reads each run's ``metrics.json`` (``COMBINED``). Without
``--detector`` row (b) is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidlab.evaluation.mot.io import find_sequences
from vidlab.utils.reporting import print_table

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("HOTA", "MOTA", "IDF1")


def track(
    overrides: Sequence[str], out: Path, threads: int, log: Path, commands: list[str]
) -> dict:
    """Run one ``task=track`` process and return its metrics.json payload."""
    cmd = [sys.executable, "evaluate.py", "task=track", *overrides, f"hydra.run.dir={out}"]
    commands.append(shlex.join(cmd))
    print("+", commands[-1], flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with log.open("w") as handle:
        code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if code.returncode != 0:
        raise SystemExit(f"{commands[-1]} failed with exit code {code.returncode}: see {log}")
    return json.loads((out / "metrics.json").read_text())


def write_gt_detections(root: Path, folder: Path) -> None:
    """Write every sequence's pedestrian ground truth as a det.txt file (score 1) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for seq in find_sequences(root):
        rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
        # MOTChallenge gt: frame, id, left, top, width, height, consider, class, visibility.
        keep = (rows[:, 6] == 1) & (rows[:, 7] == 1)
        det = np.zeros((int(keep.sum()), 10))
        det[:, 0] = rows[keep, 0]
        det[:, 1] = -1
        det[:, 2:6] = rows[keep, 2:6]
        det[:, 6] = 1.0
        det[:, 7:] = -1
        np.savetxt(folder / f"{seq.name}.txt", det, delimiter=",", fmt="%.6g")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", type=Path, help="detector bundle folder (row b)")
    parser.add_argument("--trackers", nargs="+", default=["bytetrack", "botsort"])
    parser.add_argument("--seed", type=int, default=0, help="data.synthetic.seed")
    parser.add_argument("--sequences", type=int, default=4, help="data.synthetic.n_sequences")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "bench" / "detector_tracking")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    data = [f"data.synthetic.seed={args.seed}", f"data.synthetic.n_sequences={args.sequences}"]
    commands: list[str] = []
    rows = []
    for tracker in args.trackers:
        sources = {"simulated det.txt": []}
        if args.detector is not None:
            sources["vidlab detector"] = [f"detector={args.detector.resolve()}"]
        results = {}
        for name, extra in sources.items():
            out = args.out / tracker / name.split()[-1].replace(".", "_")
            results[name] = track(
                [f"tracker={tracker}", *data, *extra],
                out,
                args.threads,
                out.with_suffix(".log"),
                commands,
            )
        root = Path(results["simulated det.txt"]["provenance"]["data"]["root"])
        gt_dets = args.out / "gt_detections"
        write_gt_detections(root, gt_dets)
        out = args.out / tracker / "ground_truth"
        results["ground-truth boxes"] = track(
            [f"tracker={tracker}", *data, f"detections={gt_dets}"],
            out,
            args.threads,
            out.with_suffix(".log"),
            commands,
        )
        for name, payload in results.items():
            combined = payload["details"]["COMBINED"]
            rows.append([tracker, name, *(100 * float(combined[f]) for f in FIELDS)])
    (args.out / "commands.txt").write_text("\n".join(commands) + "\n")
    print_table(
        f"Tracking on three sets of boxes (synthetic seed {args.seed}, {args.sequences} sequences)",
        ["tracker", "boxes", *FIELDS],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
