"""Posed person sprites: the synthetic MOT sprite with legs, arms and a body that can tilt.

The MOT generator's sprite (`vidlab.data.synthetic.mot.draw_person_sprite`) is a static
head / shirt / trousers figure filling its box. The tracklet actions (walk, run, stand, wave,
fall) need motion inside the box, so `draw_posed_person` draws the same figure (same proportions
and `SpriteAppearance`) from parts that move: two legs swinging about the hips with the gait
phase, two arms swinging against them (or one arm raised and waving), and the whole body rotated
about the foot point (a fall). A pose is one row of `POSE_FIELDS`:

- ``phase``: gait phase in radians (the legs swing by ``amp * sin(phase)``);
- ``amp``: leg swing amplitude in radians (0: standing still);
- ``wave``: 1 when the right arm is raised and waving, else 0;
- ``wave_phase``: the waving arm's phase in radians;
- ``tilt``: body rotation about the foot point in radians (0 upright, +-pi/2 lying).

A figure is described by its foot point (bottom centre of the upright box), its upright height
and width in pixels; `posed_box` gives the box of a tilted figure (the upright box rotated about
the foot point), which equals the MOT generator's box when ``tilt == 0``.

`render_posed_frames` renders a whole sequence (the MOT generator's background, people drawn far
to near with their poses); the scripted scene uses it when it has actions, and the tracklet action
generator (`vidlab.data.synthetic.tracklets`) draws the same figures on the same kind of background.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from vidlab.data.synthetic.mot import SpriteAppearance, SyntheticSequence, sprite_appearance

POSE_FIELDS = ("phase", "amp", "wave", "wave_phase", "tilt")
POSE_WIDTH = len(POSE_FIELDS)
_SHIFT = 4  # sub-pixel bits of the polygon coordinates
_SCALE = 1 << _SHIFT
# Proportions, as fractions of the figure's height h and width w (the MOT sprite's).
_HIP_Y = 0.42  # hips at 0.42 h above the feet: legs 0.42 h long
_LEG_W = 0.30  # leg width, of w
_HIP_X = 0.20  # hip offset from the centre line, of w
_TORSO_X = 0.40  # torso half-width, of w
_ARM_LEN = 0.34  # of h
_ARM_W = 0.12  # of w (at least 1 px)
_ARM_SWING = 0.8  # arm swing per leg swing
_WAVE_RAISE = 2.6  # raised arm's angle from hanging down (radians)
_WAVE_AMP = 0.45  # waving amplitude (radians)


def _rot(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _limb(pivot: np.ndarray, angle: float, length: float, width: float) -> np.ndarray:
    """(4, 2) corners of a limb hanging down from `pivot` (image y down), rotated by `angle`
    (positive: the free end moves to +x)."""
    half = width / 2
    local = np.array([[-half, 0.0], [half, 0.0], [half, length], [-half, length]])
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # rotates the downward direction (0, 1) towards +x
    return pivot + local @ rot.T


def figure_parts(
    height: float, width: float, pose: np.ndarray, pattern: int
) -> tuple[list[tuple[str, np.ndarray]], tuple[np.ndarray, float]]:
    """The figure's polygons in local pixels (origin at the foot point, y down, upright), in
    drawing order, each tagged with its colour role, and the head (centre, radius).

    Args:
        height, width: the upright figure's box size in pixels.
        pose: one `POSE_FIELDS` row.
        pattern: the shirt pattern of the `SpriteAppearance` (0 plain, 1 stripes, 2 band).
    """
    h, w = float(height), float(width)
    phase, amp, wave, wave_phase = (float(v) for v in pose[:4])
    head_r = max(1.0, min(w * 0.28, h * 0.1))
    top, bottom = -h + 2 * head_r, -_HIP_Y * h  # torso rows
    swing = amp * np.sin(phase)
    parts: list[tuple[str, np.ndarray]] = []
    arm_w = max(1.0, _ARM_W * w)
    shoulder_y = top + 0.05 * h
    # the far arm first (behind the torso), then legs, torso, near arm
    arm_angles = [-_ARM_SWING * swing, _ARM_SWING * swing]
    if wave > 0.5:
        arm_angles[1] = _WAVE_RAISE + _WAVE_AMP * np.sin(wave_phase)
    left_shoulder = np.array([-_TORSO_X * w - arm_w / 2, shoulder_y])
    right_shoulder = np.array([_TORSO_X * w + arm_w / 2, shoulder_y])
    parts.append(("arm", _limb(left_shoulder, arm_angles[0], _ARM_LEN * h, arm_w)))
    for side, sign in ((-1, 1), (1, -1)):
        hip = np.array([side * _HIP_X * w, bottom])
        parts.append(("trousers", _limb(hip, sign * swing, _HIP_Y * h, _LEG_W * w)))
    torso = np.array(
        [[-_TORSO_X * w, top], [_TORSO_X * w, top], [_TORSO_X * w, bottom], [-_TORSO_X * w, bottom]]
    )
    parts.append(("shirt", torso))
    if pattern == 1:  # dark horizontal stripes
        step, thick = max(2.0, h * 0.05), max(1.0, h * 0.015)
        for y in np.arange(top, bottom, step):
            parts.append(
                ("stripe", np.array([[-_TORSO_X * w, y], [_TORSO_X * w, y],
                                     [_TORSO_X * w, y + thick], [-_TORSO_X * w, y + thick]]))
            )  # fmt: skip
    elif pattern == 2:  # a white vertical band
        parts.append(
            ("band", np.array([[-0.12 * w, top], [0.12 * w, top], [0.12 * w, bottom],
                               [-0.12 * w, bottom]]))
        )  # fmt: skip
    parts.append(("arm", _limb(right_shoulder, arm_angles[1], _ARM_LEN * h, arm_w)))
    return parts, (np.array([0.0, -h + head_r]), head_r)


def _colour(role: str, look: SpriteAppearance) -> tuple[int, int, int]:
    if role == "shirt":
        return look.shirt
    if role == "stripe":
        return tuple(int(c * 0.4) for c in look.shirt)
    if role == "band":
        return (245, 245, 245)
    if role == "arm":
        return tuple(int(c * 0.8) for c in look.shirt)
    return look.trousers


def draw_posed_person(
    canvas: np.ndarray,
    foot: tuple[float, float],
    height: float,
    width: float,
    look: SpriteAppearance,
    pose: np.ndarray,
    offset: tuple[float, float] = (0.0, 0.0),
) -> None:
    """Draw a posed figure onto a BGR canvas, in place.

    Args:
        canvas: (H, W, 3) uint8 BGR image.
        foot: (x, y) foot point (bottom centre of the upright box) in image pixels.
        height, width: the upright figure's size in pixels.
        look: colours and shirt pattern.
        pose: one `POSE_FIELDS` row.
        offset: (x, y) image position of the canvas's top-left pixel (a canvas that is a window
            of a larger image).
    """
    parts, (head_c, head_r) = figure_parts(height, width, pose, look.pattern)
    rot = _rot(float(pose[4]))
    origin = np.array(foot, np.float64) - np.asarray(offset, np.float64)
    for role, poly in parts:
        pts = np.round((poly @ rot.T + origin) * _SCALE).astype(np.int32)
        cv2.fillConvexPoly(canvas, pts, _colour(role, look), cv2.LINE_AA, _SHIFT)
    centre = np.round((head_c @ rot.T + origin) * _SCALE).astype(np.int32)
    cv2.circle(canvas, tuple(int(v) for v in centre), round(head_r * _SCALE), look.skin, -1,
               cv2.LINE_AA, _SHIFT)  # fmt: skip


def posed_box(foot: np.ndarray, height: np.ndarray, width: np.ndarray, tilt: np.ndarray):
    """(N, 4) tlwh boxes of figures: the upright box ``[-w/2, w/2] x [-h, 0]`` about the foot
    point, rotated by `tilt` (exactly the upright box when ``tilt == 0``).

    Args:
        foot: (N, 2) foot points; height, width, tilt: (N,).
    """
    foot = np.asarray(foot, np.float64).reshape(-1, 2)
    h, w, t = (np.asarray(v, np.float64).reshape(-1) for v in (height, width, tilt))
    c, s = np.cos(t), np.sin(t)
    xs = np.stack([-w / 2, w / 2, w / 2, -w / 2], 1)  # (N, 4) corners
    ys = np.stack([np.zeros_like(h), np.zeros_like(h), -h, -h], 1)
    rx, ry = c[:, None] * xs - s[:, None] * ys, s[:, None] * xs + c[:, None] * ys
    upright = t == 0
    rx[upright], ry[upright] = xs[upright], ys[upright]
    x0, y0 = rx.min(1) + foot[:, 0], ry.min(1) + foot[:, 1]
    return np.stack([x0, y0, rx.max(1) + foot[:, 0] - x0, ry.max(1) + foot[:, 1] - y0], 1)


def render_posed_frames(
    seq: SyntheticSequence, foot: np.ndarray, size: np.ndarray, poses: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame, (H, W, 3) uint8 BGR image)`` for every frame of a sequence whose people are
    posed figures (the MOT generator's background and looks; people drawn far to near).

    Args:
        seq: the sequence (its ground-truth rows, sorted by frame).
        foot: (R, 2) foot point of every ground-truth row.
        size: (R, 2) upright (height, width) of every row.
        poses: (R, `POSE_WIDTH`) pose of every row.
    """
    from vidlab.data.synthetic.mot import _background

    cfg = seq.config
    world, pad = _background(cfg, seq.seed)
    looks: dict[int, SpriteAppearance] = {}
    bounds = np.searchsorted(seq.gt_frame, np.arange(1, cfg.num_frames + 2))
    for f in range(1, cfg.num_frames + 1):
        ox, oy = np.round(seq.camera_offset[f - 1]).astype(int) + pad
        canvas = world[oy : oy + cfg.height, ox : ox + cfg.width].copy()
        lo, hi = bounds[f - 1], bounds[f]
        for k in lo + np.argsort(foot[lo:hi, 1], kind="stable"):
            pid = int(seq.gt_id[k])
            look = looks.setdefault(pid, sprite_appearance(pid, seq.seed))
            draw_posed_person(canvas, foot[k], size[k, 0], size[k, 1], look, poses[k])
        yield f, canvas
