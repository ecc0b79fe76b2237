"""Scripted synthetic scenes with analytics ground truth (``data=synthetic_scene``).

People walk on a ground plane (metres: ``X`` across the view, ``Y`` away from the camera) seen by a
fixed camera whose image -> ground homography is known. Besides a Poisson stream of passers-by the
scene places behaviours at known times: runners (4.5 m/s), loiterers (walk in, stand 12 to 16 s, walk
on), wrong-way walkers (against the corridor's flow), diagonal walkers (across the rail line) and a
gathering of five people in the plaza. The boxes become a `SyntheticSequence` of the synthetic MOT
generator (its detector simulation gives ``det.txt``, its renderer the frames), and the ground-truth
events follow from the script:

- ``line_crossing`` / ``zone_enter`` / ``zone_exit``: every person's bottom-centre path, with the
  layout's rule (a side kept for ``min_frames`` / ``hysteresis_frames`` frames, dated at the first
  of them; segment lines only count passages through the segment; appearing on a side or inside a
  zone is no event);
- ``loitering``: a loiterer's stop time plus the rule's ``seconds``;
- ``wrong_way``: a wrong-way walker's first frame in the corridor plus the rule's ``window_s``;
- ``overspeed``: the first frame a runner is wholly in view plus the speed window;
- ``crowding``: the plaza holds more than ``max_occupancy`` people for ``min_seconds``.

With ``script.actions=true`` the scene also has tracklet actions: people are drawn as posed figures
(`vidlab.data.synthetic.figures`: legs and arms swing with the gait, faster and wider for runners),
``fallers`` walk to a spot, fall sideways, lie on the ground and get up again (their box follows
the tilted body), and the truth gains ``action`` events (label ``run``: a runner's first to last
frame wholly in view; label ``fall``: the first frame of the fall to the frame the faller is
upright again). Fallers come from their own random stream, so the rest of the scene is the one
without actions; without actions nothing changes (same boxes, detections, frames and events).

`write_scene` writes the MOTChallenge folder plus ``analytics.yaml`` (the layout, camera = the
scene's name) and ``events_gt.jsonl`` (one event record a line, the fields of
`vidlab.pipeline.types.Event`; frames are 0-based source indices, times ``(frame - 1) / fps``).
Everything is deterministic in the seed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from vidlab.data.synthetic.figures import POSE_FIELDS, POSE_WIDTH, posed_box, render_posed_frames
from vidlab.data.synthetic.mot import (
    IMAGE_DIR,
    IMAGE_EXT,
    JPEG_QUALITY,
    PEDESTRIAN_CLASS,
    DetectorNoise,
    SceneConfig,
    SyntheticSequence,
    simulate_detector,
    write_sequence,
)
from vidlab.utils.cache import cache_key, cached_folder

log = logging.getLogger(__name__)

LAYOUT_FILE = "analytics.yaml"
EVENTS_FILE = "events_gt.jsonl"
_PERSON_HEIGHT_M = 1.75
_MARGIN_M = 1.0  # people start and end this far outside the view
# Image -> ground correspondences of the camera (a symmetric view of a 16 m wide near edge).
_IMAGE_QUAD = ((0.0, 540.0), (960.0, 540.0), (960.0, 200.0), (0.0, 200.0))
_GROUND_QUAD = ((0.0, 0.0), (16.0, 0.0), (28.0, 24.0), (-12.0, 24.0))


@dataclass(frozen=True)
class ScriptConfig:
    """What happens in a scene.

    Attributes:
        duration_s: scene length in seconds.
        frame_rate: frames per second.
        passers_per_s: Poisson rate of passers-by.
        walk_speed: (min, max) walking speed in m/s.
        runners, loiterers, wrong_way, diagonal, gatherings: scripted behaviours.
        run_speed: runners' speed (m/s).
        loiter_stand_s: (min, max) time a loiterer stands.
        gather_stand_s: time the gathering stands together.
        hysteresis_frames, min_frames, line_margin_px: zone / line rules of the layout.
        loiter_radius_m, loiter_s: loitering rule.
        wrong_way_window_s, wrong_way_angle_deg: wrong-way rule.
        speed_window_s, max_speed_mps: speed rule.
        crowd_max, crowd_s: crowding rule of the plaza.
        actions: posed figures, fallers and ``action`` events (see the module docstring).
        fallers: people who fall (with ``actions``).
        fall_s, lie_s, rise_s: (min, max) seconds of a fall, of lying, of getting up.
    """

    duration_s: float = 90.0
    frame_rate: float = 25.0
    passers_per_s: float = 0.25
    walk_speed: tuple[float, float] = (1.1, 1.6)
    runners: int = 2
    loiterers: int = 2
    wrong_way: int = 2
    diagonal: int = 3
    gatherings: int = 1
    run_speed: float = 4.5
    loiter_stand_s: tuple[float, float] = (12.0, 16.0)
    gather_stand_s: float = 5.0
    hysteresis_frames: int = 6
    min_frames: int = 4
    line_margin_px: float = 4.0
    loiter_radius_m: float = 1.0
    loiter_s: float = 8.0
    wrong_way_window_s: float = 1.0
    wrong_way_angle_deg: float = 100.0
    speed_window_s: float = 1.0
    max_speed_mps: float = 3.0
    crowd_max: int = 3
    crowd_s: float = 2.0
    actions: bool = False
    fallers: int = 2
    fall_s: tuple[float, float] = (0.6, 1.0)
    lie_s: tuple[float, float] = (1.0, 2.5)
    rise_s: tuple[float, float] = (1.0, 1.5)


@dataclass
class _Person:
    """A scripted path: ground waypoints (t, X, Y) and its behaviour."""

    pid: int
    kind: str
    waypoints: list[tuple[float, float, float]]
    aspect: float
    sway: float = 0.05
    marks: dict[str, float] = field(default_factory=dict)  # scripted instants (stop, ...)

    def position(self, t: np.ndarray) -> np.ndarray:
        w = np.asarray(self.waypoints)
        x = np.interp(t, w[:, 0], w[:, 1])
        y = np.interp(t, w[:, 0], w[:, 2])
        return np.stack([x, y], axis=1)


@dataclass(frozen=True)
class Scene:
    """A generated scene: the MOT sequence, its layout (the ``analytics`` config mapping), the
    ground-truth events (Event dicts), per-frame stream times and the script."""

    sequence: SyntheticSequence
    layout: dict[str, Any]
    events: list[dict[str, Any]]
    pts: np.ndarray
    people: list[dict[str, Any]]
    figures: np.ndarray | None = (
        None  # with actions: (R, 4 + POSE_WIDTH) per gt row, see `_figures`
    )

    @property
    def camera(self) -> str:
        return self.sequence.name


# ---------------------------------------------------------------------------------------- camera


def _homographies() -> tuple[np.ndarray, np.ndarray]:
    img = np.array(_IMAGE_QUAD, np.float32)
    ground = np.array(_GROUND_QUAD, np.float32)
    return cv2.getPerspectiveTransform(img, ground), cv2.getPerspectiveTransform(ground, img)


def _map(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), h)[:, 0]


def _view_x(img_to_ground: np.ndarray, ground_to_img: np.ndarray, y: float) -> tuple[float, float]:
    """Ground X of the left and right image borders at depth ``y``."""
    row = _map(ground_to_img, [[8.0, y]])[0, 1]
    left, right = _map(img_to_ground, [[0.0, row], [960.0, row]])[:, 0]
    return float(left), float(right)


def _layout(name: str, sc: ScriptConfig, g2i: np.ndarray) -> dict[str, Any]:
    """The scene's analytics layout (image pixels, rounded to 0.01 px)."""

    def img(points) -> list[list[float]]:
        return [[round(float(v), 2) for v in p] for p in _map(g2i, points)]

    plaza = img([[10, 3], [15, 3], [15, 9], [10, 9]])
    corridor = img([[0, 14], [6, 14], [6, 19], [0, 19]])
    return {
        "cameras": {
            name: {
                "frame_size": [960, 540],
                "homography": {
                    "image_points": [list(p) for p in _IMAGE_QUAD],
                    "ground_points": [list(p) for p in _GROUND_QUAD],
                },
                "zones": [
                    {
                        "name": "plaza",
                        "polygon": plaza,
                        "hysteresis_frames": sc.hysteresis_frames,
                        "crowding": {"max_occupancy": sc.crowd_max, "min_seconds": sc.crowd_s},
                    },
                    {
                        "name": "corridor",
                        "polygon": corridor,
                        "hysteresis_frames": sc.hysteresis_frames,
                        "allowed_direction": [1.0, 0.0],
                    },
                ],
                "lines": [
                    {
                        "name": "gate",
                        "points": img([[8, 0.5], [8, 22.5]]),
                        "in_direction": [1.0, 0.0],
                        "min_frames": sc.min_frames,
                        "margin_px": sc.line_margin_px,
                    },
                    {
                        "name": "rail",
                        "points": img([[-4.5, 11], [20.5, 11]]),
                        "in_direction": [0.0, 1.0],
                        "min_frames": sc.min_frames,
                        "margin_px": sc.line_margin_px,
                    },
                ],
                "loitering": {"radius": sc.loiter_radius_m, "seconds": sc.loiter_s},
                "wrong_way": {
                    "window_s": sc.wrong_way_window_s,
                    "max_angle_deg": sc.wrong_way_angle_deg,
                    "min_distance_px": 10.0,
                },
                "speed": {"window_s": sc.speed_window_s, "max_speed_mps": sc.max_speed_mps},
                "heatmap": {"half_life_s": 30.0, "cell_px": 8},
            }
        }
    }


