"""Synthetic action clips whose class is defined by motion alone.

Every clip shows one textured "actor" shape moving over a textured background, plus small static
distractor shapes. The actor translates, rotates and changes scale; the *signs* of a chosen subset of
these motions (the class factors) define the class, and the other motions happen with random sense
(nuisance; `nuisance_motion=False` switches them off). With the default factors
``("horizontal", "vertical")`` there are ``2 ** 2 = 4`` classes ("right-down", "left-down",
"right-up", "left-up"); all four factors give 16.

What a single frame can and cannot tell:
- every trajectory is symmetric about the clip's middle (position, angle and scale are drawn for the
  middle frame, then extended both ways), so the class with every sign flipped is exactly the time
  reversal of the original: a model that pools per-frame evidence without temporal order cannot
  tell a class from its reversal (`test_flipping_every_sign_reverses_time`);
- appearance (shape, colours, texture, background, distractors) is drawn independently of the class;
- by default the actor stays inside the frame, so where it is in a frame still hints at its path
  (an actor near the top-left corner is more likely on a "\\" diagonal). With ``wrap=True`` the frame
  is a torus and the actor's position and angle in any single frame are uniform and independent of
  the class, which removes that hint; a small X3D then needs a much longer schedule than the
  quickstart's to learn the task.

Clips are generated deterministically from ``(seed, split, index)`` and cached on disk as one
uint8 array per split, shaped (N, T, H, W, 3).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vidlab.utils.cache import cache_key, cached_file

log = logging.getLogger(__name__)

FACTORS: tuple[str, ...] = ("horizontal", "vertical", "rotation", "scale")
# The four-way translation factor: the actor moves along one axis, in one of four directions.
DIRECTION = "direction"
# Names of the values of each factor, used to build class names. A two-valued factor is the sign
# (+1, -1) of one motion; `direction` is (axis, sign): right, left (x), down, up (y).
_VALUE_NAMES: dict[str, tuple[str, ...]] = {
    "horizontal": ("right", "left"),
    "vertical": ("down", "up"),
    "rotation": ("clockwise", "counterclockwise"),
    "scale": ("approach", "recede"),
    DIRECTION: ("right", "left", "down", "up"),
}
_TRANSLATIONS = ("horizontal", "vertical")
SHAPES: tuple[str, ...] = ("rectangle", "triangle", "ell", "tee", "arrow")
# Bumped whenever the same spec would render different clips (invalidates on-disk caches).
GENERATOR_VERSION = 2
SPLIT_OFFSETS: dict[str, int] = {"train": 0, "val": 1, "test": 2}
# Generating fewer clips than this is quick enough to need no progress bar.
PROGRESS_MIN_CLIPS = 500
# Hex characters of the clip cache keys (file names ``<split>_<key>.npy``).
CACHE_KEY_LENGTH = 16
# Clips rendered per task when generating in parallel.
RENDER_CHUNK = 50


@dataclass(frozen=True)
class MotionRanges:
    """Magnitudes of the actor's motions, drawn uniformly per clip (signs come from the class).

    Attributes:
        speed: translation speed along each axis, in fractions of the frame size per clip.
        angle: total rotation over the clip, in radians.
        zoom: total log-scale change over the clip (``exp(zoom)`` is the size ratio end/start).
        size: actor half-size at the middle frame, in fractions of the frame size.
    """

    speed: tuple[float, float] = (0.4, 0.7)
    angle: tuple[float, float] = (1.8, 2.8)
    zoom: tuple[float, float] = (0.7, 1.0)
    size: tuple[float, float] = (0.12, 0.18)


@dataclass(frozen=True)
class SyntheticActionSpec:
    """Everything that determines the generated clips (and so the cache key).

    Attributes:
        factors: motion factors whose signs define the class (subset of `FACTORS`, in order).
        num_frames: frames per clip (T).
        size: frame height and width in pixels (H = W).
        num_distractors: maximum number of small distractor shapes per clip.
        noise_std: per-pixel sensor noise added to every frame, in 0..255 intensity units.
        wrap: toroidal frame (positions uniform in every frame) instead of keeping the actor inside.
        nuisance_motion: the motions that are not class factors happen too, with random sense
            (harder: e.g. a rotating actor creates local motion in every direction).
        motion: magnitude ranges of the actor's motions.
        seed: base seed; clip ``i`` of split ``s`` is generated from ``(seed, s, i)``.
    """

    factors: tuple[str, ...] = ("horizontal", "vertical")
    num_frames: int = 8
    size: int = 64
    num_distractors: int = 2
    noise_std: float = 4.0
    wrap: bool = False
    nuisance_motion: bool = True
    motion: MotionRanges = field(default_factory=MotionRanges)
    seed: int = 0

    def __post_init__(self) -> None:
        known = (*FACTORS, DIRECTION)
        unknown = [f for f in self.factors if f not in known]
        translation_twice = DIRECTION in self.factors and any(
            f in _TRANSLATIONS for f in self.factors
        )
        if (
            unknown
            or not self.factors
            or len(set(self.factors)) != len(self.factors)
            or translation_twice
        ):
            raise ValueError(
                f"factors must be distinct names from {known} (`direction` replaces `horizontal` "
                f"and `vertical`), got {list(self.factors)}"
            )
        if self.num_frames < 2 or self.size < 16:
            raise ValueError(
                f"need num_frames >= 2 and size >= 16, got {self.num_frames} and {self.size}"
            )

    @property
    def num_classes(self) -> int:
        return int(np.prod([len(_VALUE_NAMES[f]) for f in self.factors]))

    def class_names(self) -> list[str]:
        """Human-readable class names, e.g. ``right-clockwise-approach``."""
        return [
            "-".join(
                _VALUE_NAMES[f][v]
                for f, v in zip(self.factors, label_to_values(label, self.factors), strict=True)
            )
            for label in range(self.num_classes)
        ]

    def cache_key(self, split: str, count: int) -> str:
        """Cache key of one split's clips (a hash of the spec, the split and the generator)."""
        return cache_key(
            {"spec": asdict(self), "split": split, "count": count, "generator": GENERATOR_VERSION},
            CACHE_KEY_LENGTH,
        )


