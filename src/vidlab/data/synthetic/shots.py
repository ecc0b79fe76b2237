"""Synthetic edited videos: shots joined by hard cuts and fades through black at known frames.

Each shot has its own look (a smooth two-colour gradient, a random texture of blobs, a palette
drawn at random) and, unless it is static, a slow camera pan and a few moving shapes. Frames carry
a little sensor noise (a bank of noise frames, cheap to add). Shots are joined by

- ``cut``: the last frame of one shot is followed by the first frame of the next;
- ``fade``: the outgoing shot's last ``L`` frames fade to black and the incoming shot's first
  ``L`` frames fade in from black (a fade-out / fade-in pair, as editors cut between scenes).

The ground truth boundary of a transition is the index of the first frame of the incoming shot
(for a fade, the first frame of its fade-in, the middle of the black gap). Everything is
deterministic in the seed; frames are produced one at a time (`iter_frames`) and written with a
streaming encoder (`write_shot_video`), so an hour-long video costs the memory of one shot's
canvas.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

TRANSITIONS = ("cut", "fade")
_NOISE_BANK = 8  # distinct noise frames, drawn per frame
_PAN_MARGIN = 0.25  # the canvas is this fraction larger than the frame on each axis (room to pan)
_BLOBS = 24  # texture blobs per shot canvas
_SHAPES = (1, 4)  # moving shapes per dynamic shot, [low, high)


@dataclass(frozen=True)
class ShotVideoSpec:
    """How a synthetic edited video is made.

    Attributes:
        num_shots: shots in the video.
        shot_frames: (min, max) frames per shot, transitions included.
        fade_prob: probability that a transition is a fade (else a cut).
        fade_frames: (min, max) frames of each half of a fade (out, then in).
        static_prob: probability that a shot has no motion at all (no pan, no moving shapes).
        width, height: frame size in pixels (even).
        fps: frame rate.
        noise: standard deviation of the per-frame sensor noise (8-bit units).
        seed: everything follows from it.
    """

    num_shots: int = 12
    shot_frames: tuple[int, int] = (30, 90)
    fade_prob: float = 0.3
    fade_frames: tuple[int, int] = (6, 12)
    static_prob: float = 0.2
    width: int = 320
    height: int = 180
    fps: float = 25.0
    noise: float = 2.0
    seed: int = 0


@dataclass(frozen=True)
class ShotPlan:
    """One shot: frames ``[start, end)``, its transition in and out, and its look's seed.

    Attributes:
        start, end: frame range (fade-in and fade-out frames included).
        fade_in, fade_out: frames of fade from / to black at each end (0: a cut or the video edge).
        static: no motion at all.
        look_seed: seed of its background, palette and moving shapes.
    """

    start: int
    end: int
    fade_in: int
    fade_out: int
    static: bool
    look_seed: int


@dataclass(frozen=True)
class ShotTruth:
    """Ground truth of a synthetic video.

    Attributes:
        boundaries: first frame of every shot but the first, ascending.
        kinds: transition of each boundary (``cut`` or ``fade``).
        shots: the plans, in order.
        num_frames: total frames.
        fps: frame rate.
    """

    boundaries: list[int]
    kinds: list[str]
    shots: list[ShotPlan]
    num_frames: int
    fps: float

    def to_json(self) -> dict:
        return {
            "boundaries": self.boundaries,
            "kinds": self.kinds,
            "shots": [asdict(s) for s in self.shots],
            "num_frames": self.num_frames,
            "fps": self.fps,
        }

    @classmethod
    def from_json(cls, data: dict) -> ShotTruth:
        return cls(
            [int(b) for b in data["boundaries"]],
            [str(k) for k in data["kinds"]],
            [ShotPlan(**s) for s in data["shots"]],
            int(data["num_frames"]),
            float(data["fps"]),
        )


def plan_shots(spec: ShotVideoSpec) -> ShotTruth:
    """Lengths, transitions and looks of every shot (no rendering)."""
    _check_spec(spec)
    rng = np.random.default_rng(spec.seed)
    lengths = rng.integers(spec.shot_frames[0], spec.shot_frames[1] + 1, size=spec.num_shots)
    kinds = ["fade" if rng.random() < spec.fade_prob else "cut" for _ in range(spec.num_shots - 1)]
    fades = [
        int(rng.integers(spec.fade_frames[0], spec.fade_frames[1] + 1)) if k == "fade" else 0
        for k in kinds
    ]
    shots, start = [], 0
    for i, length in enumerate(lengths):
        fade_in = fades[i - 1] if i > 0 else 0
        fade_out = fades[i] if i < len(fades) else 0
        shots.append(
            ShotPlan(
                start=start,
                end=start + int(length),
                fade_in=fade_in,
                fade_out=fade_out,
                static=bool(rng.random() < spec.static_prob),
                look_seed=int(rng.integers(2**31)),
            )
        )
        start += int(length)
    return ShotTruth([s.start for s in shots[1:]], kinds, shots, start, spec.fps)


def _check_spec(spec: ShotVideoSpec) -> None:
    if spec.width % 2 or spec.height % 2:
        raise ValueError(f"frame size {spec.width}x{spec.height}: must be even")
    low, high = spec.shot_frames
    if not 0 < low <= high:
        raise ValueError(f"shot_frames {spec.shot_frames}: expected 0 < min <= max")
    if 2 * spec.fade_frames[1] >= low:
        raise ValueError(
            f"fade_frames {spec.fade_frames}: a shot of {low} frames cannot hold a fade in and out"
        )


class _ShotLook:
    """The canvas and moving shapes of one shot."""

    def __init__(self, plan: ShotPlan, spec: ShotVideoSpec) -> None:
        rng = np.random.default_rng(plan.look_seed)
        w, h = spec.width, spec.height
        cw, ch = int(w * (1 + 2 * _PAN_MARGIN)), int(h * (1 + 2 * _PAN_MARGIN))
        self.canvas = _textured_canvas(rng, cw, ch)
        self.static = plan.static
        self.size = (w, h)
        # Pan: constant velocity in pixels per frame, bounded so the crop stays on the canvas.
        length = max(1, plan.end - plan.start)
        max_speed = np.array([cw - w, ch - h]) / length
        self.origin = np.array([(cw - w) / 2, (ch - h) / 2])
        self.velocity = (
            np.zeros(2) if plan.static else rng.uniform(-0.45, 0.45, 2) * np.minimum(max_speed, 2.0)
        )
        n = 0 if plan.static else int(rng.integers(*_SHAPES))
        self.shapes = [
            {
                "pos": rng.uniform([0, 0], [w, h]),
                "vel": rng.uniform(-3, 3, 2),
                "radius": int(rng.integers(h // 14, h // 5)),
                "color": tuple(int(c) for c in rng.integers(0, 256, 3)),
                "square": bool(rng.random() < 0.5),
            }
            for _ in range(n)
        ]
        self._static_frame = self._render(0) if plan.static else None

    def frame(self, t: int) -> np.ndarray:
        """The (H, W, 3) uint8 RGB frame `t` frames into the shot (before noise and fades)."""
        return self._static_frame if self._static_frame is not None else self._render(t)

    def _render(self, t: int) -> np.ndarray:
        w, h = self.size
        x, y = (self.origin + self.velocity * t).round().astype(int)
        image = self.canvas[y : y + h, x : x + w].copy()
        for s in self.shapes:
            px, py = (s["pos"] + s["vel"] * t).astype(int)
            px, py = (
                px % (w + 2 * s["radius"]) - s["radius"],
                py % (h + 2 * s["radius"]) - s["radius"],
            )
            r = s["radius"]
            if s["square"]:
                cv2.rectangle(image, (px - r, py - r), (px + r, py + r), s["color"], -1)
            else:
                cv2.circle(image, (px, py), r, s["color"], -1)
        return image


def _textured_canvas(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth two-colour gradient with soft blobs: a shot's random, mostly low-frequency look."""
    c0, c1 = rng.integers(20, 236, (2, 3)).astype(np.float32)
    angle = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    canvas = c0 + (c1 - c0) * ramp[..., None]
    blobs = np.zeros((height, width, 3), np.float32)
    for _ in range(_BLOBS):
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        axes = (int(rng.integers(4, width // 6)), int(rng.integers(4, height // 6)))
        colour = tuple(float(c) for c in rng.uniform(-60, 60, 3))
        cv2.ellipse(blobs, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    canvas += cv2.GaussianBlur(blobs, (0, 0), 2.0)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _fade_gain(plan: ShotPlan, t: int) -> float:
    """Brightness factor of frame `t` of a shot: 0 at the black end of a fade, 1 outside fades."""
    length = plan.end - plan.start
    if plan.fade_in and t < plan.fade_in:
        return t / plan.fade_in  # first frame black
    if plan.fade_out and t >= length - plan.fade_out:
        return (length - 1 - t) / plan.fade_out  # last frame black
    return 1.0


def iter_frames(spec: ShotVideoSpec, truth: ShotTruth | None = None) -> Iterator[np.ndarray]:
    """Yield every (H, W, 3) uint8 RGB frame of the video `spec` describes, in order."""
    truth = truth or plan_shots(spec)
    rng = np.random.default_rng(spec.seed + 1)
    noise = (
        rng.normal(0, spec.noise, (_NOISE_BANK, spec.height, spec.width, 3)).astype(np.int16)
        if spec.noise > 0
        else None
    )
    for plan in truth.shots:
        look = _ShotLook(plan, spec)
        for t in range(plan.end - plan.start):
            image = look.frame(t)
            gain = _fade_gain(plan, t)
            if noise is not None:
                image = image.astype(np.int16) + noise[rng.integers(_NOISE_BANK)]
                if gain != 1.0:
                    image = image * gain
                image = np.clip(image, 0, 255).astype(np.uint8)
            elif gain != 1.0:
                image = (image * gain).astype(np.uint8)
            yield image


def write_shot_video(
    path: str | Path, spec: ShotVideoSpec, *, crf: int = 18, preset: str = "veryfast"
) -> ShotTruth:
    """Render `spec` into `path` (H.264) and its ground truth into ``<path>.json``; returns it."""
    from vidlab.data.io.stream import StreamWriter

    path = Path(path)
    truth = plan_shots(spec)
    with StreamWriter(
        path, width=spec.width, height=spec.height, fps=spec.fps, crf=crf, preset=preset
    ) as writer:
        for image in iter_frames(spec, truth):
            writer.write(image)
    truth_path(path).write_text(json.dumps(truth.to_json() | {"spec": asdict(spec)}) + "\n")
    log.info("%s: %d frames, %d shots", path, truth.num_frames, len(truth.shots))
    return truth


def truth_path(video: str | Path) -> Path:
    """Where `write_shot_video` puts the ground truth of `video`."""
    video = Path(video)
    return video.with_name(video.name + ".json")


def read_truth(video: str | Path) -> ShotTruth:
    """The ground truth written beside `video` by `write_shot_video`."""
    path = truth_path(video)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no shot ground truth beside {video}")
    return ShotTruth.from_json(json.loads(path.read_text()))