# ---------------------------------------------------------------------------------------- script


class _Scripter:
    def __init__(self, sc: ScriptConfig, rng: np.random.Generator, seed: int = 0) -> None:
        self.sc, self.rng, self.seed = sc, rng, int(seed)
        self.i2g, self.g2i = _homographies()
        self.people: list[_Person] = []

    def _add(self, kind: str, waypoints, rng: np.random.Generator | None = None, **marks) -> None:
        aspect = float((rng or self.rng).uniform(0.35, 0.45))
        pid = len(self.people) + 1
        self.people.append(_Person(pid, kind, waypoints, aspect, marks=dict(marks)))

    def _edge(self, y: float, left: bool) -> float:
        lo, hi = _view_x(self.i2g, self.g2i, y)
        return lo - _MARGIN_M if left else hi + _MARGIN_M

    def walk(self, t0: float, y0: float, y1: float, left_to_right: bool, speed: float, kind: str):
        x0, x1 = self._edge(y0, left_to_right), self._edge(y1, not left_to_right)
        t1 = t0 + float(np.hypot(x1 - x0, y1 - y0)) / speed
        self._add(kind, [(t0, x0, y0), (t1, x1, y1)])

    def visit(self, t0: float, spot, stand: float, kind: str, speed: float) -> float:
        """Walk in from a side to `spot`, stand `stand` s, walk out the other side; stop time."""
        left = bool(self.rng.random() < 0.5)
        x, y = spot
        xa = self._edge(y, left)
        ta = t0 + abs(x - xa) / speed
        xb = self._edge(y, not left)
        tb = ta + stand
        self._add(kind, [(t0, xa, y), (ta, x, y), (tb, x, y), (tb + abs(xb - x) / speed, xb, y)])
        self.people[-1].sway = 0.03
        self.people[-1].marks["stop"] = ta
        return ta

    def _start(self, fraction: float, rng: np.random.Generator | None = None) -> float:
        """A start time in [2 s, fraction * duration] (earlier for very short scenes)."""
        hi = self.sc.duration_s * fraction
        return float((rng or self.rng).uniform(min(2.0, hi), hi))

    def fall(self, rng: np.random.Generator) -> None:
        """A faller: walks in to a spot left of the gate and outside the plaza and the corridor,
        falls sideways there, lies, gets up and walks on (draws only from `rng`)."""
        sc = self.sc
        x, y = float(rng.uniform(1.5, 6.5)), float(rng.uniform(2.0, 9.0))
        left, speed = bool(rng.random() < 0.5), float(rng.uniform(*sc.walk_speed))
        t0 = self._start(0.7, rng)
        xa, xb = self._edge(y, left), self._edge(y, not left)
        ta = t0 + abs(x - xa) / speed
        down = ta + float(rng.uniform(*sc.fall_s))
        rise = down + float(rng.uniform(*sc.lie_s))
        up = rise + float(rng.uniform(*sc.rise_s))
        path = [(t0, xa, y), (ta, x, y), (up, x, y), (up + abs(xb - x) / speed, xb, y)]
        side = 1.0 if rng.random() < 0.5 else -1.0
        self._add("faller", path, rng, fall=ta, down=down, rise=rise, up=up, side=side)
        self.people[-1].sway = 0.0

    def script(self) -> list[_Person]:
        sc, rng = self.sc, self.rng
        d = sc.duration_s
        speed = lambda: float(rng.uniform(*sc.walk_speed))  # noqa: E731
        t = float(rng.exponential(1 / sc.passers_per_s))
        while t < d:
            y = float(rng.uniform(1.5, 21.0))
            if 9.5 <= y <= 12.5:  # nobody walks along the rail (a counting line across the flow)
                y += 3.0
            corridor = 12.5 <= y <= 20.5
            self.walk(t, y, y, corridor or bool(rng.random() < 0.5), speed(), "passer")
            t += float(rng.exponential(1 / sc.passers_per_s))
        for _ in range(sc.runners):
            y = float(rng.uniform(2.0, 11.0))
            self.walk(
                self._start(0.7),
                y,
                y,
                bool(rng.random() < 0.5),
                sc.run_speed,
                "runner",
            )
        for _ in range(sc.wrong_way):
            y = float(rng.uniform(15.0, 18.0))
            self.walk(self._start(0.6), y, y, False, speed(), "wrong_way")
        for _ in range(sc.diagonal):
            ys = (float(rng.uniform(3, 7)), float(rng.uniform(12.5, 13.5)))
            ys = ys if rng.random() < 0.5 else ys[::-1]
            self.walk(self._start(0.7), *ys, True, speed(), "diagonal")
        for _ in range(sc.loiterers):
            spot = (float(rng.uniform(2, 14)), float(rng.uniform(2, 11)))
            self.visit(
                self._start(0.4),
                spot,
                float(rng.uniform(*sc.loiter_stand_s)),
                "loiterer",
                speed(),
            )
        for _ in range(sc.gatherings):
            t0 = self._start(0.5)
            for k in range(5):
                a = 2 * np.pi * k / 5
                spot = (12.5 + 0.9 * np.cos(a), 6.0 + 0.9 * np.sin(a))
                s = speed()
                # everyone arrives at t0 + 8 s and stands until the same moment
                left_x = self._edge(spot[1], True)
                travel = abs(spot[0] - left_x) / s
                self.visit(t0 + 8 - travel, spot, sc.gather_stand_s, "gatherer", s)
        if sc.actions:  # their own random stream: the rest of the scene stays as without actions
            falls = np.random.default_rng([self.seed, 16, 2])
            for _ in range(sc.fallers):
                self.fall(falls)
        return self.people  # fmt: skip


