"""Cost of the analytics per frame: 50 tracks, 10 zones, 10 lines (and the other rules).

    python benchmarks/analytics_cost.py [--tracks 50] [--zones 10] [--lines 10] [--frames 2000]

Random walkers (bottom-centre paths with heading noise) on a 1920x1080 camera, ids replaced as
walkers leave; the zones are random convex polygons and the lines random segments. Prints ms per
frame of each analyzer and of all of them together (`run_analytics`'s loop without the I/O), as
wall time and as this process's CPU time (the wall time of a shared, loaded machine includes
the time other processes held the core). Set OMP_NUM_THREADS=1 for a one-thread figure.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vidlab.analytics import build_analyzers, parse_layouts
from vidlab.pipeline.types import Frame, FrameResult, Tracks
from vidlab.utils.reporting import print_table

W, H = 1920, 1080


def _layout(rng: np.random.Generator, zones: int, lines: int) -> dict:
    def poly() -> list[list[float]]:
        cx, cy = rng.uniform(200, W - 200), rng.uniform(200, H - 200)
        a = np.sort(rng.uniform(0, 2 * np.pi, 6))
        r = rng.uniform(60, 180)
        return [[float(cx + r * np.cos(t)), float(cy + r * np.sin(t))] for t in a]

    def seg() -> list[list[float]]:
        p = rng.uniform([100, 100], [W - 100, H - 100])
        q = np.clip(p + rng.normal(0, 300, 2), 0, [W, H])
        return [p.tolist(), q.tolist()]

    return {
        "cameras": {
            "*": {
                "frame_size": [W, H],
                "homography": {
                    "image_points": [[0, H], [W, H], [W, 300], [0, 300]],
                    "ground_points": [[0, 0], [30, 0], [50, 40], [-20, 40]],
                },
                "zones": [
                    {
                        "name": f"z{k}",
                        "polygon": poly(),
                        **({"allowed_direction": [1, 0]} if k < 2 else {}),
                        **({"crowding": {"max_occupancy": 3, "min_seconds": 2.0}} if k < 3 else {}),
                    }
                    for k in range(zones)
                ],  # fmt: skip
                "lines": [{"name": f"l{k}", "points": seg()} for k in range(lines)],
                "loitering": {"radius": 1.0, "seconds": 10.0},
                "speed": {"window_s": 1.0, "max_speed_mps": 3.0},
                "heatmap": {"half_life_s": 30.0, "cell_px": 8},
            }
        }
    }


def _frames(rng: np.random.Generator, tracks: int, frames: int, fps: float = 25.0):
    pos = rng.uniform([0, 300], [W, H], (tracks, 2))
    heading = rng.uniform(-np.pi, np.pi, tracks)
    ids = np.arange(1, tracks + 1)
    next_id = tracks + 1
    out = []
    for i in range(frames):
        heading += rng.normal(0, 0.05, tracks)
        pos += 3.0 * np.stack([np.cos(heading), np.sin(heading)], 1)
        gone = (pos[:, 0] < 0) | (pos[:, 0] > W) | (pos[:, 1] < 300) | (pos[:, 1] > H)
        k = int(gone.sum())
        pos[gone] = rng.uniform([0, 300], [W, H], (k, 2))
        ids[gone] = np.arange(next_id, next_id + k)
        next_id += k
        h = 60 + 140 * (pos[:, 1] - 300) / (H - 300)
        xyxy = np.stack([pos[:, 0] - 0.2 * h, pos[:, 1] - h, pos[:, 0] + 0.2 * h, pos[:, 1]], 1)
        frame = Frame("cam", i, i / fps, 0.0, None, (W, H))
        out.append(FrameResult(frame, tracks=Tracks(xyxy, ids.copy(), np.ones(tracks))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50)
    parser.add_argument("--zones", type=int, default=10)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    layout = parse_layouts(_layout(rng, args.zones, args.lines))["*"]
    frames = _frames(rng, args.tracks, args.frames)
    analyzers = build_analyzers(layout)
    wall = np.zeros(len(analyzers))
    cpu = np.zeros(len(analyzers))
    events = 0
    warm = min(100, len(frames) // 10)
    for n, result in enumerate(frames):
        for k, analyzer in enumerate(analyzers):
            w0, c0 = time.perf_counter(), time.process_time()
            events += len(analyzer.update(result))
            if n >= warm:
                wall[k] += time.perf_counter() - w0
                cpu[k] += time.process_time() - c0
    scale = 1e3 / (len(frames) - warm)
    names = [type(a).__name__ for a in analyzers]
    core = np.array([name in ("ZoneAnalyzer", "LineAnalyzer") for name in names])
    rows = [
        [name, f"{w * scale:.3f}", f"{c * scale:.3f}"]
        for name, w, c in zip(names, wall, cpu, strict=True)
    ]
    rows.append(
        [
            f"zones + lines ({args.zones} + {args.lines})",
            f"{wall[core].sum() * scale:.3f}",
            f"{cpu[core].sum() * scale:.3f}",
        ]
    )
    rows.append(["all analyzers", f"{wall.sum() * scale:.3f}", f"{cpu.sum() * scale:.3f}"])
    print_table(
        f"analytics cost, ms/frame ({args.tracks} tracks, {len(frames) - warm} frames, {events} events)",
        ["analyzer", "wall ms/frame", "CPU ms/frame"],
        rows,
    )


if __name__ == "__main__":
    main()
