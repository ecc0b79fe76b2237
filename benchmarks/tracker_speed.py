"""Speed and accuracy of our ByteTrack and OC-SORT against ultralytics' trackers, side by side.

    python benchmarks/tracker_speed.py [--repeats 5] [--datasets synthetic mot15]

Both implementations get identical per-frame detection arrays (built before timing). Only the
``update`` loops are timed, with the process CPU clock (``time.process_time``: on a shared machine
it counts this process's own work, not the time other processes hold the cores), alternating
ours/theirs sequence by sequence for ``--repeats`` rounds. Each sequence's time is its fastest round
(the ``timeit`` convention: the least disturbed run), frames per second is total frames over the sum
of those, and the speed-up is the ratio of those sums; the per-round ratios (median, min) are shown
next to it as a measure of the noise. Accuracy (HOTA, MOTA, IDF1) comes from
:func:`vidlab.evaluation.mot.evaluate_tables` on the same outputs. Data: the synthetic generator (4
sequences x 300 frames) and, when ``$VIDLAB_REAL_DATA`` is set, MOT15 train with the Faster R-CNN
detections of the SORT paper.

Settings are matched: ByteTrack uses the paper's MOT17 values on both sides (0.5 / 0.1 / 0.6, match
0.8, 30-frame buffer, score fusion); ultralytics does not scale the buffer by frame rate, so ours
runs with ``frame_rate=30`` here too. Ultralytics' OC-SORT is OC-SORT's ideas on ByteTrack's
skeleton, not the reference algorithm: it is given the paper's score threshold 0.6, an IoU gate of
0.3 (cost 0.7), a 30-frame buffer, delta_t 3, inertia 0.2, no score fusion, no BYTE stage.

Requires ``ultralytics`` (benchmark-only dependency) and ``lap``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from vidlab.data.synthetic.mot import SceneConfig, generate_sequence
from vidlab.evaluation.mot import evaluate_tables
from vidlab.evaluation.mot.io import MotTable, SeqInfo, find_sequences, read_mot_txt, read_seqinfo
from vidlab.tracking import create_tracker

# The papers' MOT17 settings, given to both implementations.
BYTETRACK = dict(
    track_thresh=0.5, low_thresh=0.1, new_track_thresh=0.6, match_thresh=0.8, track_buffer=30
)
OCSORT = dict(det_thresh=0.6, max_age=30, min_hits=3, iou_threshold=0.3, delta_t=3, inertia=0.2)


@dataclass
class Sequence:
    """One sequence's inputs: per-frame ``(N, 5)`` xyxy+score arrays and its ground truth."""

    info: SeqInfo
    frames: list[np.ndarray]
    gt: MotTable


class UltralyticsBoxes:
    """The minimal ``Results``-like object ultralytics' trackers read (conf, cls, xywh, xyxy)."""

    def __init__(self, dets: np.ndarray) -> None:
        self.xyxy = dets[:, :4]
        self.conf = dets[:, 4]
        self.cls = np.zeros(len(dets))
        wh = dets[:, 2:4] - dets[:, :2]
        self.xywh = np.concatenate([dets[:, :2] + wh / 2, wh], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> UltralyticsBoxes:
        out = object.__new__(UltralyticsBoxes)
        out.xyxy, out.conf, out.cls, out.xywh = (
            self.xyxy[index],
            self.conf[index],
            self.cls[index],
            self.xywh[index],
        )
        return out


def _det_arrays(info: SeqInfo, det: MotTable) -> list[np.ndarray]:
    bounds = np.searchsorted(det.frame, np.arange(1, info.seq_length + 2))
    out = []
    for f in range(info.seq_length):
        tlwh, score = det.tlwh[bounds[f] : bounds[f + 1]], det.score[bounds[f] : bounds[f + 1]]
        out.append(np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:], score[:, None]], axis=1))
    return out


def synthetic_sequences(n: int = 4, num_frames: int = 300) -> dict[str, Sequence]:
    out = {}
    for k in range(1, n + 1):
        s = generate_sequence(1000 + k, SceneConfig(num_frames=num_frames), name=f"SYN-{k:02d}")
        cfg = s.config
        info = SeqInfo(
            s.name, cfg.num_frames, cfg.frame_rate, cfg.width, cfg.height, "img1", ".jpg"
        )
        consider = (s.gt_class == 1).astype(float)
        gt = MotTable.from_arrays(
            s.gt_frame, s.gt_id, s.gt_tlwh, consider, s.gt_class, s.gt_visibility
        )
        no_id = -np.ones(len(s.det_frame))
        det = MotTable.from_arrays(s.det_frame, no_id, s.det_tlwh, s.det_score)
        out[s.name] = Sequence(info, _det_arrays(info, det), gt)
    return out


def mot15_sequences(root: Path) -> dict[str, Sequence]:
    out = {}
    for folder in find_sequences(root):
        info = read_seqinfo(folder)
        det = read_mot_txt(folder / "det" / "det.txt", kind="det", num_frames=info.seq_length)
        gt = read_mot_txt(folder / "gt" / "gt.txt", kind="gt", num_frames=info.seq_length)
        out[folder.name] = Sequence(info, _det_arrays(info, det), gt)
    return out


def run_ours(make: Callable, seq: Sequence) -> tuple[float, list[np.ndarray]]:
    """CPU seconds spent in update() over one sequence, and its per-frame (M, 6) outputs."""
    tracker = make()
    start = time.process_time()
    rows = [tracker.update(d) for d in seq.frames]
    return time.process_time() - start, rows


