"""Stream throughput: decode + detection replay + ByteTrack, against supervision + trackers and
against decoding alone, side by side in one run.

    OMP_NUM_THREADS=1 python benchmarks/stream_throughput.py [--frames 600] [--repeats 3] [--cpus 0]

Data: one synthetic MOT scene (`vidlab.data.synthetic.mot`, 960x540, about 27 detections a frame)
rendered and encoded once to H.264 (``--cache``), with its simulated detector's boxes as det.txt.
Rows, each timed on wall clock (best of ``--repeats``):

- ``pyav decode``: PyAV demux + decode of every frame on one thread, no conversion (the floor of
  any loop, as the issue measured it).
- ``pyav decode, auto threads``: the same with FFmpeg's frame threading at FFmpeg's own thread
  count (CPUs + 1; one thread on one CPU): the floor for a loop allowed every core.
- ``pyav decode + rgb``: one thread plus conversion to full-size RGB arrays (what a naive loop
  pays).
- ``supervision + trackers``: ``sv.get_video_frames_generator`` (OpenCV, full-size BGR frames),
  ``sv.Detections`` from the same det.txt rows, ``trackers.ByteTrackTracker.update``.
- ``vidlab pipeline``: `vidlab.pipeline.Pipeline` with the file source at its defaults (FFmpeg
  picks the decoder threads, as OpenCV does for supervision), `ReplayDetector` (no pixels needed,
  so frames are decoded but never converted), ByteTrack; then the same with the default sinks
  (events.jsonl + store.sqlite), with a one-thread decoder, and with the decoder in a child process
  (``stream.decode_process=true``: Python work beside a decoder slows it, see
  benchmarks/decode_gil.py; the child's start-up is inside the timing).
- ``(no video) ... ByteTrack alone``: each side's tracker on the same rows without decoding: the
  tracking share of the loops above.

Cores. ``--cpus`` pins the whole run (every row, its threads and the decode process) to those CPUs.
OpenCV's FFmpeg backend, which supervision's generator uses, decodes with frame threads (number of
CPUs + 1) whatever ``cv2.setNumThreads`` says, in parallel with the Python loop; vidlab's file
source does the same by default (``stream.decode_threads``). ``--cpus 0`` compares the loops on one
core (the per-frame cost of the work); all cores compare them as they run by default. The ``cpu
ms/frame`` column is the process CPU time (every thread) per frame: what the work costs,
independent of how it is spread over cores (the decode process row leaves out the child's time).
Two ratio columns: against supervision + trackers, and against one-thread decoding alone; a third,
against decoding alone with the same decoder threads, is the stricter floor on several cores.

Bench-only dependencies: ``supervision`` and ``trackers`` (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from vidlab.data.synthetic.mot import SceneConfig, generate_sequence, render_sequence_frames
from vidlab.pipeline import Pipeline, StreamOptions
from vidlab.pipeline.detect import ReplayDetector
from vidlab.pipeline.sources import ProcessSource, VideoFileSource
from vidlab.tracking import create_tracker

#: About 27 detections a frame at 960x540.
SCENE = dict(width=960, height=540, frame_rate=25.0, initial_people=22, entries_per_frame=0.1)
BYTETRACK = dict(track_thresh=0.5, low_thresh=0.1, new_track_thresh=0.6, match_thresh=0.8)


def make_clip(folder: Path, frames: int, seed: int) -> tuple[Path, Path, float]:
    """Render + encode the scene once (cached); returns the video, its det.txt, dets / frame."""
    folder.mkdir(parents=True, exist_ok=True)
    video, det = folder / f"scene_{seed}_{frames}.mp4", folder / f"scene_{seed}_{frames}.txt"
    seq = generate_sequence(seed, SceneConfig(num_frames=frames, **SCENE))
    if not det.is_file():
        rows = np.column_stack([seq.det_frame, -np.ones(len(seq.det_frame)), seq.det_tlwh])
        rows = np.column_stack([rows, seq.det_score, -np.ones((len(rows), 3))])
        np.savetxt(det, rows, fmt=["%d", "%d"] + ["%.2f"] * 8, delimiter=",")
    if not video.is_file():
        tmp = video.with_suffix(".tmp.mp4")
        with av.open(str(tmp), "w") as out:
            stream = out.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 960, 540, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "23", "g": "50"}
            for f, bgr in render_sequence_frames(seq):
                frame = av.VideoFrame.from_ndarray(bgr[..., ::-1].copy(), format="rgb24")
                frame.pts, frame.time_base = f - 1, Fraction(1, 25)
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        tmp.rename(video)
    return video, det, len(seq.det_frame) / frames


def pyav_decode(video: Path, rgb: bool, threads: int = 1) -> int:
    n = 0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = threads
        if threads != 1:
            stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if rgb:
                frame.to_ndarray(format="rgb24")
            n += 1
    return n


def supervision_trackers(video: Path, det: Path) -> int:
    import supervision as sv
    from trackers import ByteTrackTracker

    rows = np.loadtxt(det, delimiter=",")
    bounds = np.searchsorted(rows[:, 0], np.arange(1, int(rows[:, 0].max()) + 2))
    tracker = ByteTrackTracker(frame_rate=25.0)
    n = 0
    for i, _frame in enumerate(sv.get_video_frames_generator(str(video))):
        r = rows[bounds[i] : bounds[i + 1]] if i + 1 < len(bounds) else rows[:0]
        xyxy = r[:, 2:6].copy()
        xyxy[:, 2:] += xyxy[:, :2]
        dets = sv.Detections(xyxy=xyxy, confidence=r[:, 6].copy(), class_id=np.zeros(len(r), int))
        tracker.update(dets)
        n += 1
    return n


def _det_rows(det: Path, frames: int) -> list[np.ndarray]:
    """Per frame, (N, 5) xyxy + score rows of det.txt."""
    rows = np.loadtxt(det, delimiter=",")
    bounds = np.searchsorted(rows[:, 0], np.arange(1, frames + 2))
    out = []
    for i in range(frames):
        r = rows[bounds[i] : bounds[i + 1]]
        out.append(np.column_stack([r[:, 2:4], r[:, 2:4] + r[:, 4:6], r[:, 6]]))
    return out


def tracker_alone(per_frame: list[np.ndarray], ours: bool) -> int:
    """ByteTrack's update loop on the det.txt rows, no video: the tracking share of each loop."""
    if ours:
        from vidlab.pipeline.types import Detections

        tracker = create_tracker("bytetrack", frame_rate=25.0, **BYTETRACK)
        for d in per_frame:
            tracker.update_tracks(Detections.from_array(d), None)
        return len(per_frame)
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(frame_rate=25.0)
    for d in per_frame:
        dets = sv.Detections(xyxy=d[:, :4], confidence=d[:, 4], class_id=np.zeros(len(d), int))
        tracker.update(dets)
    return len(per_frame)