# ---------------------------------------------------------------------------------------- truth


def _boxes(
    people: list[_Person], sc: ScriptConfig, g2i, rng, pose_rng: np.random.Generator | None = None
) -> tuple[np.ndarray, ...]:
    """Ground-truth rows (frame, id, tlwh) of every person in view, the frame times and, with
    `pose_rng` (a scene with actions), every row's figure (`_figures`), else None."""
    n = round(sc.duration_s * sc.frame_rate)
    times = np.arange(n) / sc.frame_rate
    out_f, out_id, out_box, out_fig = [], [], [], []
    for p in people:
        w = np.asarray(p.waypoints)
        sel = np.flatnonzero((times >= w[0, 0]) & (times <= w[-1, 0]))
        if not len(sel):
            continue
        g = p.position(times[sel])
        phase = rng.uniform(0, 2 * np.pi)
        g[:, 1] += p.sway * np.sin(2 * np.pi * 0.5 * times[sel] + phase)
        foot = _map(g2i, g)
        side = _map(g2i, np.stack([g[:, 0] + 0.5, g[:, 1]], 1)) - _map(
            g2i, np.stack([g[:, 0] - 0.5, g[:, 1]], 1)
        )
        h = _PERSON_HEIGHT_M * np.hypot(side[:, 0], side[:, 1])
        wdt = h * p.aspect
        tlwh = np.stack([foot[:, 0] - wdt / 2, foot[:, 1] - h, wdt, h], 1)
        if pose_rng is not None:
            fig = _figures(p, times[sel], g, foot, h, wdt, pose_rng)
            tilted = fig[:, _TILT] != 0
            tlwh[tilted] = posed_box(foot[tilted], h[tilted], wdt[tilted], fig[tilted, _TILT])
        seen = (tlwh[:, 0] + tlwh[:, 2] > 0) & (tlwh[:, 0] < 960) & (tlwh[:, 1] < 540)
        out_f.append(sel[seen] + 1)
        out_id.append(np.full(int(seen.sum()), p.pid))
        out_box.append(tlwh[seen])
        if pose_rng is not None:
            out_fig.append(fig[seen])
    frame, ids = np.concatenate(out_f), np.concatenate(out_id)
    tlwh = np.concatenate(out_box)
    order = np.lexsort((ids, frame))
    figures = np.concatenate(out_fig)[order] if pose_rng is not None else None
    return frame[order], ids[order], tlwh[order], times, figures