def label_to_values(label: int, factors: tuple[str, ...]) -> list[int]:
    """Class index -> the value index of every factor (mixed radix, first factor fastest).

    A two-valued factor's value 0 is its positive sense and 1 the negative one; `direction`'s
    values are right, left, down, up.
    """
    values = []
    for factor in factors:
        base = len(_VALUE_NAMES[factor])
        values.append(label % base)
        label //= base
    return values


def motion_signs(label: int, factors: tuple[str, ...]) -> dict[str, int]:
    """The sense (+1 / -1) of every translation, rotation and scale motion a class fixes.

    `direction` fixes both translations: the chosen axis moves with its sign, the other gets 0.
    """
    signs: dict[str, int] = {}
    for factor, value in zip(factors, label_to_values(label, factors), strict=True):
        sign = 1 if value % 2 == 0 else -1
        if factor == DIRECTION:
            axis = value // 2
            signs.update({t: (sign if i == axis else 0) for i, t in enumerate(_TRANSLATIONS)})
        else:
            signs[factor] = sign
    return signs


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership of canonical coordinates (u, v in [-1, 1]) in a named shape. Shapes are chiral
    or at least not rotation-symmetric, so that rotation sense is visible."""
    au, av = np.abs(u), np.abs(v)
    if shape == "rectangle":
        return (au < 1.0) & (av < 0.5)
    if shape == "triangle":
        return (v > -0.7) & (v < 0.9) & (au < 0.75 * (0.9 - v))
    if shape == "ell":
        return ((au < 1.0) & (v > 0.35) & (v < 1.0)) | ((u > -1.0) & (u < -0.35) & (av < 1.0))
    if shape == "tee":
        return ((au < 1.0) & (v < -0.45) & (v > -1.0)) | ((au < 0.3) & (av < 1.0))
    if shape == "arrow":
        return ((au < 0.3) & (v > -1.0) & (v < 0.2)) | (
            (v >= 0.2) & (v < 1.0) & (au < 0.9 * (1.0 - v))
        )
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _render_object(
    canvas: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray],
    centers: np.ndarray,
    angles: np.ndarray,
    half_sizes: np.ndarray,
    shape: str,
    colors: np.ndarray,
    stripe: tuple[float, float],
    wrap: bool = False,
) -> None:
    """Paint a striped shape into every frame of `canvas` (T, H, W, 3) float32, in place.

    Args:
        grid: pixel coordinates (ys, xs), each (H, W).
        centers: (T, 2) object centre (x, y) in pixels per frame.
        angles: (T,) rotation in radians per frame.
        half_sizes: (T,) half-size in pixels per frame.
        colors: (2, 3) the two stripe colours.
        stripe: (frequency in stripes per half-size, stripe direction in radians) in object coordinates.
        wrap: treat the frame as a torus (an object leaving one edge re-enters at the opposite one).
    """
    ys, xs = grid
    size = xs.shape[1]
    dx = xs[None] - centers[:, 0, None, None]  # (T, H, W)
    dy = ys[None] - centers[:, 1, None, None]
    if wrap:
        dx = (dx + size / 2) % size - size / 2
        dy = (dy + size / 2) % size - size / 2
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    scale = half_sizes[:, None, None]
    u = (cos * dx + sin * dy) / scale
    v = (-sin * dx + cos * dy) / scale
    mask = _shape_mask(shape, u, v)  # (T, H, W)
    freq, direction = stripe
    phase = u * np.cos(direction) + v * np.sin(direction)
    texture = (np.sin(np.pi * freq * phase) > 0)[..., None]  # (T, H, W, 1)
    painted = np.where(texture, colors[0], colors[1])  # (T, H, W, 3)
    canvas[mask] = painted[mask]


def _background(
    rng: np.random.Generator, size: int, grid: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """A static textured background: a base colour modulated by two random low-frequency waves."""
    ys, xs = grid
    base = rng.uniform(40, 215, size=3)
    pattern = np.zeros((size, size))
    for _ in range(2):
        kx, ky = rng.uniform(-3, 3, size=2) * 2 * np.pi / size
        pattern += np.sin(kx * xs + ky * ys + rng.uniform(0, 2 * np.pi))
    tint = rng.uniform(-15, 15, size=3)
    return base + pattern[..., None] * tint  # (H, W, 3)


def _symmetric_track(mid: float, total_change: float, t: np.ndarray) -> np.ndarray:
    """Linear trajectory through `mid` at the clip's centre, changing by `total_change` overall."""
    return mid + total_change * t


