"""Flow over a whole video, streamed: ``flow/*.npz`` chunks, per-frame motion, colour pictures.

`video_flow` decodes the video frame by frame at reduced size (`vidlab.data.io.stream`), estimates
the flow from each frame to the next (`vidlab.video.flow`; RAFT in batches of pairs), and writes

- ``flow/flow_<first frame>.npz``: ``chunk`` pairs per file in the format of
  `vidlab.data.io.flow_store` (int16 in 1/32 px steps, compressed), so memory holds one chunk
  (plus the one being compressed in the background) at most;
- ``motion.csv``: per pair, frame, time, mean and 95th-percentile flow magnitude (pixels);
- ``motion.png``: the mean magnitude over time;
- optionally colour-wheel pictures: ``flow_png/<frame>.png`` every ``png_every`` pairs and
  ``flow.mp4``.

`vidlab.data.io.flow_store.read_flow` / ``read_clip_flow`` read them back (the flow input of the
data pipeline).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidlab.data.io.flow_store import quantize_flow, write_flow_chunk
from vidlab.video.flow import FlowEstimator, RaftFlow, flow_to_color, magnitude_stats

log = logging.getLogger(__name__)

FLOW_DIR = "flow"


@dataclass(frozen=True)
class FlowOptions:
    """Options of `video_flow` (``flow.*`` of ``task=flow``, besides the method).

    Attributes:
        max_side: longer side of the frames flow is computed on, pixels (None: stored size).
        save: write the ``flow/*.npz`` chunks.
        chunk: flow fields per ``.npz`` file.
        batch: frame pairs per RAFT call.
        png_every: write a colour-wheel PNG every this many pairs (0: none).
        video: write ``flow.mp4`` of the colour-wheel pictures.
        color_max: magnitude (pixels) drawn at full brightness (None: each field's maximum).
        max_frames: stop after this many frames (None: the whole video).
    """

    max_side: int | None = 480
    save: bool = True
    chunk: int = 64
    batch: int = 4
    png_every: int = 0
    video: bool = False
    color_max: float | None = None
    max_frames: int | None = None


@dataclass(frozen=True)
class MotionRow:
    """Motion between frame ``frame`` and the next: mean and 95th-percentile magnitude (px)."""

    frame: int
    time_s: float
    mean: float
    p95: float


class _ChunkWriter:
    """Collects flow fields and saves each full chunk in a background thread (zlib releases the
    GIL, so compression overlaps the next chunk's flow); at most one save is in flight."""

    def __init__(self, folder: Path, size: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.folder, self.size = folder, size
        self.flows: list[np.ndarray] = []
        self.frames: list[int] = []
        self.times: list[float] = []
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending = None
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, frame: int, time_s: float, flow: np.ndarray) -> None:
        self.flows.append(quantize_flow(flow))  # int16: a quarter of float32's memory
        self.frames.append(frame)
        self.times.append(time_s)
        if len(self.flows) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self.flows:
            return
        self.wait()
        self._pending = self._pool.submit(
            write_flow_chunk, self.folder, self.flows, self.frames, self.times
        )
        self.flows, self.frames, self.times = [], [], []

    def wait(self) -> None:
        """Block until the save in flight (if any) is on disk; re-raises its error."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def close(self) -> None:
        self.flush()
        self.wait()
        self._pool.shutdown()


def _pairs(path: Path, options: FlowOptions):
    """Yield batches of (first frame indices, times, firsts (N,H,W,3), seconds (N,H,W,3))."""
    from vidlab.data.io.stream import iter_frames

    batch = options.batch
    prev = None
    buf: list[tuple[int, float, np.ndarray, np.ndarray]] = []
    for index, time_s, image in iter_frames(path, max_side=options.max_side):
        if options.max_frames is not None and index >= options.max_frames:
            break
        if prev is not None:
            buf.append((prev[0], prev[1], prev[2], image))
            if len(buf) >= batch:
                yield buf
                buf = []
        prev = (index, time_s, image)
    if buf:
        yield buf


def video_flow(
    path: str | Path, out_dir: str | Path, estimator: FlowEstimator, options: FlowOptions
) -> list[MotionRow]:
    """Flow of every consecutive frame pair of `path` into `out_dir` (see the module docstring)."""
    from tqdm import tqdm

    path, out_dir = Path(path), Path(out_dir)
    chunks = _ChunkWriter(out_dir / FLOW_DIR, options.chunk) if options.save else None
    writer = None
    rows: list[MotionRow] = []
    pairs = 0
    try:
        for batch in tqdm(_pairs(path, options), desc=f"flow {estimator.name}", unit="batch"):
            if isinstance(estimator, RaftFlow):
                flows = estimator.batch(
                    np.stack([b[2] for b in batch]), np.stack([b[3] for b in batch])
                )
            else:
                flows = [estimator(b[2], b[3]) for b in batch]
            for (frame, time_s, _a, _b), flow in zip(batch, flows, strict=True):
                mean, p95 = magnitude_stats(flow)
                rows.append(MotionRow(frame, time_s, mean, p95))
                if chunks is not None:
                    chunks.add(frame, time_s, flow)
                if options.png_every and pairs % options.png_every == 0:
                    _write_png(out_dir / "flow_png" / f"{frame:07d}.png", flow, options.color_max)
                if options.video:
                    writer = writer or _open_writer(out_dir / "flow.mp4", flow, path)
                    writer.write(_even(flow_to_color(flow, options.color_max)))
                pairs += 1
    finally:
        if chunks is not None:
            chunks.close()
        if writer is not None:
            writer.close()
    write_motion(out_dir, rows)
    return rows


def _even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]


def _open_writer(path: Path, flow: np.ndarray, source: Path):
    from vidlab.data.io.stream import StreamWriter, probe

    h, w = _even(flow).shape[:2]
    return StreamWriter(path, width=w, height=h, fps=probe(source).fps)


def _write_png(path: Path, flow: np.ndarray, color_max: float | None) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(flow_to_color(flow, color_max), cv2.COLOR_RGB2BGR))


def write_motion(out_dir: Path, rows: list[MotionRow]) -> None:
    """``motion.csv`` and ``motion.png`` (mean flow magnitude over time)."""
    with open(out_dir / "motion.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "time_s", "mean_magnitude_px", "p95_magnitude_px"])
        for r in rows:
            w.writerow([r.frame, f"{r.time_s:.4f}", f"{r.mean:.4f}", f"{r.p95:.4f}"])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot([r.time_s for r in rows], [r.mean for r in rows], label="mean", lw=1)
    ax.plot([r.time_s for r in rows], [r.p95 for r in rows], label="95th percentile", lw=1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("flow magnitude (px/frame)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(out_dir / "motion.png", dpi=100)
    plt.close(fig)