#: Gait: metres per leg cycle at speed v (m/s) is STRIDE_M + STRIDE_PER_MPS * v (walking at
#: 1.35 m/s: 0.95 cycles/s; running at 4.5 m/s: 1.5 cycles/s), and the leg swing amplitude (rad)
#: grows with the speed up to SWING_MAX.
STRIDE_M, STRIDE_PER_MPS = 0.75, 0.5
SWING_BASE, SWING_PER_MPS, SWING_MAX = 0.12, 0.13, 0.75
STILL_MPS = 0.2  # slower than this: standing (no swing)


def gait(positions: np.ndarray, dt: float, phase0: float) -> tuple[np.ndarray, np.ndarray]:
    """Leg phase and swing amplitude per sample of a ground path.

    Args:
        positions: (N, 2) ground positions in metres, `dt` seconds apart.
        phase0: the phase at the first sample.

    Returns:
        (N,) phase in radians and (N,) amplitude in radians.
    """
    step = np.hypot(*np.diff(positions, axis=0).T) if len(positions) > 1 else np.zeros(0)
    speed = np.concatenate([step[:1], step]) / dt if len(step) else np.zeros(len(positions))
    stride = STRIDE_M + STRIDE_PER_MPS * speed
    phase = phase0 + 2 * np.pi * np.concatenate([[0.0], np.cumsum(step / stride[1:])])
    amp = np.where(speed > STILL_MPS, np.minimum(SWING_BASE + SWING_PER_MPS * speed, SWING_MAX), 0)
    return phase, amp


