"""Speed of vidlab's localization mAP against the official ActivityNet code on the same inputs.

    python benchmarks/localization_eval_speed.py [--videos 500] [--predictions 40] [--repeats 3]

A synthetic ActivityNet-sized set: `--videos` videos with 1-4 ground-truth segments each over 20
classes, and `--predictions` jittered, partly mislabelled predictions per video (ActivityNet
submissions keep ~100 per video). Both sides get the same `SegmentTable`s and the ten ActivityNet
thresholds; the official side is `compute_average_precision_detection` of ActionFormer 1.5.0's
verbatim copy, called per class on data frames built as the official ``ANETdetection`` builds them
(`vidlab.evaluation.localization.reference`; fetch it first with
``python -m vidlab.evaluation.localization.reference --fetch``). The official code runs one class
per joblib worker; here both sides run on one core, class after class. The table gives the best
and median time of the repeats, their ratio, and the largest AP difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from vidlab.evaluation.localization import ACTIVITYNET_TIOU, SegmentTable, evaluate_localization
from vidlab.evaluation.localization.reference import load_reference, reference_ap
from vidlab.utils.reporting import print_table

NUM_CLASSES = 20


def make_set(videos: int, per_video: int, seed: int = 0) -> tuple[SegmentTable, SegmentTable]:
    rng = np.random.default_rng(seed)
    gv, gs, gl = [], [], []
    for v in range(videos):
        duration = rng.uniform(60, 240)
        for _ in range(rng.integers(1, 5)):
            start = rng.uniform(0, duration * 0.8)
            gv.append(f"v{v}")
            gs.append((start, min(duration, start + rng.uniform(2, 60))))
            gl.append(f"class{rng.integers(NUM_CLASSES)}")
    gs = np.array(gs)
    gv_arr = np.array(gv, dtype=object)
    pv, ps, pl = [], [], []
    for v in range(videos):
        rows = np.flatnonzero(gv_arr == f"v{v}")
        for i in rng.choice(rows, per_video):
            length = gs[i, 1] - gs[i, 0]
            start, end = gs[i] + rng.normal(0, 0.3 * length, 2)
            pv.append(f"v{v}")
            ps.append((min(start, end), max(start, end) + 0.1))
            pl.append(gl[i] if rng.random() < 0.7 else f"class{rng.integers(NUM_CLASSES)}")
    scores = rng.uniform(size=len(pv))
    return SegmentTable.from_rows(gv, gs, gl), SegmentTable.from_rows(pv, ps, pl, scores)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=500)
    parser.add_argument("--predictions", type=int, default=40, help="per video")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    official = load_reference()
    if official is None:
        sys.exit("reference absent: run python -m vidlab.evaluation.localization.reference --fetch")
    gt, pred = make_set(args.videos, args.predictions)
    thresholds = list(ACTIVITYNET_TIOU)
    ours_t, ref_t = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = evaluate_localization(gt, pred, thresholds)
        ours_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        _, ap = reference_ap(official, gt, pred, thresholds)
        ref_t.append(time.perf_counter() - start)
    diff = float(np.abs(ours.ap - ap).max())
    rows = [
        ["vidlab (numpy)", min(ours_t), statistics.median(ours_t)],
        ["official (pandas)", min(ref_t), statistics.median(ref_t)],
        ["official / vidlab", min(ref_t) / min(ours_t),
         statistics.median(ref_t) / statistics.median(ours_t)],
    ]  # fmt: skip
    print_table(
        f"Localization mAP: {len(gt)} ground truths, {len(pred)} predictions, "
        f"{len(thresholds)} thresholds; max |AP difference| {diff:.1e}; average mAP "
        f"{ours.average_mAP:.4f}",
        ["", "best (s)", "median (s)"],
        rows,
    )


if __name__ == "__main__":
    main()