def run_ultralytics(make: Callable, seq: Sequence) -> tuple[float, list[np.ndarray]]:
    tracker = make()
    inputs = [UltralyticsBoxes(d) for d in seq.frames]
    start = time.process_time()
    rows = [tracker.update(b) for b in inputs]
    elapsed = time.process_time() - start
    return elapsed, [r[:, :6].reshape(-1, 6) if len(r) else np.zeros((0, 6)) for r in rows]


def score(
    seqs: dict[str, Sequence], outputs: dict[str, list[np.ndarray]], benchmark: str
) -> dict[str, float]:
    results = {}
    for name, rows in outputs.items():
        frame = np.concatenate([np.full(len(r), f + 1) for f, r in enumerate(rows)])
        arr = np.concatenate(rows) if rows else np.zeros((0, 6))
        tlwh = np.concatenate([arr[:, :2], arr[:, 2:4] - arr[:, :2]], axis=1)
        results[name] = MotTable.from_arrays(frame, arr[:, 4], tlwh, arr[:, 5])
    gt = {name: (s.info, s.gt) for name, s in seqs.items()}
    c = evaluate_tables(gt, results, benchmark=benchmark)["COMBINED"]
    return {k: float(np.mean(c[k])) for k in ("HOTA", "MOTA", "IDF1")}


def ultralytics_factories() -> dict[str, Callable]:
    from ultralytics.trackers import OCSORT as UOCSORT
    from ultralytics.trackers import BYTETracker

    byte_args = types.SimpleNamespace(
        track_high_thresh=0.5,
        track_low_thresh=0.1,
        new_track_thresh=0.6,
        track_buffer=30,
        match_thresh=0.8,
        fuse_score=True,
    )
    oc_args = types.SimpleNamespace(
        track_high_thresh=0.6,
        track_low_thresh=0.1,
        new_track_thresh=0.6,
        track_buffer=30,
        match_thresh=0.7,
        fuse_score=False,
        delta_t=3,
        inertia=0.2,
        use_byte=False,
    )
    return {"bytetrack": lambda: BYTETracker(byte_args), "ocsort": lambda: UOCSORT(oc_args)}


def _time_pair(ours: Callable, theirs: Callable, seqs: dict[str, Sequence], repeats: int):
    """Fastest CPU time per sequence for both, the per-round ratios, and the last outputs."""
    best_ours = dict.fromkeys(seqs, np.inf)
    best_theirs = dict.fromkeys(seqs, np.inf)
    ratios = []
    for _ in range(repeats):
        out_ours, out_theirs = {}, {}
        round_ours = round_theirs = 0.0
        for seq_name, seq in seqs.items():  # alternate per sequence: both see the same machine
            dt, out_ours[seq_name] = run_ours(ours, seq)
            best_ours[seq_name] = min(best_ours[seq_name], dt)
            round_ours += dt
            dt, out_theirs[seq_name] = run_ultralytics(theirs, seq)
            best_theirs[seq_name] = min(best_theirs[seq_name], dt)
            round_theirs += dt
        ratios.append(round_theirs / round_ours)
    times = (sum(best_ours.values()), sum(best_theirs.values()))
    return times, ratios, out_ours, out_theirs


def compare(
    name: str, seqs: dict[str, Sequence], benchmark: str, repeats: int, table: Table
) -> None:
    """Add two rows per tracker (ours, ultralytics) to ``table``."""
    theirs = ultralytics_factories()
    ours = {
        "bytetrack": lambda: create_tracker("bytetrack", frame_rate=30.0, **BYTETRACK),
        "ocsort": lambda: create_tracker("ocsort", **OCSORT),
    }
    frames = sum(s.info.seq_length for s in seqs.values())
    for tracker in ("bytetrack", "ocsort"):
        (t_ours, t_theirs), ratios, out_ours, out_theirs = _time_pair(
            ours[tracker], theirs[tracker], seqs, repeats
        )
        s_ours, s_theirs = score(seqs, out_ours, benchmark), score(seqs, out_theirs, benchmark)
        speedup = f"{t_theirs / t_ours:.2f}x"
        noise = f"{statistics.median(ratios):.2f} / {min(ratios):.2f}"
        for who, seconds, s in (("vidlab", t_ours, s_ours), ("ultralytics", t_theirs, s_theirs)):
            mine = who == "vidlab"
            table.add_row(
                name,
                tracker,
                who,
                f"{frames / seconds:,.0f}",
                f"{100 * s['HOTA']:.2f}",
                f"{100 * s['MOTA']:.2f}",
                f"{100 * s['IDF1']:.2f}",
                speedup if mine else "",
                noise if mine else "",
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--datasets", nargs="+", default=["synthetic", "mot15"], choices=["synthetic", "mot15"]
    )
    args = parser.parse_args()
    table = Table(title="tracker update-loop speed and accuracy (same detections, one process)")
    columns = (
        "data",
        "tracker",
        "impl.",
        "frames/s",
        "HOTA",
        "MOTA",
        "IDF1",
        "speed-up",
        "rounds med/min",
    )
    for col in columns:
        table.add_column(col, justify="right", no_wrap=True)
    if "synthetic" in args.datasets:
        compare("synthetic", synthetic_sequences(), "MOT17", args.repeats, table)
    if "mot15" in args.datasets:
        real = os.environ.get("VIDLAB_REAL_DATA")
        root = Path(real) / "MOT15" / "train" if real else None
        if root is None or not root.is_dir():
            Console().print(
                "[yellow]VIDLAB_REAL_DATA/MOT15/train not found: MOT15 skipped[/yellow]"
            )
        else:
            compare("MOT15 train", mot15_sequences(root), "MOT15", args.repeats, table)
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