def vidlab_pipeline(
    video: Path,
    det: Path,
    sinks_dir: Path | None = None,
    process: bool = False,
    threads: int | None = None,
) -> int:
    sinks = []
    if sinks_dir is not None:  # configs/sinks/default.yaml, written afresh every round
        from hydra.utils import instantiate
        from omegaconf import OmegaConf

        conf = OmegaConf.load(Path(__file__).parents[1] / "configs" / "sinks" / "default.yaml")
        shutil.rmtree(sinks_dir, ignore_errors=True)
        sinks_dir.mkdir(parents=True)
        sinks = [instantiate(node, run_dir=str(sinks_dir)) for node in conf.values() if node]
    source = VideoFileSource(video, threads=threads)
    pipe = Pipeline(
        [ProcessSource(source) if process else source],
        ReplayDetector(det),
        lambda s: create_tracker("bytetrack", frame_rate=s.fps, **BYTETRACK),
        sinks=sinks,
        options=StreamOptions(batch_size=8, queue_size=16),
    )
    return pipe.run()["metrics"]["stream/frames"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vidlab_bench")
    parser.add_argument(
        "--cpus", type=str, default=None, help="pin the run to these CPUs, e.g. 0 or 0,1"
    )
    args = parser.parse_args()
    if args.cpus:  # before any thread or process starts: they all inherit it
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    cv2.setNumThreads(1)
    video, det, per_frame = make_clip(args.cache, args.frames, args.seed)
    sinks_dir = args.cache / "sinks"
    per_frame_dets = _det_rows(det, args.frames)
    runs = {
        "pyav decode": lambda: pyav_decode(video, rgb=False),
        "pyav decode, auto threads": lambda: pyav_decode(video, rgb=False, threads=0),
        "pyav decode + rgb (full size)": lambda: pyav_decode(video, rgb=True),
        "supervision + trackers": lambda: supervision_trackers(video, det),
        "vidlab pipeline": lambda: vidlab_pipeline(video, det),
        "vidlab pipeline + default sinks": lambda: vidlab_pipeline(video, det, sinks_dir),
        "vidlab pipeline, 1 decoder thread": lambda: vidlab_pipeline(video, det, threads=1),
        "vidlab pipeline, decode process": lambda: vidlab_pipeline(video, det, process=True),
        "(no video) vidlab ByteTrack alone": lambda: tracker_alone(per_frame_dets, ours=True),
        "(no video) trackers ByteTrack alone": lambda: tracker_alone(per_frame_dets, ours=False),
    }
    # the decode-alone row with the same decoder threads as each row (the stricter floor)
    same_threads = {"pyav decode + rgb (full size)": "pyav decode"}
    same_threads["vidlab pipeline, 1 decoder thread"] = "pyav decode"
    for name in ("vidlab pipeline", "vidlab pipeline + default sinks"):
        same_threads[name] = "pyav decode, auto threads"
    best: dict[str, tuple[float, float]] = {}  # name -> (wall s, cpu s) of the fastest round
    frames: dict[str, int] = {}
    for _ in range(args.repeats):  # interleaved rounds: machine noise hits every row alike
        for name, fn in runs.items():
            start, cpu = time.perf_counter(), time.process_time()
            frames[name] = fn()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            if wall < best.get(name, (float("inf"), 0.0))[0]:
                best[name] = (wall, cpu)
    fps = {k: frames[k] / best[k][0] for k in runs}
    cpus = sorted(os.sched_getaffinity(0))
    table = Table(
        title=f"stream throughput: {args.frames} frames 960x540 h264, {per_frame:.1f} det/frame, "
        f"best of {args.repeats}, CPUs {cpus}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}"
    )
    columns = ("loop", "frames", "fps", "cpu ms/frame", "x supervision+trackers", "x pyav decode")
    for col in (*columns, "x decode, same threads"):
        table.add_column(col, justify="left" if col == "loop" else "right")
    for name in runs:
        floor = same_threads.get(name)
        table.add_row(
            name,
            str(frames[name]),
            f"{fps[name]:.0f}",
            f"{best[name][1] / frames[name] * 1e3:.2f}",
            f"{fps[name] / fps['supervision + trackers']:.2f}",
            f"{fps[name] / fps['pyav decode']:.2f}",
            f"{fps[name] / fps[floor]:.2f}" if floor else "",
        )
    Console(width=130).print(table)


if __name__ == "__main__":  # guard: the decode process is spawned
    main()
