"""Shot-boundary detection on synthetic edited videos with cuts and fades at known frames.

Writes one synthetic video per seed (`vidlab.data.synthetic.shots`), runs PySceneDetect's content
and adaptive detectors through `vidlab.video.shots.ShotBoundaryDetector` with and without the fade
detector, and prints precision, recall and F1 (1-frame tolerance; counts summed over the seeds)
side by side, per transition kind, with the decode + detect speed::

    OMP_NUM_THREADS=1 python benchmarks/shot_detection.py --seeds 0 1 2 3 4 [--shots 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vidlab.data.synthetic.shots import ShotVideoSpec, write_shot_video
from vidlab.evaluation.shots import BoundaryScore, score_boundaries
from vidlab.video.shots import ShotSettings, detect_shots

VARIANTS = {
    "content + fades": ShotSettings(detector="content"),
    "content": ShotSettings(detector="content", fades=False),
    "adaptive + fades": ShotSettings(detector="adaptive"),
    "adaptive": ShotSettings(detector="adaptive", fades=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--shots", type=int, default=20, help="shots per video")
    parser.add_argument("--shot-frames", type=int, nargs=2, default=[30, 90], help="min max")
    parser.add_argument("--fade-frames", type=int, nargs=2, default=[6, 12], help="min max")
    parser.add_argument("--tolerance", type=int, default=1, help="frames")
    args = parser.parse_args()
    totals = {name: {"all": BoundaryScore(0, 0, 0)} for name in VARIANTS}
    seconds = dict.fromkeys(VARIANTS, 0.0)
    frames = transitions = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            path = Path(tmp) / f"shots_{seed}.mp4"
            spec = ShotVideoSpec(
                num_shots=args.shots,
                shot_frames=tuple(args.shot_frames),
                fade_frames=tuple(args.fade_frames),
                seed=seed,
            )
            truth = write_shot_video(path, spec)
            frames += truth.num_frames
            transitions += len(truth.boundaries)
            for name, settings in VARIANTS.items():
                start = time.perf_counter()
                found, _n = detect_shots(str(path), settings)
                seconds[name] += time.perf_counter() - start
                predicted = [b.frame for b in found]
                totals[name]["all"] += score_boundaries(predicted, truth.boundaries, args.tolerance)
                for kind in ("cut", "fade"):
                    true_k = [
                        b for b, k in zip(truth.boundaries, truth.kinds, strict=True) if k == kind
                    ]
                    # per kind: recall only (a false positive belongs to no kind)
                    hit = score_boundaries(predicted, true_k, args.tolerance)
                    prev = totals[name].get(kind, BoundaryScore(0, 0, 0))
                    totals[name][kind] = prev + BoundaryScore(hit.tp, 0, hit.fn)
    print(
        f"seeds {args.seeds}: {len(args.seeds)} videos, {frames} frames at 320x180, "
        f"{transitions} transitions, shots of {args.shot_frames} frames, fades of "
        f"{args.fade_frames} frames out + in, tolerance {args.tolerance} frame(s)"
    )
    print("| detector | precision | recall | F1 | cut recall | fade recall | fps |")
    print("|---|---|---|---|---|---|---|")
    for name in VARIANTS:
        s = totals[name]
        print(
            f"| {name} | {s['all'].precision:.4f} | {s['all'].recall:.4f} | {s['all'].f1:.4f} "
            f"| {s['cut'].recall:.4f} | {s['fade'].recall:.4f} | {frames / seconds[name]:.0f} |"
        )


if __name__ == "__main__":
    main()
