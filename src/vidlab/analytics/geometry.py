"""Plane geometry of the analytics, vectorised over tracks: anchor points of boxes, points in many
polygons at once, sides of lines, segment crossings, polygon and homography checks.

All coordinates are image pixels ``x`` right, ``y`` down, unless a homography maps them to the
ground plane (metres).
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

#: Which point of a box decides where a track is.
ANCHORS = ("bottom_center", "center", "all_corners")
_EPS = 1e-9
# xyxy @ these: (N, 2) bottom-centre and centre points (one small product, no stacking)
_BOTTOM_CENTER = np.array([[0.5, 0.0], [0.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
_CENTER = np.array([[0.5, 0.0], [0.0, 0.5], [0.5, 0.0], [0.0, 0.5]])


def anchor_points(xyxy: np.ndarray, anchor: str) -> np.ndarray:
    """(N, P, 2) anchor points of (N, 4) xyxy boxes: P = 1 for ``bottom_center`` / ``center``,
    P = 4 for ``all_corners`` (top-left, top-right, bottom-right, bottom-left)."""
    if anchor == "bottom_center":
        return (xyxy @ _BOTTOM_CENTER)[:, None, :]
    if anchor == "center":
        return (xyxy @ _CENTER)[:, None, :]
    x1, y1, x2, y2 = xyxy[:, 0], xyxy[:, 1], xyxy[:, 2], xyxy[:, 3]
    if anchor == "all_corners":
        xs = np.stack([x1, x2, x2, x1], axis=1)
        ys = np.stack([y1, y1, y2, y2], axis=1)
        return np.stack([xs, ys], axis=2)
    raise ValueError(f"unknown anchor {anchor!r}; expected one of {ANCHORS}")


def reference_points(xyxy: np.ndarray, anchor: str) -> np.ndarray:
    """(N, 2) one point per box that stands for its motion: the anchor, or the box centre for
    ``all_corners``."""
    return anchor_points(xyxy, "center" if anchor == "all_corners" else anchor)[:, 0]


class PolygonSet:
    """Many polygons packed edge by edge, for one vectorised point-in-polygon test.

    Args:
        polygons: Z arrays of shape (V_z, 2), vertices in order (closed implicitly).
    """

    def __init__(self, polygons: list[np.ndarray]) -> None:
        x1, y1, x2, y2 = [], [], [], []
        for poly in polygons:
            p = np.asarray(poly, np.float64)
            q = np.roll(p, -1, axis=0)
            x1.append(p[:, 0])
            y1.append(p[:, 1])
            x2.append(q[:, 0])
            y2.append(q[:, 1])
        self.num = len(polygons)
        self.starts = np.cumsum([0] + [len(a) for a in x1[:-1]]).astype(np.intp)
        self.x1, self.y1, self.x2, self.y2 = (
            np.concatenate(a) if a else np.zeros(0) for a in (x1, y1, x2, y2)
        )
        dy = self.y2 - self.y1
        self.slope = np.divide(self.x2 - self.x1, dy, out=np.zeros_like(dy), where=dy != 0)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(M, Z) bool: point m lies inside polygon z (even-odd ray casting to the right)."""
        if self.num == 0 or len(points) == 0:
            return np.zeros((len(points), self.num), bool)
        px = points[:, 0:1]
        py = points[:, 1:2]
        straddle = (self.y1 > py) != (self.y2 > py)  # (M, E)
        x_cross = self.x1 + (py - self.y1) * self.slope
        hits = (straddle & (px < x_cross)).astype(np.int8)
        return (np.add.reduceat(hits, self.starts, axis=1) & 1).astype(bool)


