"""Precomputed optical flow on disk: the chunk format `task=flow` writes and clip readers read.

A folder of ``flow_<first frame>.npz`` files (ordinary compressed ``.npz``, zlib level 1), each with
``flow`` (n, H, W, 2) int16 in steps of ``scale`` pixels (`FLOW_UNIT` = 1/32 px: error at most
1/64 px, range +-1024 px; quantised flow compresses about 4x, float16 hardly at all), ``frames``
(n,) the index of each pair's first frame (the flow carries frame i onto frame i + 1) and
``times`` (n,) seconds. `read_flow` returns the two flow channels of any frames, e.g. the frames
of a clip, for a flow input stream.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

#: zlib level of the chunks (1: fastest; numpy's savez_compressed uses 6, several times slower on
#: flow fields for a few percent of size).
NPZ_LEVEL = 1
#: Pixels per unit of the stored int16 flow.
FLOW_UNIT = 1 / 32
_INT16 = np.iinfo(np.int16)


def quantize_flow(flow: np.ndarray) -> np.ndarray:
    """(..., 2) float flow in pixels -> int16 in `FLOW_UNIT` steps (clipped to the int16 range)."""
    q = np.round(np.asarray(flow, np.float32) / FLOW_UNIT)
    return np.clip(q, _INT16.min, _INT16.max).astype(np.int16)


def save_npz(path: Path, level: int = NPZ_LEVEL, **arrays: np.ndarray) -> Path:
    """`np.savez_compressed` at zlib `level`; the file is an ordinary ``.npz`` for `np.load`."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
    tmp.replace(path)
    return path


def write_flow_chunk(
    folder: Path, flows: list[np.ndarray], frames: list[int], times: list[float]
) -> Path:
    """One chunk: n (H, W, 2) flows for the pairs starting at `frames`, float in pixels or already
    int16 from `quantize_flow`."""
    return save_npz(
        Path(folder) / f"flow_{frames[0]:07d}.npz",
        flow=np.stack([f if f.dtype == np.int16 else quantize_flow(f) for f in flows]),
        scale=np.float32(FLOW_UNIT),
        frames=np.asarray(frames, np.int64),
        times=np.asarray(times, np.float64),
    )


def read_flow(folder: str | Path, frames: list[int] | np.ndarray) -> np.ndarray:
    """The saved flow of the pairs starting at `frames`: (len(frames), H, W, 2) float32 pixels.

    Raises:
        FileNotFoundError: no chunk holds one of the frames (names the folder and the frame).
    """
    folder = Path(folder)
    chunks = sorted(folder.glob("flow_*.npz"))
    starts = np.array([int(p.stem.split("_")[1]) for p in chunks], np.int64)
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
            scale = float(data["scale"])
            for i in wanted:
                j = lookup.get(int(frames[i]))
                if j is None:
                    raise FileNotFoundError(f"{chunks[c]}: no saved flow for frame {frames[i]}")
                out[i] = data["flow"][j].astype(np.float32) * scale
    return np.stack(out)


def read_clip_flow(folder: str | Path, frame_indices: list[int] | np.ndarray) -> np.ndarray:
    """Flow channels for a clip's frames: (2, T, H, W) float32, the flow from each frame to the
    next; a frame with no saved flow after it (the video's last) repeats its predecessor's."""
    indices = [int(i) for i in frame_indices]
    available = []
    for i in indices:
        try:
            available.append(read_flow(folder, [i])[0])
        except FileNotFoundError:
            if not available:
                raise
            available.append(available[-1])
    return np.stack(available).transpose(3, 0, 1, 2)  # (2, T, H, W)