def fall_tilt(t: np.ndarray, fall: float, down: float, rise: float, up: float, side: float):
    """Body tilt (radians) over times `t` of a fall at `fall` (lying from `down`), getting up from
    `rise` (upright at `up`), to `side` (+1 / -1): accelerating fall, smooth rise."""
    p = np.clip((t - fall) / max(down - fall, 1e-6), 0, 1)
    q = np.clip((t - rise) / max(up - rise, 1e-6), 0, 1)
    q = q * q * (3 - 2 * q)
    return side * np.pi / 2 * np.where(t < rise, p * p, 1 - q)


_TILT = 4 + POSE_FIELDS.index("tilt")  # column of the tilt in a figure row


def _figures(p: _Person, t, ground, foot, h, w, rng) -> np.ndarray:
    """(N, 4 + POSE_WIDTH) rows: foot x, foot y, upright height, width, then the pose."""
    dt = float(t[1] - t[0]) if len(t) > 1 else 1.0
    phase, amp = gait(ground, dt, float(rng.uniform(0, 2 * np.pi)))
    pose = np.zeros((len(t), POSE_WIDTH))
    pose[:, 0], pose[:, 1] = phase, amp
    if p.kind == "faller":
        m = p.marks
        pose[:, 4] = fall_tilt(t, m["fall"], m["down"], m["rise"], m["up"], m["side"])
    return np.column_stack([foot, h, w, pose])


