"""Synthetic multi-object-tracking sequences: pedestrian-like ground truth and a noisy detector.

People walk on a ground plane seen by a (optionally panning) camera: boxes grow towards the bottom
of the image, people enter at the image borders and leave when out of view, and closer people
(lower box bottom) occlude farther ones, which sets each box's visibility. Static "distractor"
people (MOT17 class 7, ignored by the evaluation) stand around. The simulated detector misses
boxes more often when they are occluded, jitters box edges, gives some true boxes low scores (the
boxes ByteTrack's second association recovers), and adds false positives; misses and low scores
of one person come in bursts, as with real detectors.

Everything is deterministic in the seed. ``write_mot_folder`` writes the MOTChallenge layout
(``seqinfo.ini``, 9-column ``gt/gt.txt``, 10-column ``det/det.txt`` and optionally ``img1/*.jpg``
frames with identity-specific person sprites drawn by :func:`draw_person_sprite`).

Rendering can vary the look of the frames for detection training (`RenderStyle`: coloured
backgrounds with clutter, per-frame brightness, blur, and static foreground occluders that hide
parts of people; `occluder_boxes` and `visibility` give what they hide). The default style
renders exactly the frames the tracking and Re-ID data have always had.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from scipy.special import ndtr

log = logging.getLogger(__name__)

PEDESTRIAN_CLASS = 1  # MOT17 "pedestrian"
STATIC_PERSON_CLASS = 7  # MOT17 "static person": a distractor the evaluation ignores
IMAGE_DIR, IMAGE_EXT = "img1", ".jpg"
_VIS_GRID = 8  # visibility is measured on an 8 x 8 grid of points per box
JPEG_QUALITY = 85
_MIN_SIDE = 2.0  # pixels: jittered detections keep at least this width and height


@dataclass(frozen=True)
class DetectorNoise:
    """How the simulated detector degrades the ground truth.

    Attributes:
        miss_rate: probability of missing a fully visible box.
        occlusion_miss_rate: extra miss probability per unit of occlusion (1 - visibility).
        jitter: std of each box edge's noise, as a fraction of the box width/height.
        low_score_rate: probability that a detected, fully visible box gets a low score.
        occlusion_low_score_rate: extra low-score probability per unit of occlusion.
        low_score_range: (min, max) of low scores.
        high_score_range: (min, max) of normal scores.
        false_positives_per_frame: mean of the Poisson number of false positives per frame.
        false_positive_score_range: (min, max) of their scores.
        temporal_correlation: lag-one correlation of each person's latent detector noise, so that
            misses and low scores come in bursts rather than flicker.
    """

    miss_rate: float = 0.05
    occlusion_miss_rate: float = 0.6
    jitter: float = 0.04
    low_score_rate: float = 0.05
    occlusion_low_score_rate: float = 0.6
    low_score_range: tuple[float, float] = (0.15, 0.5)
    high_score_range: tuple[float, float] = (0.6, 0.99)
    false_positives_per_frame: float = 0.5
    false_positive_score_range: tuple[float, float] = (0.1, 0.7)
    temporal_correlation: float = 0.8


@dataclass(frozen=True)
class SceneConfig:
    """The simulated scene.

    Attributes:
        num_frames: sequence length.
        width: image width in pixels.
        height: image height in pixels.
        frame_rate: frames per second.
        initial_people: pedestrians in view at frame 1.
        entries_per_frame: mean number of pedestrians entering per frame (Poisson).
        distractors: static people (class 7) in the scene.
        walk_speed: (min, max) walking speed in pixels per frame at the bottom of the image.
        turn_std: std of the per-frame change of walking direction, in radians.
        horizon: fraction of the image height where the ground plane starts.
        person_height: (min, max) box height at the bottom of the image, as a fraction of the
            image height (boxes shrink towards the horizon).
        aspect: (min, max) box width / height.
        camera_pan: (x, y) camera motion in pixels per frame (image content moves the other way).
        noise: the detector model.
    """

    num_frames: int = 300
    width: int = 960
    height: int = 540
    frame_rate: float = 30.0
    initial_people: int = 8
    entries_per_frame: float = 0.04
    distractors: int = 1
    walk_speed: tuple[float, float] = (1.5, 4.0)
    turn_std: float = 0.03
    horizon: float = 0.3
    person_height: tuple[float, float] = (0.35, 0.5)
    aspect: tuple[float, float] = (0.35, 0.45)
    camera_pan: tuple[float, float] = (0.0, 0.0)
    noise: DetectorNoise = field(default_factory=DetectorNoise)


@dataclass(frozen=True)
class SyntheticSequence:
    """One generated sequence. All boxes are tlwh in pixels, frames 1-based.

    Attributes:
        name: sequence name.
        config: the scene configuration it was generated with.
        seed: the generator seed.
        gt_frame, gt_id, gt_tlwh, gt_class, gt_visibility: ground-truth rows, sorted by frame
            then id.
        det_frame, det_tlwh, det_score: detection rows, sorted by frame.
        det_gt_id: (D,) the ground-truth id each detection came from (-1 for false positives).
        camera_offset: (num_frames, 2) camera position per frame (world = image + offset).
    """

    name: str
    config: SceneConfig
    seed: int
    gt_frame: np.ndarray
    gt_id: np.ndarray
    gt_tlwh: np.ndarray
    gt_class: np.ndarray
    gt_visibility: np.ndarray
    det_frame: np.ndarray
    det_tlwh: np.ndarray
    det_score: np.ndarray
    det_gt_id: np.ndarray
    camera_offset: np.ndarray


# ---------------------------------------------------------------------------------------- people


@dataclass
class _Walker:
    """One person's state in world coordinates (bottom-centre of the box)."""

    pid: int
    x: float
    y: float
    heading: float
    speed: float
    scale: float  # person size relative to the scene's nominal size
    aspect: float
    static: bool


