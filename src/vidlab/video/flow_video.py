"""Flow over a whole video, streamed: ``flow/*.npz`` chunks, per-frame motion, colour pictures.

`video_flow` decodes the video frame by frame at reduced size (`vidlab.data.io.stream`), estimates
the flow from each frame to the next (`vidlab.video.flow`; RAFT in batches of pairs), and writes

- ``flow/flow_<first frame>.npz`` (compressed ``.npz``, zlib level 1): ``flow`` (n, H, W, 2)
  int16 in steps of ``scale`` pixels (`FLOW_UNIT`, 1/32 px), ``frames`` (n,) the index of each pair's first frame, ``times`` (n,) seconds; one file per
  ``chunk`` pairs, so memory holds one chunk at most;
- ``motion.csv``: per pair, frame, time, mean and 95th-percentile flow magnitude (pixels);
- ``motion.png``: the mean magnitude over time;
- optionally colour-wheel pictures: ``flow_png/<frame>.png`` every ``png_every`` pairs and
  ``flow.mp4``.

`read_flow` reads the chunks back for one frame range (the flow modality of the data pipeline).
"""

from __future__ import annotations

import csv
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidlab.video.flow import FlowEstimator, RaftFlow, flow_to_color, magnitude_stats

log = logging.getLogger(__name__)

FLOW_DIR = "flow"
#: zlib level of the flow chunks (1: fastest; numpy's savez_compressed uses 6).
NPZ_LEVEL = 1
#: Pixels per unit of the stored int16 flow: 1/32 px steps (error at most 1/64 px, far below any
#: estimator's accuracy; range +-1024 px). Quantised flow compresses about 4x, float16 hardly.
FLOW_UNIT = 1 / 32
_INT16 = np.iinfo(np.int16)


def quantize_flow(flow: np.ndarray) -> np.ndarray:
    """(H, W, 2) float flow in pixels -> int16 in `FLOW_UNIT` steps (clipped to the int16 range)."""
    q = np.round(np.asarray(flow, np.float32) / FLOW_UNIT)
    return np.clip(q, _INT16.min, _INT16.max).astype(np.int16)


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


def save_npz(path: Path, level: int = NPZ_LEVEL, **arrays: np.ndarray) -> Path:
    """`np.savez_compressed` at zlib `level` (numpy's own is fixed at 6, several times slower on
    flow fields for a few percent of size); the file is an ordinary ``.npz`` for `np.load`."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
    tmp.replace(path)
    return path


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
        self.flows.append(quantize_flow(flow))
        self.frames.append(frame)
        self.times.append(time_s)
        if len(self.flows) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self.flows:
            return
        self.wait()
        self._pending = self._pool.submit(
            save_npz,
            self.folder / f"flow_{self.frames[0]:07d}.npz",
            flow=np.stack(self.flows),
            scale=np.float32(FLOW_UNIT),
            frames=np.asarray(self.frames, np.int64),
            times=np.asarray(self.times, np.float64),
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


def read_flow(folder: str | Path, frames: list[int] | np.ndarray) -> np.ndarray:
    """The saved flow of the pairs starting at `frames`: (len(frames), H, W, 2) float32.

    Raises:
        FileNotFoundError: no chunk holds one of the frames (names the folder and the frame).
    """
    folder = Path(folder)
    chunks = sorted(folder.glob("flow_*.npz"))
    starts = np.array([int(p.stem.split("_")[1]) for p in chunks])
    out: list[np.ndarray | None] = [None] * len(frames)
    by_chunk: dict[int, list[int]] = {}
    for i, frame in enumerate(frames):
        c = int(np.searchsorted(starts, frame, side="right")) - 1
        if c < 0:
            raise FileNotFoundError(f"{folder}: no saved flow for frame {frame}")
        by_chunk.setdefault(c, []).append(i)
    for c, wanted in by_chunk.items():
        with np.load(chunks[c]) as data:
            lookup = {int(f): j for j, f in enumerate(data["frames"])}
            for i in wanted:
                j = lookup.get(int(frames[i]))
                if j is None:
                    raise FileNotFoundError(f"{chunks[c]}: no saved flow for frame {frames[i]}")
                out[i] = data["flow"][j].astype(np.float32) * float(data["scale"])
    return np.stack(out)