def _event(kind, camera, pid, item, t, index, label="", **extra) -> dict[str, Any]:
    return {
        "type": kind, "camera": camera, "track_id": int(pid), "item": item,
        "t_start": round(float(t), 6), "t_end": round(float(t), 6),
        "frame_start": int(index), "frame_end": int(index), "confidence": 1.0,
        "label": label, "snapshot": None, "extra": extra,
    }  # fmt: skip


def _stable_changes(state: list[int], keep: int) -> list[tuple[int, int]]:
    """(k, new state) at each change that lasts `keep` samples (0 in `state` decides nothing),
    dated at the first sample of the new state; the first decided sample sets the initial state
    without a change."""
    out, current, run_start, run = [], None, 0, 0
    for k, s in enumerate(state):
        if s == 0:
            continue
        if current is None or s == current:
            current, run = s, 0
            continue
        run += 1
        if run == 1:
            run_start = k
        if run >= keep:
            out.append((run_start, s))
            current, run = s, 0
    return out


def _crossings(name, pid, line, f, foot, times) -> list[dict[str, Any]]:
    """A person's crossings of one line: a side kept `min_frames` frames, reached by a move
    through the segment."""
    a, b = np.array(line["points"], np.float64)
    d = b - a
    c = d[0] * (foot[:, 1] - a[1]) - d[1] * (foot[:, 0] - a[0])
    margin = line.get("margin_px", 0.0) * float(np.hypot(*d))
    side = np.where(c > margin, 1, np.where(c < -margin, -1, 0))
    in_side = np.sign(d[0] * line["in_direction"][1] - d[1] * line["in_direction"][0])
    out = []
    for k, s in _stable_changes(side.tolist(), line["min_frames"]):
        p0, m = foot[k - 1], foot[k] - foot[k - 1]  # the move onto the new side
        den = d[0] * m[1] - d[1] * m[0]
        t = ((p0[0] - a[0]) * m[1] - (p0[1] - a[1]) * m[0]) / den if den else 0.5
        if 0 <= t <= 1:
            label = "in" if s == in_side else "out"
            out.append(
                _event("line_crossing", name, pid, line["name"], times[f[k] - 1], f[k] - 1, label)
            )
    return out


def _confirmed(inside: list[bool], keep: int) -> np.ndarray:
    """Per sample, whether the person counts as inside (a change counts after `keep` samples)."""
    state = np.zeros(len(inside), bool)
    current = inside[0] if inside else False
    run = 0
    for k, v in enumerate(inside):
        run = run + 1 if v != current else 0
        if run >= keep:
            current, run = v, 0
        state[k] = current
    return state


def _first_at(times: np.ndarray, t: float) -> int | None:
    """Index of the first frame at or after `t` (None: after the scene's end)."""
    later = np.flatnonzero(times >= t - 1e-6)
    return int(later[0]) if len(later) else None


def _span(kind, camera, pid, label, times, start: int, end: int) -> dict[str, Any]:
    e = _event(kind, camera, pid, "", times[start], start, label)
    return e | {"t_end": round(float(times[end]), 6), "frame_end": int(end)}


def _actions(name, person: _Person, f, tlwh, times) -> list[dict[str, Any]]:
    """A runner's ``run`` (first to last frame wholly in view) and a faller's ``fall`` (first frame
    of the fall to the first frame upright again, the scene's last at the latest)."""
    if person.kind == "runner":
        whole = np.flatnonzero((tlwh[:, 0] >= 0) & (tlwh[:, 0] + tlwh[:, 2] <= 960))
        if len(whole):
            return [_span("action", name, person.pid, "run", times, f[whole[0]] - 1,
                          f[whole[-1]] - 1)]  # fmt: skip
    if person.kind == "faller":
        start = _first_at(times, person.marks["fall"])
        if start is not None:
            end = _first_at(times, person.marks["up"])
            end = len(times) - 1 if end is None else end
            return [_span("action", name, person.pid, "fall", times, start, end)]
    return []