def actor_track(
    spec: SyntheticActionSpec, label: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the actor's motion for one clip of class `label` (the first draws of `rng`).

    Returns:
        centers (T, 2) as (x, y) in pixels, angles (T,) in radians, half_sizes (T,) in pixels.
    """
    size, frames, motion = spec.size, spec.num_frames, spec.motion
    # Normalised time in [-0.5, 0.5]: the middle frame is the symmetry point of every trajectory.
    t = np.linspace(-0.5, 0.5, frames)

    class_signs = motion_signs(label, spec.factors)
    # Motions outside the class factors: random sense (nuisance), or absent (sign 0).
    signs = {
        f: class_signs.get(f, int(rng.choice([-1, 1])) if spec.nuisance_motion else 0)
        for f in FACTORS
    }
    axis_direction = DIRECTION in spec.factors

    half_mid = rng.uniform(*motion.size) * size
    zoom = signs["scale"] * rng.uniform(*motion.zoom)
    half_sizes = half_mid * np.exp(zoom * t)
    centers = np.empty((frames, 2))
    for axis, factor in enumerate(_TRANSLATIONS):
        extent = rng.uniform(*motion.speed) * size
        travel = signs[factor] * extent
        if spec.wrap:
            mid = rng.uniform(0, size)
        else:
            # The actor stays inside the frame: its middle position is uniform over the room left.
            room = max(size / 2 - half_sizes.max() - extent / 2, 0.0)
            mid = size / 2 + rng.uniform(-room, room)
        if axis_direction and travel == 0:
            # The still axis of a `direction` clip sits where a moving actor would be in a random
            # frame, so that one frame's position is distributed alike for all four directions.
            mid += extent * rng.choice(t)
        centers[:, axis] = _symmetric_track(mid, travel, t)
    angles = _symmetric_track(
        rng.uniform(0, 2 * np.pi), signs["rotation"] * rng.uniform(*motion.angle), t
    )
    return centers, angles, half_sizes


def render_clip(spec: SyntheticActionSpec, label: int, rng: np.random.Generator) -> np.ndarray:
    """Render one clip of class `label`.

    Returns:
        uint8 array (T, H, W, 3).
    """
    size, frames = spec.size, spec.num_frames
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    grid = (grid[0], grid[1])
    centers, angles, half_sizes = actor_track(spec, label, rng)

    canvas = np.broadcast_to(_background(rng, size, grid), (frames, size, size, 3)).astype(
        np.float32
    )
    for _ in range(rng.integers(0, spec.num_distractors + 1)):
        # Distractors stay put (with a pixel of jitter): clutter the model must learn to ignore.
        d_half = np.full(frames, rng.uniform(0.05, 0.09) * size)
        start = rng.uniform(0.1, 0.9, size=2) * size
        jitter = rng.normal(0, 0.005 * size, size=(frames, 2))
        _render_object(
            canvas,
            grid,
            start + jitter,
            np.full(frames, rng.uniform(0, 2 * np.pi)),
            d_half,
            SHAPES[rng.integers(len(SHAPES))],
            rng.uniform(0, 255, size=(2, 3)),
            (rng.uniform(1, 3), rng.uniform(0, np.pi)),
        )
    _render_object(
        canvas,
        grid,
        centers,
        angles,
        half_sizes,
        SHAPES[rng.integers(len(SHAPES))],
        rng.uniform(0, 255, size=(2, 3)),
        (rng.uniform(1.5, 3.5), rng.uniform(0, np.pi)),
        wrap=spec.wrap,
    )
    canvas += rng.normal(0, spec.noise_std, size=canvas.shape)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _render_range(spec: SyntheticActionSpec, split: str, start: int, stop: int) -> np.ndarray:
    """Clips ``start .. stop - 1`` of a split, (stop - start, T, H, W, 3) uint8."""
    return np.stack(
        [
            render_clip(
                spec,
                i % spec.num_classes,
                np.random.default_rng((spec.seed, SPLIT_OFFSETS[split], i)),
            )
            for i in range(start, stop)
        ]
    )


def generate_split(
    spec: SyntheticActionSpec, split: str, count: int, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Generate `count` clips of `split` with balanced labels.

    Clip ``i`` depends only on ``(spec, split, i)``, so the result is the same for any number of
    worker processes.

    Args:
        workers: processes rendering in parallel; None uses every available core for large splits.

    Returns:
        videos: uint8 (N, T, H, W, 3); labels: int64 (N,).
    """
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"split must be one of {list(SPLIT_OFFSETS)}, got {split!r}")
    labels = np.arange(count, dtype=np.int64) % spec.num_classes
    videos = np.empty((count, spec.num_frames, spec.size, spec.size, 3), dtype=np.uint8)
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if count >= PROGRESS_MIN_CLIPS else 1
    starts = range(0, count, RENDER_CHUNK)
    progress = tqdm(
        total=count,
        desc=f"synthetic {split} clips",
        unit="clip",
        disable=count < PROGRESS_MIN_CLIPS,
        leave=False,
    )
    with progress:
        if workers <= 1:
            chunks = (_render_range(spec, split, a, min(a + RENDER_CHUNK, count)) for a in starts)
            for start, chunk in zip(starts, chunks, strict=True):
                videos[start : start + len(chunk)] = chunk
                progress.update(len(chunk))
            return videos, labels
        # Fork: the children run numpy only (never torch's or decord's threads, which do not
        # survive a fork), and unlike spawn it works from scripts without a __main__ guard.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {
                pool.submit(_render_range, spec, split, a, min(a + RENDER_CHUNK, count)): a
                for a in starts
            }
            for future in as_completed(futures):
                chunk = future.result()
                videos[futures[future] : futures[future] + len(chunk)] = chunk
                progress.update(len(chunk))
    return videos, labels


