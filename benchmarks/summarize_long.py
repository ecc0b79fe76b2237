"""Summarising an hour-long synthetic video: real-time factor, peak memory, frames analysed.

Generates (once, cached in ``--cache``) a long synthetic edited video at 320x180, 25 fps, with
long shots of which most are static (`vidlab.data.synthetic.shots`, seed stated), then runs
``python evaluate.py task=summarize`` on it once per sampler mode, each in a fresh process, and
prints the comparison: frames decoded and analysed, wall and CPU time of the summary (decoding
included, process start excluded; CPU time = user + system of the process, what the work costs on
an otherwise idle machine), real-time factors, peak RSS of the process, and shot F1 against the
generator's ground truth::

    OMP_NUM_THREADS=1 python benchmarks/summarize_long.py --minutes 60 --modes adaptive uniform
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vidlab.data.synthetic.shots import ShotVideoSpec, plan_shots, truth_path, write_shot_video

REPO = Path(__file__).resolve().parent.parent
FPS = 25.0


def long_spec(minutes: float, seed: int) -> ShotVideoSpec:
    """Shots of 20 s to 3 min, 70% static, 30% of transitions fades, about `minutes` long."""
    base = ShotVideoSpec(
        num_shots=1,
        shot_frames=(int(20 * FPS), int(180 * FPS)),
        fade_prob=0.3,
        fade_frames=(10, 25),
        static_prob=0.7,
        fps=FPS,
        seed=seed,
    )
    target, n = minutes * 60 * FPS, 1
    while plan_shots(base.__class__(**{**base.__dict__, "num_shots": n})).num_frames < target:
        n += 1
    return base.__class__(**{**base.__dict__, "num_shots": n})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", nargs="+", default=["adaptive", "uniform"])
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "bench_long")
    args = parser.parse_args()
    spec = long_spec(args.minutes, args.seed)
    video = args.cache / f"long_{args.minutes:g}min_seed{args.seed}.mp4"
    if not truth_path(video).is_file():
        start = time.perf_counter()
        truth = write_shot_video(video, spec, crf=23, preset="veryfast")
        print(
            f"generated {video} ({truth.num_frames} frames) in {time.perf_counter() - start:.0f} s"
        )
    truth = json.loads(truth_path(video).read_text())
    static = sum(s["static"] for s in truth["shots"])
    print(
        f"video: {truth['num_frames']} frames = {truth['num_frames'] / FPS / 60:.1f} min at "
        f"320x180, {FPS:g} fps, {len(truth['shots'])} shots ({static} static), "
        f"{len(truth['boundaries'])} transitions, seed {args.seed}"
    )
    rows = []
    for mode in args.modes:
        with tempfile.TemporaryDirectory() as run_dir:
            cmd = [
                sys.executable, str(REPO / "evaluate.py"), "task=summarize", f"source={video}",
                f"sampler.mode={mode}", f"hydra.run.dir={run_dir}",
            ]  # fmt: skip
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=os.environ.copy())
            total = time.perf_counter() - start
            m = json.loads((Path(run_dir) / "metrics.json").read_text())["metrics"]
        rows.append((mode, m, total))
    print(
        "| sampler | frames decoded | frames analysed | uniform-stride frames | summary wall s "
        "| process wall s | x real time (wall) | summary CPU s | x real time (CPU) | peak RSS MiB "
        "| shot F1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, m, total in rows:
        print(
            f"| {mode} | {m['summary/frames_decoded']} | {m['summary/frames_analysed']} "
            f"| {m['summary/uniform_stride_frames']} | {m['summary/wall_s']:.1f} | {total:.1f} "
            f"| {m['summary/realtime_factor']:.1f} | {m['summary/cpu_s']:.1f} "
            f"| {m['summary/realtime_factor_cpu']:.1f} | {m['summary/peak_rss_mb']:.0f} "
            f"| {m.get('test/shot_f1', float('nan')):.4f} |"
        )


if __name__ == "__main__":
    main()
