"""Synthetic tracklet actions: person tubes whose class is decided by motion alone.

A clip is what the runtime's action analytic (`vidlab.analytics.actions`) feeds its classifier:
the last ``num_frames`` crops, ``frame_stride`` source frames apart, of one tracked person, each
cut with `vidlab.data.tubes.crop_tube` (a square around the track box with a context margin,
resized to ``size``). The person is a posed figure (`vidlab.data.synthetic.figures`) placed on the
ground plane of the scripted scene's camera (`vidlab.data.synthetic.scene`: same homography, same
person height, same tiled background as the MOT generator), so the tubes look like the ones the
runtime cuts from a scripted scene with actions. The classes (`CLASSES`):

- ``walk``: 0.9 to 1.8 m/s, legs swinging with the gait;
- ``run``: 3.5 to 5.5 m/s, faster and wider leg swing;
- ``stand``: still (a little sway);
- ``wave``: standing, one arm raised and waving at 1.5 to 2.5 Hz;
- ``fall``: a walking or standing person falling sideways within the tube, or lying after a fall.

Appearance (colours, shirt pattern, body width, depth, position (a quarter of the tubes at the
frame's left or right edge, partly out of view), heading, a passer-by in the crop, the background) is drawn independently of the class, and the box the crop follows gets a
little jitter (a tracker's box). Clips are deterministic in ``(seed, split, index)`` and cached as
one uint8 RGB array per split, shaped (N, T, H, W, 3).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from vidlab.data.synthetic.actions import cached_split
from vidlab.data.synthetic.figures import POSE_WIDTH, draw_posed_person, posed_box
from vidlab.data.synthetic.mot import sprite_appearance
from vidlab.data.synthetic.scene import (
    _PERSON_HEIGHT_M,
    _homographies,
    _map,
    _view_x,
    fall_tilt,
    gait,
)
from vidlab.data.tubes import DEFAULT_MARGIN, crop_tube, tube_windows
from vidlab.utils.cache import cache_key

log = logging.getLogger(__name__)

CLASSES: tuple[str, ...] = ("walk", "run", "stand", "wave", "fall")
SPLIT_OFFSETS: dict[str, int] = {"train": 0, "val": 1, "test": 2}
GENERATOR_VERSION = 2
FRAME_SIZE = (960, 540)  # the scripted scene's frame (width, height)
_WALK_MPS, _RUN_MPS = (0.9, 1.8), (3.5, 5.5)
_FALL_S = (0.6, 1.0)
_WAVE_HZ = (1.5, 2.5)
EDGE_PROB = 0.25  # tubes of a person at the frame's left or right edge
MIN_VISIBLE = 0.3  # smallest fraction of the person's box width in the frame
_TRIES = 20
_NEVER = 1e9  # a time after every tube (a fallen person who does not get up)


@dataclass(frozen=True)
class TrackletActionSpec:
    """Everything that determines the generated tubes (and so the cache key).

    Attributes:
        num_frames: crops per tube (T).
        frame_stride: source frames between crops.
        frame_rate: source frames per second.
        size: crop side in pixels.
        margin: context margin of the crop (see `vidlab.data.tubes.tube_windows`).
        box_jitter: std of the track box's edges, as a fraction of the person's height.
        passer_prob: probability of a second person walking through the crop.
        jpeg_quality: frames go through JPEG at this quality before cropping, as a scene's
            rendered ``img1/`` frames do (None: no compression).
        seed: base seed; clip ``i`` of split ``s`` comes from ``(seed, s, i)``.
    """

    num_frames: int = 8
    frame_stride: int = 2
    frame_rate: float = 25.0
    size: int = 32
    margin: float = DEFAULT_MARGIN
    box_jitter: float = 0.02
    passer_prob: float = 0.3
    jpeg_quality: int | None = 85
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_frames < 2 or self.frame_stride < 1 or self.size < 8 or self.frame_rate <= 0:
            raise ValueError(
                f"need num_frames >= 2, frame_stride >= 1, size >= 8 and frame_rate > 0, got "
                f"{self.num_frames}, {self.frame_stride}, {self.size}, {self.frame_rate}"
            )

    @property
    def num_classes(self) -> int:
        return len(CLASSES)

    def cache_key(self, split: str, count: int) -> str:
        return cache_key(
            {"spec": asdict(self), "split": split, "count": count, "generator": GENERATOR_VERSION},
            16,
        )


@dataclass
class _Actor:
    """One person over the tube's times: ground path, size and poses."""

    ground: np.ndarray  # (T, 2) metres
    aspect: float
    poses: np.ndarray  # (T, POSE_WIDTH)
    look_id: int