def _depth(cfg: SceneConfig, y: float, lowest: float) -> float:
    """Position of image row ``y`` between the horizon (0) and the image bottom (1), clipped."""
    ground = (1 - cfg.horizon) * cfg.height
    return float(np.clip((y - cfg.horizon * cfg.height) / ground, lowest, 1.0))


def _height_at(cfg: SceneConfig, y: float, scale: float) -> float:
    """Box height (pixels) of a person whose feet are at image row ``y`` (perspective)."""
    lo, hi = cfg.person_height
    depth = _depth(cfg, y, 0.0)
    return float(cfg.height * scale * (lo + (hi - lo) * depth) * (0.3 + 0.7 * depth))


def _spawn(
    cfg: SceneConfig,
    rng: np.random.Generator,
    pid: int,
    offset: np.ndarray,
    edge: bool,
    static: bool,
) -> _Walker:
    """A new person, either at a random place in view or just outside the left/right border."""
    y = rng.uniform(cfg.horizon * cfg.height + 10, cfg.height * 0.98)
    scale = rng.uniform(0.9, 1.1)
    aspect = rng.uniform(*cfg.aspect)
    if edge:
        from_left = rng.random() < 0.5
        half_w = _height_at(cfg, y, scale) * aspect / 2
        x = -half_w + 1 if from_left else cfg.width + half_w - 1
        heading = rng.normal(0.0 if from_left else np.pi, 0.2)
    else:
        x = rng.uniform(0.05, 0.95) * cfg.width
        heading = rng.uniform(-np.pi, np.pi)
    speed = 0.0 if static else rng.uniform(*cfg.walk_speed)
    return _Walker(pid, x + offset[0], y + offset[1], heading, speed, scale, aspect, static)