def cross2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z component of the cross product of 2-D vectors (broadcast over leading axes)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def segments_intersect(p1, p2, q1, q2) -> bool:
    """Whether closed segments p1-p2 and q1-q2 share a point (collinear overlaps included)."""
    p1, p2, q1, q2 = (np.asarray(v, np.float64) for v in (p1, p2, q1, q2))

    def orient(a, b, c) -> float:
        v = float(cross2(b - a, c - a))
        return 0.0 if abs(v) < _EPS else np.sign(v)

    def on_segment(a, b, c) -> bool:  # c on a-b, given collinear
        return (
            min(a[0], b[0]) - _EPS <= c[0] <= max(a[0], b[0]) + _EPS
            and min(a[1], b[1]) - _EPS <= c[1] <= max(a[1], b[1]) + _EPS
        )

    o1, o2 = orient(p1, p2, q1), orient(p1, p2, q2)
    o3, o4 = orient(q1, q2, p1), orient(q1, q2, p2)
    if o1 != o2 and o3 != o4 and 0 not in (o1, o2, o3, o4):
        return True
    return (
        (o1 == 0 and on_segment(p1, p2, q1))
        or (o2 == 0 and on_segment(p1, p2, q2))
        or (o3 == 0 and on_segment(q1, q2, p1))
        or (o4 == 0 and on_segment(q1, q2, p2))
    )


def polygon_problem(vertices: np.ndarray) -> str | None:
    """Why a polygon is unusable (fewer than 3 vertices, zero area, self-intersecting), or None."""
    v = np.asarray(vertices, np.float64)
    if v.ndim != 2 or v.shape[1] != 2:
        return f"expected a list of [x, y] vertices, got shape {v.shape}"
    if len(v) < 3:
        return f"a polygon needs at least 3 vertices, got {len(v)}"
    if not np.isfinite(v).all():
        return "vertices must be finite numbers"
    n = len(v)
    for i, j in itertools.combinations(range(n), 2):
        if j == i + 1 or (i == 0 and j == n - 1):
            continue  # neighbouring edges share a vertex
        if segments_intersect(v[i], v[(i + 1) % n], v[j], v[(j + 1) % n]):
            return (
                f"the polygon is self-intersecting: edge {i} ({v[i].tolist()} -> "
                f"{v[(i + 1) % n].tolist()}) crosses edge {j} ({v[j].tolist()} -> "
                f"{v[(j + 1) % n].tolist()})"
            )
    area = 0.5 * float(np.sum(cross2(v, np.roll(v, -1, axis=0))))
    if abs(area) < _EPS:
        return "the polygon has zero area"
    return None


def degenerate_points(points: np.ndarray, tol: float = 1e-6) -> str | None:
    """Why point pairs cannot define a homography (too few, all or three of four collinear)."""
    p = np.asarray(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 4:
        return f"a homography needs at least 4 [x, y] points, got shape {p.shape}"
    centred = p - p.mean(axis=0)
    scale = max(float(np.abs(centred).max()), _EPS)
    singular = np.linalg.svd(centred / scale, compute_uv=False)
    if singular[-1] < tol * len(p):
        return "the points are collinear"
    for a, b, c in itertools.combinations(range(len(p)), 3):
        if len(p) == 4 and abs(float(cross2(p[b] - p[a], p[c] - p[a]))) < tol * scale**2:
            return f"points {a}, {b} and {c} are collinear"
    return None


def fit_homography(image_points: np.ndarray, ground_points: np.ndarray) -> np.ndarray:
    """(3, 3) least-squares image -> ground homography from N >= 4 point pairs (OpenCV)."""
    src = np.asarray(image_points, np.float64).reshape(-1, 1, 2)
    dst = np.asarray(ground_points, np.float64).reshape(-1, 1, 2)
    h, _ = cv2.findHomography(src, dst, 0)
    if h is None or not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
        raise ValueError("OpenCV could not fit a homography to these points")
    return h


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points mapped through the (3, 3) homography ``h``."""
    w = points @ h[:2, :2].T + h[:2, 2]
    d = points @ h[2, :2] + h[2, 2]
    return w / d[:, None]
