"""Synthetic untrimmed videos: several synthetic actions of random lengths, background between them.

Each video has one static textured background and static distractor shapes for its whole length
(as a clip of `vidlab.data.synthetic.actions`); an actor appears for each action segment and moves
as an action clip of that class does (`actor_track` / `_render_object` of the actions renderer,
with the segment's length as the clip length), and is absent in the background stretches between
segments. Lengths of actions and gaps are drawn per video, so the segments' times are the ground
truth of a temporal localization task.

Everything is deterministic from ``(seed, split, index)``. A generated set is cached in one folder
(`vidlab.utils.cache.cached_folder`, keyed by a hash of the spec and the video counts)::

    <cache_dir>/<key>/
        videos/<video id>.mp4        # H.264, what `task=localize` reads
        frames_<split>.npy           # (total frames, H, W, 3) uint8: the videos decoded back
        annotations.json             # ActivityNet v1.3 layout: subset, duration, fps, annotations

The frames the training windows are cut from are the decoded MP4 frames, so training and
inference see the same pixels (H.264's 4:2:0 chroma and quantisation included).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vidlab.data.synthetic.actions import (
    SHAPES,
    SPLIT_OFFSETS,
    SyntheticActionSpec,
    _background,
    _render_object,
    actor_track,
)
from vidlab.utils.cache import cache_key, cached_folder

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
#: ActivityNet subset names of the splits.
SUBSETS = {"train": "training", "val": "validation", "test": "testing"}
ANNOTATIONS_FILE = "annotations.json"
# Added to the split offset so that untrimmed videos never reuse an action clip's random stream.
STREAM_OFFSET = 100


@dataclass(frozen=True)
class SyntheticUntrimmedSpec:
    """Everything that determines the generated videos (and so the cache key).

    Attributes:
        actions: look and motion of the actions (factors define the classes; its num_frames and
            seed are unused: segment lengths and `seed` below decide).
        fps: frame rate of the videos (segment times are frame / fps).
        actions_per_video: inclusive range of the number of actions per video.
        action_frames: inclusive range of an action's length in frames.
        gap_frames: inclusive range of the background stretch before, between and after actions.
        seed: base seed; video ``i`` of split ``s`` comes from ``(seed, s, i)``.
    """

    actions: SyntheticActionSpec = field(default_factory=SyntheticActionSpec)
    fps: float = 10.0
    actions_per_video: tuple[int, int] = (3, 5)
    action_frames: tuple[int, int] = (12, 20)
    gap_frames: tuple[int, int] = (6, 16)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("actions_per_video", "action_frames", "gap_frames"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name}=({lo}, {hi}): expected 0 < low <= high")
        if self.action_frames[0] < 2 or self.fps <= 0:
            raise ValueError("actions need >= 2 frames and fps must be positive")
        if self.actions.size % 2:
            raise ValueError(f"size {self.actions.size}: H.264 (4:2:0) needs an even frame size")

    def class_names(self) -> list[str]:
        return self.actions.class_names()

    def key(self, counts: dict[str, int]) -> str:
        return cache_key(
            {"spec": asdict(self), "counts": counts, "generator": GENERATOR_VERSION}, 16
        )


@dataclass(frozen=True)
class UntrimmedVideo:
    """One rendered video: frames (T, H, W, 3) uint8 and its (start, end, label) segments in frames
    (end exclusive)."""

    frames: np.ndarray
    segments: list[tuple[int, int, int]]


def video_id(split: str, index: int) -> str:
    return f"{split}_{index:04d}"


def render_video(spec: SyntheticUntrimmedSpec, split: str, index: int) -> UntrimmedVideo:
    """Render video `index` of `split` (deterministic)."""
    rng = np.random.default_rng((spec.seed, SPLIT_OFFSETS[split] + STREAM_OFFSET, index))
    look = spec.actions
    count = int(rng.integers(spec.actions_per_video[0], spec.actions_per_video[1] + 1))
    lengths = rng.integers(spec.action_frames[0], spec.action_frames[1] + 1, size=count)
    gaps = rng.integers(spec.gap_frames[0], spec.gap_frames[1] + 1, size=count + 1)
    labels = rng.integers(0, look.num_classes, size=count)
    total = int(lengths.sum() + gaps.sum())
    size = look.size
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    grid = (grid[0], grid[1])
    canvas = np.broadcast_to(_background(rng, size, grid), (total, size, size, 3)).astype(
        np.float32
    )
    for _ in range(rng.integers(0, look.num_distractors + 1)):
        half = np.full(total, rng.uniform(0.05, 0.09) * size)
        place = rng.uniform(0.1, 0.9, size=2) * size + rng.normal(0, 0.005 * size, (total, 2))
        _render_object(
            canvas, grid, place, np.full(total, rng.uniform(0, 2 * np.pi)), half,
            SHAPES[rng.integers(len(SHAPES))], rng.uniform(0, 255, size=(2, 3)),
            (rng.uniform(1, 3), rng.uniform(0, np.pi)),
        )  # fmt: skip
    segments = []
    start = int(gaps[0])
    for length, label, gap in zip(lengths, labels, gaps[1:], strict=True):
        clip_spec = replace(look, num_frames=int(length))
        centers, angles, half_sizes = actor_track(clip_spec, int(label), rng)
        _render_object(
            canvas[start : start + length], grid, centers, angles, half_sizes,
            SHAPES[rng.integers(len(SHAPES))], rng.uniform(0, 255, size=(2, 3)),
            (rng.uniform(1.5, 3.5), rng.uniform(0, np.pi)), wrap=look.wrap,
        )  # fmt: skip
        segments.append((start, start + int(length), int(label)))
        start += int(length + gap)
    canvas += rng.normal(0, look.noise_std, size=canvas.shape)
    return UntrimmedVideo(np.clip(canvas, 0, 255).astype(np.uint8), segments)


def _render_encode_decode(
    spec: SyntheticUntrimmedSpec, split: str, index: int, path: Path
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Render a video, write it as MP4 and return its decoded frames (in a spawned worker: FFmpeg
    state stays out of the parent process)."""
    from vidlab.data.io import read_frames
    from vidlab.data.io.writer import write_video

    video = render_video(spec, split, index)
    write_video(path, video.frames, fps=spec.fps)
    decoded = read_frames(path, np.arange(len(video.frames))).frames
    if decoded.shape != video.frames.shape:
        raise RuntimeError(f"{path}: decoded {decoded.shape}, rendered {video.frames.shape}")
    return decoded, video.segments


