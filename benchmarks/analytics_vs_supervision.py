"""Line and zone counts of vidlab's analytics and supervision's LineZone / PolygonZone, on the same
tracks, against the scripted ground truth of `data=synthetic_scene`.

    python benchmarks/analytics_vs_supervision.py [--seeds 0 1 2] [--tracker bytetrack]

For each seed and track source (ground-truth tracks "oracle", and the tracker on the simulated
detections), every layout line goes through vidlab's `LineAnalyzer` and through
``sv.LineZone`` twice: with its defaults (all four box corners must change side, counted on the
first frame, ``minimum_crossing_threshold=1``) and configured like ours (bottom-centre anchor,
``minimum_crossing_threshold`` = our ``min_frames``). Zones go through `ZoneAnalyzer` and
``sv.PolygonZone`` (bottom-centre anchor; it reports membership only, so entries are counted
here as outside -> inside changes of a tracker id, the way people build counters on it).
Prints, per seed and source, the relative error of the total line count
(``|pred - true| / true``, vidlab's ``counts/line_error``), the per-direction error
(``sum |pred - true| / sum true`` over lines and directions) and the zone-entry error.
Needs the bench extra: ``pip install supervision``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import supervision as sv

from vidlab.analytics import build_analyzers, run_analytics
from vidlab.analytics.layout import layout_for, load_layouts
from vidlab.analytics.run import scene_track_frames
from vidlab.data.synthetic.scene import EVENTS_FILE, LAYOUT_FILE, generate_scene, write_scene
from vidlab.evaluation.events import read_events
from vidlab.utils.reporting import print_table


def _point(p) -> sv.Point:
    return sv.Point(float(p[0]), float(p[1]))


def _in_is_svin(line) -> bool:
    """Whether supervision's `in` is our `in` for this line (probe: a box walking along
    `in_direction` through the segment's middle)."""
    zone = sv.LineZone(
        _point(line.start), _point(line.end), triggering_anchors=[sv.Position.BOTTOM_CENTER]
    )
    mid = (line.start + line.end) / 2
    for s in np.linspace(-40, 40, 9):
        x, y = mid + s * line.in_direction
        zone.trigger(sv.Detections(np.array([[x - 5, y - 20, x + 5, y]]), tracker_id=np.array([1])))
    assert zone.in_count + zone.out_count == 1, "probe did not cross"
    return zone.in_count == 1


def _supervision_counts(layout, frames, *, like_ours: bool) -> tuple[Counter, Counter]:
    def options(line) -> dict:
        if not like_ours:
            return {}
        anchors = [sv.Position.BOTTOM_CENTER]
        return {"triggering_anchors": anchors, "minimum_crossing_threshold": line.min_frames}

    lines = [
        (
            line,
            sv.LineZone(_point(line.start), _point(line.end), **options(line)),
            _in_is_svin(line),
        )
        for line in layout.lines
    ]
    zones = [(z, sv.PolygonZone(np.round(z.polygon).astype(np.int64))) for z in layout.zones]
    inside: dict[tuple[str, int], bool] = {}
    entries: Counter = Counter()
    for _, _, tracks in frames:
        det = sv.Detections(tracks.xyxy.copy(), tracker_id=tracks.track_id.copy())
        for _, zone, _ in lines:
            zone.trigger(det)
        for z, zone in zones:
            mask = zone.trigger(det)
            for tid, now in zip(tracks.track_id.tolist(), mask.tolist(), strict=True):
                before = inside.get((z.name, tid))
                if before is False and now:
                    entries[z.name] += 1
                inside[(z.name, tid)] = now
    counts = Counter()
    for line, zone, same in lines:
        counts[(line.name, "in")] = zone.in_count if same else zone.out_count
        counts[(line.name, "out")] = zone.out_count if same else zone.in_count
    return counts, entries


def _errors(counts: Counter, entries: Counter, gt: list[dict]) -> tuple[float, float, float]:
    true_lines = Counter((e["item"], e["label"]) for e in gt if e["type"] == "line_crossing")
    true_zones = Counter(e["item"] for e in gt if e["type"] == "zone_enter")
    total = sum(true_lines.values())
    keys = set(true_lines) | set(counts)
    per_dir = sum(abs(counts[k] - true_lines[k]) for k in keys) / total
    zone_total = sum(true_zones.values())
    return (
        abs(sum(counts.values()) - total) / total,
        per_dir,
        abs(sum(entries.values()) - zone_total) / zone_total,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tracker", default="bytetrack")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            folder = write_scene(Path(tmp), generate_scene(seed))
            gt = read_events(folder / EVENTS_FILE)
            layout = layout_for(load_layouts(folder / LAYOUT_FILE), folder.name)
            for source in ("oracle", args.tracker):
                frames, size = scene_track_frames(folder, source)
                events = run_analytics(
                    build_analyzers(layout), frames, camera=folder.name, frame_size=size
                )
                ours = Counter((e.item, e.label) for e in events if e.type == "line_crossing")
                ours_z = Counter(e.item for e in events if e.type == "zone_enter")
                results = {"vidlab": (ours, ours_z)}
                results["sv default"] = _supervision_counts(layout, frames, like_ours=False)
                results["sv like ours"] = _supervision_counts(layout, frames, like_ours=True)
                for name, (counts, entries) in results.items():
                    line_err, dir_err, zone_err = _errors(counts, entries, gt)
                    rows.append([seed, source, name, sum(counts.values()), f"{line_err:.3f}", f"{dir_err:.3f}",
                                 sum(entries.values()), f"{zone_err:.3f}"])  # fmt: skip
            true_lines = sum(e["type"] == "line_crossing" for e in gt)
            true_zones = sum(e["type"] == "zone_enter" for e in gt)
            rows.append([seed, "truth", "", true_lines, "", "", true_zones, ""])
    print_table(
        f"line / zone counts vs scripted truth (supervision {sv.__version__})",
        [
            "seed",
            "tracks",
            "counter",
            "crossings",
            "line err",
            "per-dir err",
            "zone entries",
            "zone err",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