def _truth(name, sc, layout, people, frame, ids, tlwh, times) -> list[dict[str, Any]]:
    """The ground-truth events of the scene (see the module docstring)."""
    cam = layout["cameras"][name]
    events = []
    foot = np.stack([tlwh[:, 0] + tlwh[:, 2] / 2, tlwh[:, 1] + tlwh[:, 3]], 1)
    script = {p.pid: p for p in people}
    in_plaza = np.zeros(len(frame), bool)
    for pid in np.unique(ids).tolist():
        rows = np.flatnonzero(ids == pid)
        f, pts = frame[rows], foot[rows]
        for line in cam["lines"]:
            events += _crossings(name, pid, line, f, pts, times)
        for zone in cam["zones"]:
            poly = np.array(zone["polygon"], np.float32)
            inside = [cv2.pointPolygonTest(poly, (float(x), float(y)), False) > 0 for x, y in pts]
            keep = zone["hysteresis_frames"]
            for k, s in _stable_changes([1 if v else -1 for v in inside], keep):
                kind = "zone_enter" if s == 1 else "zone_exit"
                events.append(_event(kind, name, pid, zone["name"], times[f[k] - 1], f[k] - 1))
            if zone["name"] == "plaza":
                in_plaza[rows] = _confirmed(inside, keep)
            if zone["name"] == "corridor" and script[pid].kind == "wrong_way" and any(inside):
                onset = _first_at(times, times[f[inside.index(True)] - 1] + sc.wrong_way_window_s)
                if onset is not None:
                    events.append(_event("wrong_way", name, pid, "corridor", times[onset], onset))
        onset = None
        if script[pid].kind == "runner":  # a window after the box is first wholly in view
            whole = (tlwh[rows, 0] >= 0) & (tlwh[rows, 0] + tlwh[rows, 2] <= 960)
            if whole.any():
                onset = _first_at(times, times[f[int(np.argmax(whole))] - 1] + sc.speed_window_s)
        if onset is not None:
            events.append(_event("overspeed", name, pid, "", times[onset], onset))
        onset = None
        if script[pid].kind == "loiterer":
            onset = _first_at(times, script[pid].marks["stop"] + sc.loiter_s)
        if onset is not None:
            events.append(_event("loitering", name, pid, "", times[onset], onset))
        if sc.actions:
            events += _actions(name, script[pid], f, tlwh[rows], times)
    occupancy = np.bincount(frame[in_plaza], minlength=len(times) + 1)[1:]
    since, alerted = None, False
    for k, occ in enumerate(occupancy.tolist()):
        if occ <= sc.crowd_max:
            since, alerted = None, False
            continue
        since = times[k] if since is None else since
        if not alerted and times[k] - since >= sc.crowd_s - 1e-9:
            events.append(_event("crowding", name, -1, "plaza", times[k], k))
            alerted = True
    events.sort(key=lambda e: (e["t_start"], e["type"], e["item"], e["track_id"]))
    return events


# ---------------------------------------------------------------------------------------- public


def generate_scene(
    seed: int, script: ScriptConfig | None = None, noise: DetectorNoise | None = None
) -> Scene:
    """One scripted scene, deterministic in `seed`: its MOT sequence (truth and simulated
    detections), layout, ground-truth events and per-frame stream times."""
    sc = script or ScriptConfig()
    rng = np.random.default_rng([seed, 16])
    scripter = _Scripter(sc, rng, seed)
    people = scripter.script()
    pose_rng = np.random.default_rng([seed, 16, 3]) if sc.actions else None
    frame, ids, tlwh, times, figures = _boxes(people, sc, scripter.g2i, rng, pose_rng)
    name = f"SCENE-{seed:04d}"
    cfg = SceneConfig(
        num_frames=len(times),
        width=960,
        height=540,
        frame_rate=sc.frame_rate,
        horizon=200 / 540,
        person_height=(0.19, 0.2),
        distractors=0,
        noise=noise or DetectorNoise(),
    )
    vis, det_frame, det_tlwh, det_score, det_src = simulate_detector(cfg, rng, frame, ids, tlwh)
    seq = SyntheticSequence(
        name=name,
        config=cfg,
        seed=seed,
        gt_frame=frame,
        gt_id=ids,
        gt_tlwh=tlwh,
        gt_class=np.full(len(ids), PEDESTRIAN_CLASS, np.int64),
        gt_visibility=np.round(vis, 4),
        det_frame=det_frame,
        det_tlwh=det_tlwh.reshape(-1, 4),
        det_score=det_score,
        det_gt_id=det_src.astype(np.int64),
        camera_offset=np.zeros((len(times), 2)),
    )
    layout = _layout(name, sc, scripter.g2i)
    events = _truth(name, sc, layout, people, frame, ids, tlwh, times)
    script_rows = [
        {"id": p.pid, "kind": p.kind, "waypoints": [list(map(float, w)) for w in p.waypoints]}
        | {k: float(v) for k, v in p.marks.items()}
        for p in people
    ]
    return Scene(seq, layout, events, times, script_rows, figures)