def _motion(rng: np.random.Generator, speed: float, times: np.ndarray, start: np.ndarray):
    """(T, 2) ground positions moving at `speed` from `start` along a mostly lateral heading."""
    heading = 0.0 if rng.random() < 0.7 else float(rng.uniform(-0.8, 0.8))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    direction = np.array([sign * np.cos(heading), np.sin(heading)])
    return start + speed * times[:, None] * direction


def _actor(label: str, rng: np.random.Generator, times: np.ndarray, start: np.ndarray) -> _Actor:
    """The main person of a tube of class `label` (draws only from `rng`)."""
    t = len(times)
    dt = float(times[1] - times[0])
    poses = np.zeros((t, POSE_WIDTH))
    if label in ("walk", "run"):
        ground = _motion(rng, float(rng.uniform(*(_WALK_MPS if label == "walk" else _RUN_MPS))),
                         times, start)  # fmt: skip
    elif label in ("stand", "wave"):
        ground = start + np.zeros((t, 2))
        ground[:, 1] += 0.03 * np.sin(2 * np.pi * 0.5 * times + rng.uniform(0, 2 * np.pi))
        if label == "wave":
            poses[:, 2] = 1.0
            poses[:, 3] = 2 * np.pi * rng.uniform(*_WAVE_HZ) * times + rng.uniform(0, 2 * np.pi)
    elif label == "fall":
        span = float(times[-1] - times[0])
        duration = float(rng.uniform(*_FALL_S))
        if rng.random() < 0.7:  # the fall happens within the tube (at least 40 % of it seen)
            seen = 0.4 * min(duration, span)
            onset = float(rng.uniform(times[0] - duration + seen, times[-1] - seen))
        else:  # lying after a fall
            onset = float(rng.uniform(times[0] - duration - 2.0, times[0] - duration))
        speed = float(rng.uniform(*_WALK_MPS)) if rng.random() < 0.7 else 0.0
        ground = _motion(rng, speed, np.minimum(times, onset) - onset, start)
        side = 1.0 if rng.random() < 0.5 else -1.0
        poses[:, 4] = fall_tilt(times, onset, onset + duration, _NEVER, _NEVER, side)
    else:
        raise ValueError(f"unknown tracklet action {label!r}; expected one of {CLASSES}")
    phase, amp = gait(ground, dt, float(rng.uniform(0, 2 * np.pi)))
    poses[:, 0], poses[:, 1] = phase, amp
    return _Actor(ground, float(rng.uniform(0.35, 0.45)), poses, int(rng.integers(1 << 30)))


def _passer(rng: np.random.Generator, times: np.ndarray, near: np.ndarray) -> _Actor:
    """A walker passing close to the main person (in front or behind)."""
    start = near + np.array([rng.uniform(-1.5, 1.5), rng.choice([-1, 1]) * rng.uniform(0.4, 2.5)])
    ground = _motion(rng, float(rng.uniform(*_WALK_MPS)), times, start)
    poses = np.zeros((len(times), POSE_WIDTH))
    poses[:, 0], poses[:, 1] = gait(ground, float(times[1] - times[0]), rng.uniform(0, 2 * np.pi))
    return _Actor(ground, float(rng.uniform(0.35, 0.45)), poses, int(rng.integers(1 << 30)))


