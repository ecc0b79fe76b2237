"""Analytics events against scripted ground truth: oracle tracks vs. a tracker on simulated detections.

    python benchmarks/analytics_accuracy.py --seeds 0 1 2 [--tracker bytetrack] [--tolerance 1.0]

For each seed, generates the `data=synthetic_scene` scene (its layout, ground-truth events and
simulated ``det.txt``), runs the analytics on the ground-truth tracks (oracle) and on the tracker's
tracks over the simulated detections, scores both against ``events_gt.jsonl``
(`vidlab.evaluation.events.score_events`) and prints F1 per event type and the line / zone count
errors, one row per seed and track source.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vidlab.analytics.run import analyze_scene
from vidlab.data.synthetic.scene import EVENTS_FILE, generate_scene, write_scene
from vidlab.evaluation.events import EVENT_TYPES, read_events, score_events
from vidlab.utils.reporting import print_table

# Every type but `action`: the scripted scenes have no tracklet actions.
TYPES = tuple(t for t in EVENT_TYPES if t != "action")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tracker", default="bytetrack")
    parser.add_argument("--tolerance", type=float, default=1.0, help="seconds")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            folder = write_scene(Path(tmp), generate_scene(seed))
            gt = read_events(folder / EVENTS_FILE)
            for source in ("oracle", args.tracker):
                start = time.perf_counter()
                pred = [e.to_dict() for e in analyze_scene(folder, source)]
                seconds = time.perf_counter() - start
                m = score_events(pred, gt, tolerance_s=args.tolerance)["metrics"]
                rows.append(
                    [seed, source, len(gt)]
                    + [
                        f"{m[f'events/{t}/F1']:.3f}" if f"events/{t}/F1" in m else "-"
                        for t in TYPES
                    ]
                    + [
                        f"{m['counts/line_error']:.3f}",
                        f"{m['counts/zone_error']:.3f}",
                        f"{seconds:.1f}",
                    ]
                )
    print_table(
        f"analytics F1 vs scripted ground truth (tolerance {args.tolerance:g} s)",
        ["seed", "tracks", "gt events", *TYPES, "line err", "zone err", "s"],
        rows,
    )


if __name__ == "__main__":
    main()