def _step_walker(
    cfg: SceneConfig, rng: np.random.Generator, w: _Walker, offset: np.ndarray
) -> None:
    """Move one frame; walkers bounce off the top/bottom of the ground plane."""
    if w.static:
        return
    w.heading += rng.normal(0.0, cfg.turn_std)
    depth = _depth(cfg, w.y - offset[1], 0.2)
    w.x += w.speed * depth * np.cos(w.heading)
    w.y += w.speed * depth * np.sin(w.heading) * 0.4  # mostly across the image
    lo, hi = cfg.horizon * cfg.height + 5 + offset[1], cfg.height * 0.99 + offset[1]
    if not lo <= w.y <= hi:
        w.y = float(np.clip(w.y, lo, hi))
        w.heading = -w.heading


def _box(cfg: SceneConfig, w: _Walker, offset: np.ndarray) -> np.ndarray:
    """(4,) tlwh image box of a walker."""
    y_img = w.y - offset[1]
    h = _height_at(cfg, y_img, w.scale)
    width = h * w.aspect
    return np.array([w.x - offset[0] - width / 2, y_img - h, width, h])


def _outside(cfg: SceneConfig, box: np.ndarray) -> bool:
    return box[0] + box[2] < 0 or box[0] > cfg.width or box[1] + box[3] < 0 or box[1] > cfg.height


def _simulate_people(cfg: SceneConfig, rng: np.random.Generator) -> tuple[list[tuple], np.ndarray]:
    """Ground-truth boxes per frame: ``(frame, id, tlwh, static)`` rows and the camera offsets."""
    offsets = np.arange(cfg.num_frames)[:, None] * np.asarray(cfg.camera_pan, float)[None, :]
    people = [_spawn(cfg, rng, i + 1, offsets[0], False, False) for i in range(cfg.initial_people)]
    first_static = cfg.initial_people + 1
    people += [
        _spawn(cfg, rng, first_static + i, offsets[0], False, True) for i in range(cfg.distractors)
    ]
    next_id = len(people) + 1
    rows = []
    for f in range(cfg.num_frames):
        for _ in range(rng.poisson(cfg.entries_per_frame)):
            people.append(_spawn(cfg, rng, next_id, offsets[f], True, False))
            next_id += 1
        alive = []
        for w in people:
            if f > 0:
                _step_walker(cfg, rng, w, offsets[f])
            box = _box(cfg, w, offsets[f])
            out = _outside(cfg, box)
            if out and not w.static:
                continue  # left the view: gone for good (ids are never reused)
            alive.append(w)
            if not out:
                rows.append((f + 1, w.pid, box, w.static))
        people = alive
    return rows, offsets


def _visibility(
    tlwh: np.ndarray, width: int, height: int, occluders_xyxy: np.ndarray | None = None
) -> np.ndarray:
    """(N,) fraction of each box inside the image and not covered by a box closer to the camera.

    Closer means a lower bottom edge; `occluders_xyxy` (K, 4) are drawn in front of everyone.
    Coverage is measured on a regular grid of points per box.
    """
    n = len(tlwh)
    if n == 0:
        return np.zeros(0)
    u = (np.arange(_VIS_GRID) + 0.5) / _VIS_GRID
    gx = tlwh[:, None, 0] + u[None, :] * tlwh[:, None, 2]  # (N, G)
    gy = tlwh[:, None, 1] + u[None, :] * tlwh[:, None, 3]
    px = np.repeat(gx, _VIS_GRID, axis=1)  # (N, G*G)
    py = np.tile(gy, (1, _VIS_GRID))
    inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    x1, y1 = tlwh[:, 0], tlwh[:, 1]
    x2, y2 = x1 + tlwh[:, 2], y1 + tlwh[:, 3]
    covered = np.zeros_like(inside)
    for j in range(n):  # occluder j covers points of every box whose bottom is higher
        behind = y2 < y2[j]
        if not behind.any():
            continue
        bx, by = px[behind], py[behind]
        covered[behind] |= (bx >= x1[j]) & (bx < x2[j]) & (by >= y1[j]) & (by < y2[j])
    for ox1, oy1, ox2, oy2 in np.asarray(occluders_xyxy if occluders_xyxy is not None else ()):
        covered |= (px >= ox1) & (px < ox2) & (py >= oy1) & (py < oy2)
    return (inside & ~covered).mean(axis=1)


