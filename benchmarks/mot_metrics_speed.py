"""Speed of vidlab's MOT metrics against TrackEval 1.3.0 on the same 21 MOT17 train sequences.

    python benchmarks/mot_metrics_speed.py [--repeats 3] [--no-process]

The folder is built in a temporary directory: with VIDLAB_REAL_DATA set, the 7 MOT17 FRCNN
ground truths of `$VIDLAB_REAL_DATA/MOT17/train` are copied as DPM, FRCNN and SDP sequences (their
ground truth is identical in MOTChallenge) and the MPNTrack results of each FRCNN sequence are
used for all three copies; without it, 21 generated sequences stand in.

Two measurements, each repeated with vidlab and TrackEval alternating, reported as the best and
the median of the repeats and as the ratio of the best times and the median of the per-repeat
ratios (other processes share the machine, so single timings are noisy):

- in process: `vidlab.evaluation.mot.evaluate_folder` vs TrackEval's Evaluator (HOTA, CLEAR,
  Identity) in this interpreter, after one warm-up call of each; both read the files themselves.
  The two results are also compared field by field.
- whole process: `python evaluate.py task=mot_metrics ...` (Hydra start-up, imports, metrics.json
  and the table included) vs a small script that imports TrackEval and runs the same evaluation.

Requires `trackeval==1.3.0` (a test dependency).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vidlab.evaluation.mot import evaluate_folder
from vidlab.evaluation.mot.reference import trackeval_evaluate_folder
from vidlab.utils.reporting import print_table

REPO_ROOT = Path(__file__).resolve().parents[1]
DETECTORS = ("DPM", "FRCNN", "SDP")
SYNTHETIC_SEQUENCES, SYNTHETIC_FRAMES, SYNTHETIC_PEOPLE = 21, 600, 40

# The TrackEval side of the whole-process comparison: TrackEval's own API, nothing of vidlab.
TRACKEVAL_SCRIPT = """
import configparser, os, sys
import trackeval
gt_root, res_dir = sys.argv[1], sys.argv[2]
seqs = sorted(d for d in os.listdir(gt_root) if os.path.isfile(os.path.join(gt_root, d, "seqinfo.ini")))
lengths = {}
for s in seqs:
    ini = configparser.ConfigParser()
    ini.read(os.path.join(gt_root, s, "seqinfo.ini"))
    lengths[s] = int(ini["Sequence"]["seqLength"])
evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "OUTPUT_SUMMARY": False,
    "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "PRINT_CONFIG": False})
dataset = trackeval.datasets.MotChallenge2DBox({"GT_FOLDER": gt_root,
    "TRACKERS_FOLDER": os.path.dirname(res_dir), "TRACKERS_TO_EVAL": [os.path.basename(res_dir)],
    "TRACKER_SUB_FOLDER": "", "SKIP_SPLIT_FOL": True, "SEQ_INFO": lengths, "PRINT_CONFIG": False,
    "OUTPUT_FOLDER": os.path.join(os.path.dirname(res_dir), "trackeval_out")})
metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
evaluator.evaluate([dataset], metrics)
"""


def build_real(real: Path, out: Path) -> tuple[Path, Path]:
    """21 sequences: each MOT17 FRCNN ground truth as DPM/FRCNN/SDP, MPNTrack results for each."""
    gt_root, res_dir = out / "gt", out / "results"
    res_dir.mkdir(parents=True)
    for folder in sorted((real / "MOT17" / "train").glob("MOT17-*-FRCNN")):
        results = real / "MOT17" / "results" / "MPNTrack" / f"{folder.name}.txt"
        for det in DETECTORS:
            name = folder.name.replace("FRCNN", det)
            (gt_root / name / "gt").mkdir(parents=True)
            ini = (folder / "seqinfo.ini").read_text().replace(folder.name, name)
            (gt_root / name / "seqinfo.ini").write_text(ini)
            shutil.copy(folder / "gt" / "gt.txt", gt_root / name / "gt" / "gt.txt")
            shutil.copy(results, res_dir / f"{name}.txt")
    return gt_root, res_dir


def build_synthetic(out: Path, seed: int = 0) -> tuple[Path, Path]:
    """21 generated sequences: people walking in straight lines, results with noise and switches."""
    rng = np.random.default_rng(seed)
    gt_root, res_dir = out / "gt", out / "results"
    res_dir.mkdir(parents=True)
    for i in range(SYNTHETIC_SEQUENCES):
        name, n = f"SYN-{i:02d}", SYNTHETIC_FRAMES
        start = rng.integers(1, n, SYNTHETIC_PEOPLE)
        gt_rows, res_rows = [], []
        for pid, s in enumerate(start, 1):
            frames = np.arange(s, min(n, s + rng.integers(30, n)) + 1)
            w = rng.uniform(30, 90)
            box = np.column_stack([rng.uniform(0, 1800) + rng.normal(0, 3) * (frames - s),
                                   np.full(frames.size, rng.uniform(0, 800)),
                                   np.full(frames.size, w), np.full(frames.size, 2.5 * w)])  # fmt: skip
            cls = 7 if rng.random() < 0.1 else 1
            gt_rows.append(np.column_stack([frames, np.full(frames.size, pid), np.round(box),
                                            np.ones(frames.size), np.full(frames.size, cls),
                                            np.ones(frames.size)]))  # fmt: skip
            seen = rng.random(frames.size) > 0.1
            tid = pid * 100 + np.cumsum(rng.random(frames.size) < 0.01)  # occasional id switch
            noisy = box + rng.normal(0, 0.05, box.shape) * w
            res_rows.append(np.column_stack([frames, tid, noisy, np.ones(frames.size)])[seen])
        (gt_root / name / "gt").mkdir(parents=True)
        (gt_root / name / "seqinfo.ini").write_text(
            f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={n}\n"
            "imWidth=1920\nimHeight=1080\nimExt=.jpg\n"
        )
        gt = np.concatenate(gt_rows)
        np.savetxt(gt_root / name / "gt" / "gt.txt", gt, fmt="%d", delimiter=",")
        res = np.concatenate(res_rows)
        res = res[np.lexsort((res[:, 1], res[:, 0]))]
        res = np.column_stack([res, -np.ones((res.shape[0], 3))])
        np.savetxt(res_dir / f"{name}.txt", res, fmt="%.6g", delimiter=",")
    return gt_root, res_dir


def timed_pairs(
    ours: Callable[[], object], theirs: Callable[[], object], repeats: int
) -> tuple[list[float], list[float]]:
    """Wall-clock seconds of `repeats` calls of each, alternating so both see the same load."""
    a, b = [], []
    for _ in range(repeats):
        for fn, out in ((ours, a), (theirs, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return a, b


def max_difference(ours: dict, theirs: dict) -> float:
    """Largest absolute difference over every field of every sequence and the combination."""
    worst = 0.0
    blocks = [(ours["COMBINED"], theirs["COMBINED"])]
    blocks += [(ours["sequences"][s], theirs["sequences"][s]) for s in theirs["sequences"]]
    for mine, ref in blocks:
        for field, value in ref.items():
            diff = np.abs(np.asarray(mine[field], float) - np.asarray(value, float))
            worst = max(worst, float(diff.max()))
    return worst


def run_process(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{cmd[:3]} failed with status {proc.returncode}:\n{proc.stderr[-2000:]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each measurement")
    parser.add_argument("--no-process", action="store_true", help="skip whole-process timing")
    args = parser.parse_args()
    real = os.environ.get("VIDLAB_REAL_DATA")
    with tempfile.TemporaryDirectory(prefix="mot_bench_") as tmp:
        tmp_path = Path(tmp)
        if real:
            gt_root, res_dir = build_real(Path(real), tmp_path)
            source = f"MOT17 train x {DETECTORS} with MPNTrack results ({real})"
        else:
            gt_root, res_dir = build_synthetic(tmp_path)
            source = "generated sequences (set VIDLAB_REAL_DATA for MOT17)"
        n_seq = len(list(gt_root.iterdir()))
        ours = evaluate_folder(gt_root, res_dir)  # warm-up: imports, caches
        theirs = trackeval_evaluate_folder(gt_root, res_dir)
        rows = []
        rows.append(("in process", *timed_pairs(
            lambda: evaluate_folder(gt_root, res_dir),
            lambda: trackeval_evaluate_folder(gt_root, res_dir),
            args.repeats,
        )))  # fmt: skip
        if not args.no_process:
            ours_cmd = [sys.executable, "evaluate.py", "task=mot_metrics", f"data.root={gt_root}",
                        f"results_dir={res_dir}", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
            theirs_cmd = [sys.executable, "-c", TRACKEVAL_SCRIPT, str(gt_root), str(res_dir)]
            rows.append(("whole process", *timed_pairs(
                lambda: run_process(ours_cmd), lambda: run_process(theirs_cmd), args.repeats
            )))  # fmt: skip
    print(f"{n_seq} sequences: {source}")
    print(f"max |vidlab - TrackEval| over all fields: {max_difference(ours, theirs):.3g}")
    print_table(
        f"MOT metrics speed, best (median) of {args.repeats}",
        ["measurement", "vidlab s", "TrackEval s", "speed-up (best)", "speed-up (median)"],
        [
            (name, f"{min(a):.2f} ({statistics.median(a):.2f})",
             f"{min(b):.2f} ({statistics.median(b):.2f})",
             f"{min(b) / min(a):.1f}x",
             f"{statistics.median([y / x for x, y in zip(a, b, strict=True)]):.1f}x")
            for name, a, b in rows
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
