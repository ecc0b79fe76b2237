"""Per-camera analytics layouts (the ``analytics=`` config group), read and checked at load time.

A layout file (``configs/analytics/<name>.yaml``, or the ``analytics.yaml`` a synthetic scene ships
beside its frames) maps camera names to what is drawn on each camera::

    cameras:
      entrance:                       # the stream id; "*" applies to every camera not listed
        frame_size: [960, 540]        # width, height: zones and lines must lie inside
        homography:                   # optional image -> ground plane (metres), >= 4 point pairs
          image_points: [[x, y], ...]
          ground_points: [[X, Y], ...]
        zones:
          - name: plaza
            polygon: [[x, y], ...]    # image pixels, not self-intersecting
            anchor: bottom_center     # bottom_center | center | all_corners
            hysteresis_frames: 3      # frames on the new side before enter / exit counts
            allowed_direction: [1, 0] # optional: wrong-way rule inside this zone (image vector)
            crowding: {max_occupancy: 3, min_seconds: 2.0}   # optional
        lines:
          - name: gate
            points: [[x, y], [x, y]]  # a segment (infinite: true for the whole line)
            in_direction: [1, 0]      # crossings towards this side are "in", the others "out"
            anchor: bottom_center
            min_frames: 3
            margin_px: 4              # closer than this to the line is on neither side
        loitering: {radius: 1.0, seconds: 8.0, space: ground, grace_s: 0.5}  # or space: pixels
        wrong_way: {window_s: 1.0, max_angle_deg: 100, min_distance_px: 10}
        speed: {window_s: 1.0, max_speed_mps: 3.0}              # needs the homography
        heatmap: {half_life_s: 30.0, cell_px: 8}
        forget_after_s: 2.0           # per-track state of tracks unseen this long is dropped
        max_tracks: 2048              # cap on tracks remembered at once (oldest dropped)
        occupancy_hold_s: 1.0         # a track inside a zone counts this long after last seen

Every mistake is a `vidlab.errors.UserError` naming the file, the camera, the item and the fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vidlab.analytics.geometry import (
    ANCHORS,
    degenerate_points,
    fit_homography,
    polygon_problem,
)
from vidlab.errors import UserError

DEFAULT_CAMERA = "*"
_FRAME_SLACK = 1.0  # pixels a vertex may lie outside the frame (rounding of drawn layouts)


@dataclass(frozen=True)
class Crowding:
    """Occupancy above `max_occupancy` for at least `min_seconds` raises a crowding event."""

    max_occupancy: int
    min_seconds: float


@dataclass(frozen=True)
class Zone:
    """A polygon zone (image pixels)."""

    name: str
    polygon: np.ndarray  # (V, 2)
    anchor: str = "bottom_center"
    hysteresis_frames: int = 3
    allowed_direction: np.ndarray | None = None  # (2,) unit vector, image coordinates
    crowding: Crowding | None = None


@dataclass(frozen=True)
class Line:
    """A directional line segment (image pixels)."""

    name: str
    start: np.ndarray  # (2,)
    end: np.ndarray  # (2,)
    in_direction: np.ndarray  # (2,) points to the "in" side
    anchor: str = "bottom_center"
    min_frames: int = 3
    infinite: bool = False
    margin_px: float = 0.0  # an anchor closer to the line than this is on neither side


@dataclass(frozen=True)
class Loitering:
    radius: float
    seconds: float
    space: str = "ground"  # ground (metres, needs the homography) or pixels
    grace_s: float = 0.5  # time outside the radius that ends a stay


@dataclass(frozen=True)
class WrongWay:
    window_s: float = 1.0
    max_angle_deg: float = 100.0
    min_distance_px: float = 10.0


@dataclass(frozen=True)
class Speed:
    window_s: float = 1.0
    max_speed_mps: float = 3.0
    rearm_ratio: float = 0.7  # speed must fall below this fraction of the limit to alert again


@dataclass(frozen=True)
class Heatmap:
    half_life_s: float = 30.0
    cell_px: int = 8


@dataclass(frozen=True)
class CameraLayout:
    """Everything the analytics of one camera need."""

    camera: str
    frame_size: tuple[int, int]
    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()
    homography: np.ndarray | None = None  # (3, 3) image -> ground
    loitering: Loitering | None = None
    wrong_way: WrongWay | None = None
    speed: Speed | None = None
    heatmap: Heatmap | None = None
    forget_after_s: float = 2.0
    max_tracks: int = 2048
    occupancy_hold_s: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


class _Where:
    """Builds error messages that name the file, camera and item."""

    def __init__(self, source: str, camera: str) -> None:
        self.source, self.camera = source, camera

    def error(self, item: str, what: str) -> UserError:
        return UserError(f"{self.source}: camera {self.camera!r}, {item}: {what}")


def _keys(node: Mapping[str, Any], allowed: set[str], where: _Where, item: str) -> None:
    if not isinstance(node, Mapping):
        raise where.error(item, f"expected a mapping, got {type(node).__name__}")
    unknown = sorted(set(node) - allowed)
    if unknown:
        raise where.error(item, f"unknown keys {unknown}; expected some of {sorted(allowed)}")


def _points(value: Any, where: _Where, item: str, count: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError) as err:
        raise where.error(item, f"expected a list of [x, y] points ({err})") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or (count is not None and len(arr) != count):
        n = "a list of" if count is None else f"{count}"
        raise where.error(item, f"expected {n} [x, y] points, got {value!r}")
    if not np.isfinite(arr).all():
        raise where.error(item, "points must be finite numbers")
    return arr


def _vector(value: Any, where: _Where, item: str) -> np.ndarray:
    arr = np.asarray(value, np.float64).reshape(-1)
    norm = float(np.linalg.norm(arr)) if arr.shape == (2,) else 0.0
    if arr.shape != (2,) or not np.isfinite(norm) or norm == 0:
        raise where.error(item, f"expected a non-zero [dx, dy] vector, got {value!r}")
    return arr / norm


def _positive(node: Mapping, key: str, where: _Where, item: str, default=None) -> float:
    value = node.get(key, default)
    if value is None or not isinstance(value, int | float) or not value > 0:
        raise where.error(item, f"{key} must be a positive number, got {value!r}")
    return float(value)


def _non_negative(node: Mapping, key: str, where: _Where, default: float) -> float:
    value = node.get(key, default)
    if not isinstance(value, int | float) or value < 0:
        raise where.error(key, f"must be a number >= 0, got {value!r}")
    return float(value)


def _anchor(node: Mapping, where: _Where, item: str) -> str:
    anchor = node.get("anchor", "bottom_center")
    if anchor not in ANCHORS:
        raise where.error(item, f"anchor {anchor!r} is not one of {ANCHORS}")
    return anchor


def _inside_frame(points: np.ndarray, size: tuple[int, int], where: _Where, item: str) -> None:
    w, h = size
    bad = (
        (points[:, 0] < -_FRAME_SLACK)
        | (points[:, 0] > w + _FRAME_SLACK)
        | (points[:, 1] < -_FRAME_SLACK)
        | (points[:, 1] > h + _FRAME_SLACK)
    )
    if bad.any():
        raise where.error(
            item,
            f"point {points[np.argmax(bad)].tolist()} is outside the frame {w}x{h} "
            "(zones and lines are drawn in the camera's pixels)",
        )


def _zone(node: Mapping, k: int, size, where: _Where) -> Zone:
    if not isinstance(node, Mapping):
        raise where.error(f"zones[{k}]", f"expected a mapping, got {type(node).__name__}")
    name = str(node.get("name") or f"zone{k}")
    item = f"zone {name!r}"
    allowed = {"name", "polygon", "anchor", "hysteresis_frames", "allowed_direction", "crowding"}
    _keys(node, allowed, where, item)
    polygon = _points(node.get("polygon"), where, item)
    problem = polygon_problem(polygon)
    if problem:
        raise where.error(item, problem)
    _inside_frame(polygon, size, where, item)
    hysteresis = int(_positive(node, "hysteresis_frames", where, item, 3))
    direction = node.get("allowed_direction")
    crowd = node.get("crowding")
    crowding = None
    if crowd is not None:
        _keys(crowd, {"max_occupancy", "min_seconds"}, where, f"{item} crowding")
        occupancy = crowd.get("max_occupancy")
        if not isinstance(occupancy, int) or occupancy < 0:
            raise where.error(
                item, f"crowding.max_occupancy must be an integer >= 0, got {occupancy!r}"
            )
        crowding = Crowding(occupancy, _positive(crowd, "min_seconds", where, f"{item} crowding"))
    return Zone(
        name=name,
        polygon=polygon,
        anchor=_anchor(node, where, item),
        hysteresis_frames=hysteresis,
        allowed_direction=None if direction is None else _vector(direction, where, item),
        crowding=crowding,
    )


def _line(node: Mapping, k: int, size, where: _Where) -> Line:
    if not isinstance(node, Mapping):
        raise where.error(f"lines[{k}]", f"expected a mapping, got {type(node).__name__}")
    name = str(node.get("name") or f"line{k}")
    item = f"line {name!r}"
    allowed = {"name", "points", "in_direction", "anchor", "min_frames", "infinite", "margin_px"}
    _keys(node, allowed, where, item)
    pts = _points(node.get("points"), where, item, count=2)
    d = pts[1] - pts[0]
    if float(np.hypot(*d)) < 1e-6:
        raise where.error(item, f"zero-length line: both points are {pts[0].tolist()}")
    _inside_frame(pts, size, where, item)
    normal = np.array([-d[1], d[0]]) / np.hypot(*d)  # left of start -> end in image coordinates
    direction = node.get("in_direction")
    in_dir = normal if direction is None else _vector(direction, where, item)
    if abs(float(np.dot(in_dir, normal))) < 1e-6:
        raise where.error(item, f"in_direction {in_dir.tolist()} is parallel to the line")
    return Line(
        name=name,
        start=pts[0],
        end=pts[1],
        in_direction=in_dir,
        anchor=_anchor(node, where, item),
        min_frames=int(_positive(node, "min_frames", where, item, 3)),
        infinite=bool(node.get("infinite", False)),
        margin_px=_non_negative(node, "margin_px", where, 0.0),
    )


def _homography(node: Mapping, where: _Where) -> np.ndarray:
    item = "homography"
    _keys(node, {"image_points", "ground_points"}, where, item)
    img = _points(node.get("image_points"), where, f"{item} image_points")
    ground = _points(node.get("ground_points"), where, f"{item} ground_points")
    if len(img) != len(ground):
        raise where.error(item, f"{len(img)} image points but {len(ground)} ground points")
    for name, pts in (("image_points", img), ("ground_points", ground)):
        problem = degenerate_points(pts)
        if problem:
            raise where.error(f"{item} {name}", problem)
    try:
        return fit_homography(img, ground)
    except ValueError as err:
        raise where.error(item, str(err)) from None


def _section(node: Mapping, key: str, cls, where: _Where, positive: tuple[str, ...]):
    value = node.get(key)
    if value is None:
        return None
    names = set(cls.__dataclass_fields__)
    _keys(value, names, where, key)
    for name in positive:
        if name in value:
            _positive(value, name, where, key)
    return cls(**dict(value))


def parse_camera(camera: str, node: Mapping[str, Any], source: str = "<layout>") -> CameraLayout:
    """Check one camera's layout mapping and build its `CameraLayout`.

    Raises:
        UserError: naming `source`, the camera, the item and what is wrong.
    """
    where = _Where(source, camera)
    allowed = {
        "frame_size", "zones", "lines", "homography", "loitering", "wrong_way", "speed",
        "heatmap", "forget_after_s", "max_tracks", "occupancy_hold_s",
    }  # fmt: skip
    _keys(node, allowed, where, "layout")
    size = node.get("frame_size")
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(int(v) > 0 for v in size)):
        raise where.error("frame_size", f"expected [width, height] in pixels, got {size!r}")
    size = (int(size[0]), int(size[1]))
    zones = tuple(_zone(z, k, size, where) for k, z in enumerate(node.get("zones") or ()))
    lines = tuple(_line(ln, k, size, where) for k, ln in enumerate(node.get("lines") or ()))
    for kind, items in (("zone", zones), ("line", lines)):
        names = [i.name for i in items]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise where.error(f"{kind}s", f"names must be unique, repeated: {dup}")
    homography = None if node.get("homography") is None else _homography(node["homography"], where)
    loitering = _section(node, "loitering", Loitering, where, ("radius", "seconds"))
    if loitering is not None:
        if loitering.space not in ("ground", "pixels"):
            raise where.error(
                "loitering", f"space must be ground or pixels, got {loitering.space!r}"
            )
        if loitering.space == "ground" and homography is None:
            raise where.error("loitering", "space: ground needs a homography (or space: pixels)")
    speed = _section(node, "speed", Speed, where, ("window_s", "max_speed_mps"))
    if speed is not None and homography is None:
        raise where.error("speed", "speed in m/s needs a homography (image -> ground points)")
    wrong_way = _section(node, "wrong_way", WrongWay, where, ("window_s", "max_angle_deg"))
    heatmap = _section(node, "heatmap", Heatmap, where, ("half_life_s", "cell_px"))
    return CameraLayout(
        camera=camera,
        frame_size=size,
        zones=zones,
        lines=lines,
        homography=homography,
        loitering=loitering,
        wrong_way=wrong_way,
        speed=speed,
        heatmap=heatmap,
        forget_after_s=_positive(node, "forget_after_s", where, "forget_after_s", 2.0),
        max_tracks=int(_positive(node, "max_tracks", where, "max_tracks", 2048)),
        occupancy_hold_s=_non_negative(node, "occupancy_hold_s", where, 1.0),
    )


def parse_layouts(
    config: Mapping[str, Any] | None, source: str = "analytics"
) -> dict[str, CameraLayout]:
    """All cameras of an ``analytics`` config node ({} for the empty ``none`` option)."""
    if not config:
        return {}
    if not isinstance(config, Mapping) or set(config) - {"cameras"}:
        raise UserError(f"{source}: expected a mapping with one key 'cameras', got {config!r:.200}")
    cameras = config.get("cameras") or {}
    if not isinstance(cameras, Mapping):
        raise UserError(f"{source}: 'cameras' must map camera names to layouts")
    return {str(name): parse_camera(str(name), node, source) for name, node in cameras.items()}


def load_layouts(path: str | Path) -> dict[str, CameraLayout]:
    """Read and check a layout YAML file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"analytics layout {path} does not exist")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({err})") from None
    return parse_layouts(config, str(path))


def layout_for(layouts: Mapping[str, CameraLayout], camera: str) -> CameraLayout | None:
    """The layout of `camera`, else the default ``"*"`` one, else None (no analytics)."""
    return layouts.get(camera) or layouts.get(DEFAULT_CAMERA)