def visibility(
    tlwh: np.ndarray, width: int, height: int, occluders_xyxy: np.ndarray | None = None
) -> np.ndarray:
    """(N,) visible fraction of each of one frame's (N, 4) tlwh boxes (inside the image, not hidden
    by a person closer to the camera or by one of the (K, 4) xyxy foreground occluders)."""
    return _visibility(np.asarray(tlwh, np.float64).reshape(-1, 4), width, height, occluders_xyxy)


# ---------------------------------------------------------------------------------------- detector


class _LatentNoise:
    """Per-person AR(1) Gaussian latents mapped to uniforms: correlated random draws over time."""

    def __init__(self, rho: float) -> None:
        self.rho = rho
        self.state: dict[int, np.ndarray] = {}

    def uniforms(self, rng: np.random.Generator, ids: np.ndarray) -> np.ndarray:
        """(N, 2) uniforms in [0, 1) for these person ids (column 0: miss, column 1: low score)."""
        eps = rng.standard_normal((len(ids), 2))
        out = np.empty((len(ids), 2))
        innovation = np.sqrt(1.0 - self.rho**2)
        for k, pid in enumerate(ids.tolist()):
            prev = self.state.get(pid)
            z = eps[k] if prev is None else self.rho * prev + innovation * eps[k]
            self.state[pid] = z
            out[k] = z
        return ndtr(out)