def write_events(path: str | Path, events: list[dict[str, Any]]) -> Path:
    """Event records as JSON Lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def write_scene(root: str | Path, scene: Scene, render_frames: bool = False) -> Path:
    """The scene's MOTChallenge folder (`write_sequence`) plus ``analytics.yaml``,
    ``events_gt.jsonl`` and ``script.json`` under ``root/<name>``; returns the folder."""
    posed = scene.figures is not None
    folder = write_sequence(root, scene.sequence, render_frames and not posed)
    if render_frames and posed:
        write_posed_frames(folder, scene)
    (folder / LAYOUT_FILE).write_text(yaml.safe_dump(scene.layout, sort_keys=False))
    write_events(folder / EVENTS_FILE, scene.events)
    (folder / "script.json").write_text(json.dumps(scene.people, indent=1))
    return folder


def write_posed_frames(folder: Path, scene: Scene) -> None:
    """``img1/`` of a scene with actions: its people as posed figures."""
    img_dir = folder / IMAGE_DIR
    img_dir.mkdir(parents=True, exist_ok=True)
    fig = scene.figures
    quality = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    frames = render_posed_frames(scene.sequence, fig[:, :2], fig[:, 2:4], fig[:, 4:])
    for f, image in frames:
        cv2.imwrite(str(img_dir / f"{f:06d}{IMAGE_EXT}"), image, quality)


def script_from_settings(settings: Mapping[str, Any] | None) -> ScriptConfig:
    """A `ScriptConfig` from plain settings (lists become tuples); unknown keys are an error."""
    settings = dict(settings or {})
    known = {f.name for f in fields(ScriptConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(
            f"synthetic scene settings: unknown keys {unknown}; expected {sorted(known)}"
        )
    return ScriptConfig(
        **{k: tuple(v) if isinstance(v, list | tuple) else v for k, v in settings.items()}
    )


class SyntheticScene:
    """``data=synthetic_scene``: one scripted scene, generated into `cache_dir` on first use.

    Args:
        seed: the scene's seed.
        cache_dir: where scene folders are kept (one per settings hash).
        render_frames: also write ``img1/`` frames (the runtime's synthetic source can render them
            itself from the sequence instead).
        script: `ScriptConfig` fields.
        noise: `DetectorNoise` fields of the simulated ``det.txt``.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        cache_dir: str | Path,
        render_frames: bool = False,
        script: Mapping[str, Any] | None = None,
        noise: Mapping[str, Any] | None = None,
    ) -> None:
        self.seed = int(seed)
        self.cache_dir = Path(cache_dir)
        self.render_frames = bool(render_frames)
        self.script = script_from_settings(_plain(script))
        noise = _plain(noise) or {}
        self.noise = DetectorNoise(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in noise.items()}
        )

    def settings(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "render_frames": self.render_frames,
            "script": asdict(self.script),
            "noise": asdict(self.noise),
        }

    def generate(self) -> Scene:
        """The scene in memory (nothing written)."""
        return generate_scene(self.seed, self.script, self.noise)

    def resolve_root(self) -> Path:
        """The folder holding the scene folder (generated on first use)."""
        settings = self.settings()
        root = self.cache_dir / cache_key(settings)

        def build(tmp: Path) -> None:
            log.info("generating synthetic scene %d into %s", self.seed, root)
            write_scene(tmp, self.generate(), self.render_frames)

        return cached_folder(root, build, stamp=settings)

    def scene_dir(self) -> Path:
        """The scene's own folder (``SCENE-<seed>``, with gt/, det/, analytics.yaml, ...)."""
        return self.resolve_root() / f"SCENE-{self.seed:04d}"


def _plain(value: Any) -> Any:
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover
        return value
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value