def load_or_generate(
    spec: SyntheticActionSpec, split: str, count: int, cache_dir: str | Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the clips of a split, from the on-disk cache when present (memory-mapped).

    Args:
        cache_dir: folder for ``<split>_<key>.npy`` caches; None keeps everything in memory only.
    """
    return cached_split(spec, split, count, cache_dir, generate_split, "synthetic action clips")


def cached_split(
    spec: Any,
    split: str,
    count: int,
    cache_dir: str | Path | None,
    generate: Callable[[Any, str, int], tuple[np.ndarray, np.ndarray]],
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Clips (count, T, size, size, 3) uint8 of a generated split and their balanced labels
    (``index % spec.num_classes``), cached as ``<cache_dir>/<split>_<spec.cache_key>.npy``.

    Freshly generated clips are returned from memory, cached ones memory-mapped; a cache file of
    the wrong shape is regenerated. ``spec`` has ``cache_key(split, count)``, ``num_frames``,
    ``size`` and ``num_classes``; ``generate(spec, split, count)`` renders the split.
    """
    if cache_dir is None:
        return generate(spec, split, count)
    path = Path(cache_dir) / f"{split}_{spec.cache_key(split, count)}.npy"
    shape = (count, spec.num_frames, spec.size, spec.size, 3)
    generated: list[np.ndarray] = []

    def build(tmp: Path) -> None:
        log.info("generating %d %s (%s) into %s", count, what, split, path)
        generated.append(generate(spec, split, count)[0])
        np.save(tmp, generated[0])

    cached_file(path, build, valid=lambda p: np.load(p, mmap_mode="r").shape == shape)
    labels = np.arange(count, dtype=np.int64) % spec.num_classes
    return (generated[0] if generated else np.load(path, mmap_mode="r")), labels
