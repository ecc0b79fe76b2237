"""Optical-flow speed at 480x270 on the CPU: OpenCV DIS (three presets), Farneback, RAFT-small.

Frames come from the synthetic shot generator (moving shapes over panning textures, 480x270,
seed stated). Each method runs over the same consecutive frame pairs after one warm-up pair; the
table gives pairs per second of flow computation alone, with ``--threads`` OpenCV / torch
threads. RAFT runs with random weights (speed does not depend on them; nothing is downloaded).
A last row times the whole ``task=flow`` path for DIS (decode, flow, float16 ``.npz`` chunks)::

    python benchmarks/flow_speed.py --threads 2 --pairs 60 [--raft-pairs 6]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import torch

from vidlab.data.synthetic.shots import ShotVideoSpec, iter_frames, write_shot_video
from vidlab.video.flow import DISFlow, FarnebackFlow, RaftFlow
from vidlab.video.flow_video import FlowOptions, video_flow


def _time_pairs(estimator, frames: list[np.ndarray], batch: int = 1) -> tuple[float, float]:
    """(pairs per second of wall time, CPU seconds (all threads) per pair)."""
    estimator(frames[0], frames[1])  # warm-up
    pairs = len(frames) - 1
    start, cpu = time.perf_counter(), time.process_time()
    if isinstance(estimator, RaftFlow):
        for i in range(0, pairs, batch):
            j = min(i + batch, pairs)
            estimator.batch(np.stack(frames[i:j]), np.stack(frames[i + 1 : j + 1]))
    else:
        for i in range(pairs):
            estimator(frames[i], frames[i + 1])
    return pairs / (time.perf_counter() - start), (time.process_time() - cpu) / pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--raft-pairs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    spec = ShotVideoSpec(
        num_shots=2, shot_frames=(args.pairs + 1, args.pairs + 1), fade_prob=0.0,
        static_prob=0.0, width=480, height=270, seed=args.seed,
    )  # fmt: skip
    frames = list(islice(iter_frames(spec), args.pairs + 1))
    rows = [(f"DIS {p}", _time_pairs(DISFlow(p), frames)) for p in ("ultrafast", "fast", "medium")]
    rows.append(("Farneback", _time_pairs(FarnebackFlow(), frames)))
    raft_frames = frames[: args.raft_pairs + 1]
    rows.append(("RAFT-small, 12 updates", _time_pairs(RaftFlow("raft_small"), raft_frames, 2)))
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "v.mp4"
        write_shot_video(video, spec)
        start, cpu = time.perf_counter(), time.process_time()
        n = len(video_flow(video, Path(tmp) / "out", DISFlow("fast"), FlowOptions()))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append(("task=flow, DIS fast (decode + flow + .npz)", (n / wall, cpu / n)))
    print(
        f"480x270, {args.pairs} frame pairs ({args.raft_pairs} for RAFT), {args.threads} threads, "
        f"torch {torch.__version__}, OpenCV {cv2.__version__}, seed {args.seed}"
    )
    print("| method | pairs/s (wall) | CPU ms per pair (all threads) |")
    print("|---|---|---|")
    for name, (fps, cpu) in rows:
        print(f"| {name} | {fps:.1f} | {cpu * 1000:.1f} |")


if __name__ == "__main__":
    main()