def annotation_entry(
    spec: SyntheticUntrimmedSpec, split: str, num_frames: int, segments: list[tuple[int, int, int]]
) -> dict[str, Any]:
    """The ActivityNet ``database`` entry of one video (times in seconds, frames kept too)."""
    names = spec.class_names()
    return {
        "subset": SUBSETS[split],
        "duration": num_frames / spec.fps,
        "fps": spec.fps,
        "num_frames": num_frames,
        "annotations": [
            {"segment": [s / spec.fps, e / spec.fps], "label": names[c], "frames": [s, e]}
            for s, e, c in segments
        ],
    }


def build_dataset(spec: SyntheticUntrimmedSpec, counts: dict[str, int], folder: Path) -> None:
    """Render, encode and decode every video of every split into `folder` (see module doc)."""
    database: dict[str, Any] = {}
    context = multiprocessing.get_context("spawn")
    total = sum(counts.values())
    with (
        ProcessPoolExecutor(1, mp_context=context) as pool,
        tqdm(total=total, desc="synthetic untrimmed videos", disable=total < 20) as progress,
    ):
        for split, count in counts.items():
            futures = [
                pool.submit(
                    _render_encode_decode,
                    spec,
                    split,
                    i,
                    folder / "videos" / f"{video_id(split, i)}.mp4",
                )  # fmt: skip
                for i in range(count)
            ]
            frames = []
            for i, future in enumerate(futures):
                decoded, segments = future.result()
                frames.append(decoded)
                database[video_id(split, i)] = annotation_entry(spec, split, len(decoded), segments)
                progress.update(1)
            size = spec.actions.size
            stacked = np.concatenate(frames) if frames else np.zeros((0, size, size, 3), np.uint8)
            np.save(folder / f"frames_{split}.npy", stacked)
    payload = {"version": "VERSION 1.3", "spec": asdict(spec), "database": database}
    (folder / ANNOTATIONS_FILE).write_text(json.dumps(payload, indent=1))


def load_or_generate(
    spec: SyntheticUntrimmedSpec, counts: dict[str, int], cache_dir: str | Path
) -> Path:
    """The cached dataset folder of `spec` and `counts`, generated first when absent."""
    folder = Path(cache_dir) / spec.key(counts)

    def build(tmp: Path) -> None:
        log.info("Generating synthetic untrimmed videos %s into %s", counts, folder)
        build_dataset(spec, counts, tmp)

    return cached_folder(folder, build, marker=ANNOTATIONS_FILE)