def _figure(actor: _Actor, g2i: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foot points (T, 2), upright (height, width) (T, 2) and tlwh boxes (T, 4) in the frame."""
    g = actor.ground
    foot = _map(g2i, g)
    side = _map(g2i, g + [0.5, 0.0]) - _map(g2i, g - [0.5, 0.0])
    h = _PERSON_HEIGHT_M * np.hypot(side[:, 0], side[:, 1])
    w = h * actor.aspect
    return foot, np.column_stack([h, w]), posed_box(foot, h, w, actor.poses[:, 4])


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 BGR ground like the MOT generator's: a smooth grey with grey tiles
    (the same cell size, tile sizes and density)."""
    base = rng.integers(100, 150, size=(max(2, height // 48), max(2, width // 48), 1))
    world = cv2.resize(base.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)
    world = np.repeat(world[:, :, None], 3, axis=2)
    pad = 36
    area = (width + pad) * (height + pad)
    for _ in range(int(rng.poisson(area / 6000))):
        x0, y0 = int(rng.integers(-pad, width)), int(rng.integers(-pad, height))
        grey = int(rng.integers(40, 220))
        size = rng.integers(6, 36, 2)
        cv2.rectangle(world, (x0, y0), (x0 + int(size[0]), y0 + int(size[1])), (grey,) * 3, -1)
    return world


def render_tube(spec: TrackletActionSpec, label: int, rng: np.random.Generator) -> np.ndarray:
    """One tube of class ``CLASSES[label]``: (T, size, size, 3) uint8 RGB."""
    i2g, g2i = _homographies()
    times = np.arange(spec.num_frames) * spec.frame_stride / spec.frame_rate
    for _ in range(_TRIES):  # a person at least MIN_VISIBLE in view in every frame
        y = float(rng.uniform(1.5, 21.0))
        lo, hi = _view_x(i2g, g2i, y)
        if rng.random() < EDGE_PROB:  # entering or leaving: partly out of the frame
            x = (lo if rng.random() < 0.5 else hi) + float(rng.uniform(-0.6, 0.6))
        else:
            x = float(rng.uniform(lo + 0.3, hi - 0.3))
        start = np.array([x, y])
        actors = [_actor(CLASSES[label], rng, times, start)]
        box = _figure(actors[0], g2i)[2]
        inside = np.minimum(box[:, 0] + box[:, 2], FRAME_SIZE[0]) - np.maximum(box[:, 0], 0)
        if (inside / box[:, 2]).min() >= MIN_VISIBLE:
            break
    if rng.random() < spec.passer_prob:
        actors.append(_passer(rng, times, start))
    figures = [_figure(a, g2i) for a in actors]
    tlwh = figures[0][2]
    jitter = rng.normal(0, spec.box_jitter, size=tlwh.shape) * figures[0][1][:, :1]
    xyxy = np.column_stack([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]]) + jitter
    # the part of the frame the crops see (beyond the frame's edges the crop is flat grey)
    win = tube_windows(xyxy, spec.margin)
    x0 = int(np.clip(np.floor(win[:, 0].min()) - 2, 0, FRAME_SIZE[0] - 2))
    y0 = int(np.clip(np.floor(win[:, 1].min()) - 2, 0, FRAME_SIZE[1] - 2))
    x1 = int(np.clip(np.ceil((win[:, 0] + win[:, 2]).max()) + 2, x0 + 2, FRAME_SIZE[0]))
    y1 = int(np.clip(np.ceil((win[:, 1] + win[:, 3]).max()) + 2, y0 + 2, FRAME_SIZE[1]))
    world = _background(rng, x1 - x0, y1 - y0)
    looks = [sprite_appearance(a.look_id, int(rng.integers(1 << 30))) for a in actors]
    order = np.argsort([-a.ground[0, 1] for a in actors], kind="stable")  # far to near
    out = np.empty((spec.num_frames, spec.size, spec.size, 3), np.uint8)
    for k in range(spec.num_frames):
        canvas = world.copy()
        for i in order:
            foot, size, _ = figures[i]
            draw_posed_person(canvas, foot[k], size[k, 0], size[k, 1], looks[i],
                              actors[i].poses[k], offset=(x0, y0))  # fmt: skip
        if spec.jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
            canvas = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        crop = crop_tube(canvas, xyxy[k], spec.size, spec.margin, offset=(x0, y0))
        out[k] = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    return out


def generate_split(spec: TrackletActionSpec, split: str, count: int) -> tuple[np.ndarray, ...]:
    """`count` tubes of `split` with balanced labels: uint8 (N, T, H, W, 3) and int64 (N,)."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"split must be one of {list(SPLIT_OFFSETS)}, got {split!r}")
    labels = np.arange(count, dtype=np.int64) % spec.num_classes
    videos = np.empty((count, spec.num_frames, spec.size, spec.size, 3), np.uint8)
    for i in range(count):
        rng = np.random.default_rng((spec.seed, SPLIT_OFFSETS[split], i))
        videos[i] = render_tube(spec, int(labels[i]), rng)
    return videos, labels


def load_or_generate(
    spec: TrackletActionSpec, split: str, count: int, cache_dir: str | Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """The tubes of a split, from ``<cache_dir>/<split>_<key>.npy`` when cached (memory-mapped)."""
    return cached_split(spec, split, count, cache_dir, generate_split, "synthetic tracklet tubes")