def _false_positives(cfg: SceneConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(F, 4) tlwh person-sized boxes at random places on the ground, and (F,) scores."""
    n_fp = rng.poisson(cfg.noise.false_positives_per_frame)
    boxes = np.empty((n_fp, 4))
    for k in range(n_fp):
        y = rng.uniform(cfg.horizon * cfg.height + 20, cfg.height)
        h = _height_at(cfg, y, rng.uniform(0.7, 1.2))
        w = h * rng.uniform(*cfg.aspect)
        boxes[k] = (rng.uniform(0, cfg.width - w), y - h, w, h)
    return boxes, rng.uniform(*cfg.noise.false_positive_score_range, n_fp)


def _detect(
    cfg: SceneConfig,
    rng: np.random.Generator,
    ids: np.ndarray,
    tlwh: np.ndarray,
    vis: np.ndarray,
    latent: _LatentNoise,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy detections of one frame: (D, 4) tlwh, (D,) scores, (D,) source gt ids (-1 = false)."""
    nz = cfg.noise
    occl = 1.0 - vis
    u = latent.uniforms(rng, ids)
    seen = (u[:, 0] >= np.clip(nz.miss_rate + nz.occlusion_miss_rate * occl, 0, 1)) & (vis > 0)
    boxes = tlwh[seen]
    wh = boxes[:, 2:4]
    edges = np.concatenate([boxes[:, :2], boxes[:, :2] + wh], axis=1)
    edges += rng.normal(0.0, nz.jitter, edges.shape) * np.concatenate([wh, wh], axis=1)
    edges[:, 2:] = np.maximum(edges[:, 2:], edges[:, :2] + _MIN_SIDE)
    boxes = np.concatenate([edges[:, :2], edges[:, 2:] - edges[:, :2]], axis=1)
    p_low = np.clip(nz.low_score_rate + nz.occlusion_low_score_rate * occl[seen], 0, 1)
    low_scores = rng.uniform(*nz.low_score_range, len(boxes))
    high_scores = rng.uniform(*nz.high_score_range, len(boxes))
    scores = np.where(u[seen, 1] < p_low, low_scores, high_scores)
    fp_boxes, fp_scores = _false_positives(cfg, rng)
    src = np.concatenate([ids[seen], np.full(len(fp_boxes), -1)])
    return np.concatenate([boxes, fp_boxes]), np.concatenate([scores, fp_scores]), src


def simulate_detector(
    cfg: SceneConfig,
    rng: np.random.Generator,
    frames: np.ndarray,
    ids: np.ndarray,
    tlwh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The visibility of ground-truth rows and the simulated detector's output on them.

    Args:
        cfg: the scene (size, frame count, `noise`).
        rng: the random stream (advanced).
        frames, ids, tlwh: (R,) 1-based frames, (R,) person ids and (R, 4) boxes of the truth.

    Returns:
        (R,) visibility, then the detections' (D,) frames, (D, 4) tlwh boxes, (D,) scores and
        (D,) source person ids (-1 for false positives), ordered by frame.
    """
    vis = np.zeros(len(frames))
    parts = []
    latent = _LatentNoise(cfg.noise.temporal_correlation)
    for f in range(1, cfg.num_frames + 1):
        sel = np.flatnonzero(frames == f)
        vis[sel] = _visibility(tlwh[sel], cfg.width, cfg.height)
        boxes, scores, src = _detect(cfg, rng, ids[sel], tlwh[sel], vis[sel], latent)
        parts.append((np.full(len(boxes), f, np.int64), boxes, scores, src))
    det_frame, det_tlwh, det_score, det_src = (np.concatenate(p) for p in zip(*parts, strict=True))
    return vis, det_frame, det_tlwh, det_score, det_src


def generate_sequence(
    seed: int, config: SceneConfig | None = None, name: str | None = None
) -> SyntheticSequence:
    """Generate ground truth and detections for one sequence, deterministically from ``seed``."""
    cfg = config or SceneConfig()
    if cfg.num_frames < 1:
        raise ValueError(f"SceneConfig.num_frames must be >= 1, got {cfg.num_frames}")
    rng = np.random.default_rng(seed)
    rows, offsets = _simulate_people(cfg, rng)
    frames = np.array([r[0] for r in rows], np.int64)
    ids = np.array([r[1] for r in rows], np.int64)
    tlwh = np.array([r[2] for r in rows], np.float64).reshape(-1, 4)
    static = np.array([r[3] for r in rows], bool)
    vis, det_frame, det_tlwh, det_score, det_src = simulate_detector(cfg, rng, frames, ids, tlwh)
    order = np.lexsort((ids, frames))
    classes = np.where(static[order], STATIC_PERSON_CLASS, PEDESTRIAN_CLASS).astype(np.int64)
    return SyntheticSequence(
        name=name or f"SYN-{seed:04d}",
        config=cfg,
        seed=seed,
        gt_frame=frames[order],
        gt_id=ids[order],
        gt_tlwh=tlwh[order],
        gt_class=classes,
        gt_visibility=np.round(vis[order], 4),
        det_frame=det_frame,
        det_tlwh=det_tlwh.reshape(-1, 4),
        det_score=det_score,
        det_gt_id=det_src.astype(np.int64),
        camera_offset=offsets,
    )


# ---------------------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class SpriteAppearance:
    """The look of one identity: BGR colours and a shirt pattern."""

    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    pattern: int  # 0 plain, 1 horizontal stripes, 2 vertical band


def sprite_appearance(identity: int, seed: int = 0) -> SpriteAppearance:
    """Deterministic, identity-specific colours (saturated, spread hues) and shirt pattern."""
    rng = np.random.default_rng([seed, identity])
    shirt_hsv = [rng.integers(0, 180), rng.integers(150, 256), rng.integers(120, 256)]
    trousers_hsv = [rng.integers(0, 180), rng.integers(80, 256), rng.integers(40, 200)]
    hsv = np.array([[shirt_hsv], [trousers_hsv]], np.uint8)
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[:, 0]
    shirt, trousers = (tuple(int(c) for c in px) for px in bgr)
    skin = tuple(int(c) for c in rng.integers([60, 90, 140], [120, 170, 230]))
    return SpriteAppearance(shirt, trousers, skin, int(rng.integers(0, 3)))


def draw_person_sprite(canvas: np.ndarray, tlwh: np.ndarray, look: SpriteAppearance) -> None:
    """Draw a simple person (head, shirt, trousers) filling ``tlwh`` onto a BGR canvas, in place."""
    x, y, w, h = (float(v) for v in tlwh)
    cx = x + w / 2
    head_r = max(1, round(min(w * 0.28, h * 0.1)))
    cv2.circle(canvas, (round(cx), round(y + head_r)), head_r, look.skin, -1)
    left, right = round(x + 0.1 * w), round(x + 0.9 * w)
    top, bottom = round(y + 2 * head_r), round(y + 0.58 * h)
    cv2.rectangle(canvas, (left, top), (right, bottom), look.shirt, -1)
    if look.pattern == 1:  # dark horizontal stripes
        dark = tuple(int(c * 0.4) for c in look.shirt)
        for yy in range(top, bottom, max(2, int(h * 0.05))):
            cv2.line(canvas, (left, yy), (right, yy), dark, max(1, int(h * 0.015)))
    elif look.pattern == 2:  # a white vertical band
        band = (int(cx - 0.12 * w), top), (int(cx + 0.12 * w), bottom)
        cv2.rectangle(canvas, *band, (245, 245, 245), -1)
    for side in (-1, 1):  # two legs
        lx = cx + side * 0.2 * w
        leg = (int(lx - 0.15 * w), bottom), (int(lx + 0.15 * w), round(y + h))
        cv2.rectangle(canvas, *leg, look.trousers, -1)


_BACKGROUNDS = ("tiles", "varied")


@dataclass(frozen=True)
class RenderStyle:
    """How much the rendered frames vary (detection training data); the defaults change nothing.

    Attributes:
        background: ``"tiles"`` (grey tiles on a smooth grey ground: the tracking frames) or
            ``"varied"`` (a per-sequence colour tint and gradient, and coloured clutter: rectangles,
            discs and lines of person-like sizes and colours).
        brightness: (min, max) per-frame gain applied to the whole frame.
        blur_prob: probability that a frame is Gaussian-blurred.
        blur_sigma: (min, max) blur standard deviation in pixels.
        occluders: static foreground objects per sequence (posts, boards), fixed in the world and
            drawn over the people; see `occluder_boxes`.
        occluder_size: (min, max) occluder (width, height) as fractions of the image (width, height).
    """

    background: str = "tiles"
    brightness: tuple[float, float] = (1.0, 1.0)
    blur_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.6, 1.6)
    occluders: int = 0
    occluder_size: tuple[tuple[float, float], tuple[float, float]] = ((0.03, 0.08), (0.15, 0.5))

    def __post_init__(self) -> None:
        if self.background not in _BACKGROUNDS:
            raise ValueError(
                f"RenderStyle.background={self.background!r}, expected one of {_BACKGROUNDS}"
            )


_OCCLUDER_STREAM, _STYLE_STREAM = 11, 13  # random streams of the style (independent of the scene)


def occluder_boxes(seq: SyntheticSequence, style: RenderStyle) -> np.ndarray:
    """(K, 4) xyxy boxes of the style's foreground occluders in the first frame's image coordinates
    (they are fixed in the world: frame ``f`` sees them shifted by ``-(camera_offset[f-1])``)."""
    cfg = seq.config
    rng = np.random.default_rng([seq.seed, _OCCLUDER_STREAM])
    (w_lo, w_hi), (h_lo, h_hi) = style.occluder_size
    boxes = np.empty((style.occluders, 4))
    for k in range(style.occluders):
        w = rng.uniform(w_lo, w_hi) * cfg.width
        h = rng.uniform(h_lo, h_hi) * cfg.height
        x = rng.uniform(0, cfg.width - w)
        bottom = rng.uniform(cfg.horizon * cfg.height + h * 0.5, cfg.height * 1.05)
        boxes[k] = (x, bottom - h, x + w, bottom)
    return boxes


def _varied_background(cfg: SceneConfig, size: tuple[int, int], seed: int) -> np.ndarray:
    """(h, w, 3) uint8 world image: tinted gradient ground with coloured clutter."""
    w, h = size
    rng = np.random.default_rng([seed, _STYLE_STREAM])
    top, bottom = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    ramp = np.linspace(0.0, 1.0, h)[:, None, None]
    world = (top[None, None, :] * (1 - ramp) + bottom[None, None, :] * ramp).astype(np.float32)
    world = np.repeat(world, w, axis=1)
    low = rng.normal(0, 18, size=(max(2, h // 40), max(2, w // 40), 1)).astype(np.float32)
    world += cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)[:, :, None]
    world = np.clip(world, 0, 255).astype(np.uint8)
    for _ in range(w * h // 4000):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        kind, size_px = int(rng.integers(0, 3)), rng.integers(4, max(6, h // 8), 2)
        if kind == 0:
            cv2.rectangle(world, (x0, y0), (x0 + int(size_px[0]), y0 + int(size_px[1])), colour, -1)
        elif kind == 1:
            cv2.circle(world, (x0, y0), int(size_px[0]) // 2 + 1, colour, -1)
        else:
            end = (x0 + int(rng.integers(-h // 4, h // 4)), y0 + int(rng.integers(-h // 4, h // 4)))
            cv2.line(world, (x0, y0), end, colour, int(rng.integers(1, 4)))
    return world


def _apply_style(
    canvas: np.ndarray,
    style: RenderStyle,
    rng: np.random.Generator,
    occluders: np.ndarray,
    looks: list[tuple[int, int, int]],
) -> np.ndarray:
    """Occluders over the people, then brightness and blur (all in place where possible)."""
    for (x1, y1, x2, y2), colour in zip(occluders, looks, strict=True):
        cv2.rectangle(canvas, (round(x1), round(y1)), (round(x2) - 1, round(y2) - 1), colour, -1)
    gain = rng.uniform(*style.brightness)
    blur = rng.random() < style.blur_prob
    sigma = rng.uniform(*style.blur_sigma)
    if gain != 1.0:
        canvas = np.clip(canvas.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    if blur:
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    return canvas


def _background(cfg: SceneConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured world image big enough for the camera path, and its world origin offset."""
    span = np.abs(np.asarray(cfg.camera_pan, float)) * cfg.num_frames
    pad = (np.ceil(span) + 2).astype(int)
    w, h = cfg.width + 2 * pad[0], cfg.height + 2 * pad[1]
    rng = np.random.default_rng([seed, 7])
    base = rng.integers(100, 150, size=(max(2, h // 48), max(2, w // 48), 1)).astype(np.uint8)
    smooth = cv2.resize(base, (w, h), interpolation=cv2.INTER_LINEAR)
    world = np.repeat(smooth[:, :, None], 3, axis=2)
    for _ in range(w * h // 6000):  # grey tiles and bars: corners for optical flow, no colour
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        grey = int(rng.integers(40, 220))
        size = rng.integers(6, 36, 2)
        end = (x0 + int(size[0]), y0 + int(size[1]))
        cv2.rectangle(world, (x0, y0), end, (grey, grey, grey), -1)
    return world, pad


def render_sequence_frames(
    seq: SyntheticSequence, style: RenderStyle | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame, (H, W, 3) uint8 BGR image)`` for every frame, people drawn far to near.

    Args:
        seq: the sequence.
        style: appearance variation (`RenderStyle`); None: the plain tracking frames.
    """
    cfg = seq.config
    style = style or RenderStyle()
    world, pad = _background(cfg, seq.seed)
    if style.background == "varied":
        world = _varied_background(cfg, (world.shape[1], world.shape[0]), seq.seed)
    occluders = occluder_boxes(seq, style)
    occ_rng = np.random.default_rng([seq.seed, _OCCLUDER_STREAM, 1])
    occ_looks = [tuple(int(c) for c in occ_rng.integers(20, 236, 3)) for _ in occluders]
    style_rng = np.random.default_rng([seq.seed, _STYLE_STREAM, 1])
    plain = style == RenderStyle()
    looks: dict[int, SpriteAppearance] = {}
    bounds = np.searchsorted(seq.gt_frame, np.arange(1, cfg.num_frames + 2))
    for f in range(1, cfg.num_frames + 1):
        ox, oy = np.round(seq.camera_offset[f - 1]).astype(int) + pad
        canvas = world[oy : oy + cfg.height, ox : ox + cfg.width].copy()
        lo, hi = bounds[f - 1], bounds[f]
        tlwh = seq.gt_tlwh[lo:hi]
        for k in np.argsort(tlwh[:, 1] + tlwh[:, 3], kind="stable"):
            pid = int(seq.gt_id[lo + k])
            look = looks.setdefault(pid, sprite_appearance(pid, seq.seed))
            draw_person_sprite(canvas, tlwh[k], look)
        if not plain:
            shift = np.tile(seq.camera_offset[f - 1] - seq.camera_offset[0], 2)
            canvas = _apply_style(canvas, style, style_rng, occluders - shift, occ_looks)
        yield f, canvas


# ---------------------------------------------------------------------------------------- writing


def _write_rows(path: Path, rows: np.ndarray, int_cols: int) -> None:
    """Comma-separated rows; the first ``int_cols`` columns as integers, the rest as %.6g."""
    fmt = ["%d"] * int_cols + ["%.6g"] * (rows.shape[1] - int_cols)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, fmt=fmt, delimiter=",")


def write_sequence(root: str | Path, seq: SyntheticSequence, render_frames: bool = False) -> Path:
    """Write one sequence in the MOTChallenge layout under ``root/<name>``; returns that folder."""
    cfg = seq.config
    folder = Path(root) / seq.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={seq.name}\nimDir={IMAGE_DIR}\nframeRate={cfg.frame_rate:g}\n"
        f"seqLength={cfg.num_frames}\nimWidth={cfg.width}\nimHeight={cfg.height}\n"
        f"imExt={IMAGE_EXT}\n"
    )
    consider = np.where(seq.gt_class == PEDESTRIAN_CLASS, 1, 0)
    gt = np.column_stack(
        [seq.gt_frame, seq.gt_id, seq.gt_tlwh, consider, seq.gt_class, seq.gt_visibility]
    )
    _write_rows(folder / "gt" / "gt.txt", gt, 2)
    n = len(seq.det_frame)
    det = np.column_stack(
        [seq.det_frame, -np.ones(n), seq.det_tlwh, seq.det_score, -np.ones((n, 3))]
    )
    _write_rows(folder / "det" / "det.txt", det, 2)
    if render_frames:
        img_dir = folder / IMAGE_DIR
        img_dir.mkdir(exist_ok=True)
        quality = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        for f, image in render_sequence_frames(seq):
            cv2.imwrite(str(img_dir / f"{f:06d}{IMAGE_EXT}"), image, quality)
    return folder


def write_mot_folder(
    root: str | Path,
    n_sequences: int,
    seed: int,
    *,
    render_frames: bool = False,
    config: SceneConfig | None = None,
    pan_every: int = 0,
    pan: tuple[float, float] = (2.0, 0.0),
) -> list[Path]:
    """Write ``n_sequences`` sequences ``SYN-01, SYN-02, ...`` under ``root``.

    Args:
        root: output folder (created).
        n_sequences: how many sequences.
        seed: base seed; sequence ``k`` (1-based) uses ``seed * 1000 + k``.
        render_frames: also write ``img1/000001.jpg, ...`` frames.
        config: scene configuration shared by all sequences.
        pan_every: every ``pan_every``-th sequence gets ``camera_pan=pan`` (0: none).
        pan: the camera motion, pixels per frame.

    Returns:
        The sequence folders, in order.
    """
    base = config or SceneConfig()
    folders = []
    for k in range(1, n_sequences + 1):
        cfg = replace(base, camera_pan=pan) if pan_every and k % pan_every == 0 else base
        seq = generate_sequence(seed * 1000 + k, cfg, name=f"SYN-{k:02d}")
        folders.append(write_sequence(root, seq, render_frames))
        log.info(
            "wrote %s (%d gt boxes, %d detections)", seq.name, len(seq.gt_id), len(seq.det_frame)
        )
    return folders
