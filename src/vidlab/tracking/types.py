"""Typed containers shared by every tracker: detections in, tracks out, states and id allocation.

Boxes are always named by their format:

- ``xyxy``: ``x1, y1, x2, y2`` corners in pixels;
- ``tlwh``: top-left ``x, y`` and ``width, height`` in pixels (MOTChallenge files);
- ``xyah``: centre ``x, y``, aspect ratio ``w / h`` and height (DeepSORT / ByteTrack Kalman state);
- ``xywh``: centre ``x, y``, width and height (BoT-SORT Kalman state);
- ``xysr``: centre ``x, y``, area ``w * h`` and aspect ratio ``w / h`` (SORT / OC-SORT state).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

import numpy as np

DET_COLUMNS = 5  # x1, y1, x2, y2, score
TRACK_COLUMNS = 6  # x1, y1, x2, y2, track_id, score


class TrackState(enum.IntEnum):
    """Life cycle of a track.

    ``TENTATIVE`` tracks are not reported until confirmed; ``LOST`` tracks are kept (and
    predicted) for re-identification until they age out, after which they are ``REMOVED`` and
    forgotten.
    """

    TENTATIVE = 0
    TRACKED = 1
    LOST = 2
    REMOVED = 3


def _check_array(
    name: str, value: np.ndarray, shape_tail: tuple[int, ...], rows: int | None
) -> None:
    """Raise ValueError unless ``value`` is an ndarray of shape ``(rows, *shape_tail)``."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.ndim != 1 + len(shape_tail) or value.shape[1:] != shape_tail:
        want = ", ".join(["N", *map(str, shape_tail)])
        raise ValueError(f"{name} must have shape ({want}), got {value.shape}")
    if rows is not None and value.shape[0] != rows:
        raise ValueError(f"{name} has {value.shape[0]} rows, expected {rows} (one per box)")


@dataclass(frozen=True)
class Detections:
    """The detections of one frame.

    Attributes:
        xyxy: (N, 4) float64 boxes ``x1, y1, x2, y2`` in pixels.
        score: (N,) float64 detector confidences.
        class_id: (N,) int64 class labels (0 when the detector gives none).
        embedding: optional (N, D) float32 L2-normalised appearance embeddings.
    """

    xyxy: np.ndarray
    score: np.ndarray
    class_id: np.ndarray
    embedding: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_array("Detections.xyxy", self.xyxy, (4,), None)
        n = self.xyxy.shape[0]
        _check_array("Detections.score", self.score, (), n)
        _check_array("Detections.class_id", self.class_id, (), n)
        if self.embedding is not None:
            if self.embedding.ndim != 2 or self.embedding.shape[0] != n:
                raise ValueError(
                    f"Detections.embedding must have shape ({n}, D), got {self.embedding.shape}"
                )
        if n and not np.isfinite(self.xyxy).all():
            raise ValueError("Detections.xyxy contains NaN or inf")

    def __len__(self) -> int:
        return self.xyxy.shape[0]

    @classmethod
    def empty(cls, embedding_dim: int | None = None) -> Detections:
        """No detections (optionally with an empty ``(0, embedding_dim)`` embedding array)."""
        emb = None if embedding_dim is None else np.zeros((0, embedding_dim), np.float32)
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), emb)

    @classmethod
    def from_array(cls, dets: np.ndarray, embedding: np.ndarray | None = None) -> Detections:
        """Build from an ``(N, 5)`` array ``x1, y1, x2, y2, score`` (``(N, 6)`` adds class ids).

        Raises:
            ValueError: if the array is not 2-D with 5 or 6 columns, or holds NaN or inf.
        """
        arr = np.asarray(dets, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == DET_COLUMNS and embedding is None:
            # Fast path for the common (N, 5) float array: views, one finiteness check.
            if not np.isfinite(arr).all():
                raise ValueError("detections contain NaN or inf")
            out = object.__new__(cls)
            object.__setattr__(out, "xyxy", arr[:, :4])
            object.__setattr__(out, "score", arr[:, 4])
            object.__setattr__(out, "class_id", np.zeros(arr.shape[0], np.int64))
            object.__setattr__(out, "embedding", None)
            return out
        if arr.size == 0:
            arr = arr.reshape(0, DET_COLUMNS)
        if arr.ndim != 2 or arr.shape[1] not in (DET_COLUMNS, DET_COLUMNS + 1):
            raise ValueError(
                "detections must be an (N, 5) array x1, y1, x2, y2, score (or (N, 6) with "
                f"class), got shape {arr.shape}"
            )
        classes = (
            arr[:, 5].astype(np.int64)
            if arr.shape[1] > DET_COLUMNS
            else np.zeros(len(arr), np.int64)
        )
        return cls(np.ascontiguousarray(arr[:, :4]), arr[:, 4].copy(), classes, embedding)

    @classmethod
    def from_tlwh(
        cls, tlwh: np.ndarray, score: np.ndarray, embedding: np.ndarray | None = None
    ) -> Detections:
        """Build from ``(N, 4)`` tlwh boxes (MOTChallenge) and ``(N,)`` scores."""
        tlwh = np.asarray(tlwh, dtype=np.float64).reshape(-1, 4)
        return cls(
            tlwh_to_xyxy(tlwh),
            np.asarray(score, np.float64).reshape(-1),
            np.zeros(len(tlwh), np.int64),
            embedding,
        )

    def select(self, index: np.ndarray) -> Detections:
        """The detections picked by a boolean mask or an integer index array."""
        emb = None if self.embedding is None else self.embedding[index]
        out = object.__new__(Detections)  # a subset of validated arrays needs no new checks
        object.__setattr__(out, "xyxy", self.xyxy[index])
        object.__setattr__(out, "score", self.score[index])
        object.__setattr__(out, "class_id", self.class_id[index])
        object.__setattr__(out, "embedding", emb)
        return out


@dataclass(frozen=True)
class Tracks:
    """The tracks a tracker reports for one frame.

    Attributes:
        xyxy: (M, 4) float64 boxes in pixels.
        track_id: (M,) int64 identities, >= 1, unique within a tracker instance.
        score: (M,) float64 confidence of the detection that last updated the track.
    """

    xyxy: np.ndarray
    track_id: np.ndarray
    score: np.ndarray

    def __post_init__(self) -> None:
        _check_array("Tracks.xyxy", self.xyxy, (4,), None)
        _check_array("Tracks.track_id", self.track_id, (), self.xyxy.shape[0])
        _check_array("Tracks.score", self.score, (), self.xyxy.shape[0])

    def __len__(self) -> int:
        return self.xyxy.shape[0]

    @classmethod
    def trusted(cls, xyxy: np.ndarray, track_id: np.ndarray, score: np.ndarray) -> Tracks:
        """Build without the shape checks, for arrays a tracker built itself (hot path).

        The arguments must already be fresh (not views of the tracker's state) and well shaped.
        """
        out = object.__new__(cls)
        object.__setattr__(out, "xyxy", xyxy)
        object.__setattr__(out, "track_id", track_id)
        object.__setattr__(out, "score", score)
        return out

    @classmethod
    def empty(cls) -> Tracks:
        """No tracks."""
        return cls(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0))

    def to_array(self) -> np.ndarray:
        """The ``(M, 6)`` float64 array ``x1, y1, x2, y2, track_id, score`` of the public API."""
        return np.concatenate([self.xyxy, self.track_id[:, None], self.score[:, None]], axis=1)


@dataclass(frozen=True)
class TrackSnapshot:
    """Every track a tracker holds (any state), for inspection and tests.

    Attributes:
        track_id: (K,) int64 identities; -1 for tentative tracks that were never confirmed.
        state: (K,) int64 ``TrackState`` values.
        xyxy: (K, 4) float64 current (predicted or updated) boxes.
        time_since_update: (K,) int64 frames since the last matched detection.
    """

    track_id: np.ndarray
    state: np.ndarray
    xyxy: np.ndarray
    time_since_update: np.ndarray

    def with_state(self, state: TrackState) -> np.ndarray:
        """Track ids of the tracks in ``state``."""
        return self.track_id[self.state == int(state)]


class IdAllocator:
    """Hands out track ids 1, 2, 3, ... for one tracker instance; ``reset()`` restarts at 1.

    Ids are per instance (never a process-wide counter) so two trackers, or two sequences run one
    after the other with ``reset()`` in between, never influence each other's ids.
    """

    def __init__(self) -> None:
        self._next = 1

    def take(self, count: int) -> np.ndarray:
        """Return ``count`` fresh consecutive ids as an int64 array."""
        ids = np.arange(self._next, self._next + count, dtype=np.int64)
        self._next += count
        return ids

    def reset(self) -> None:
        """Restart numbering at 1."""
        self._next = 1


def xyxy_to_tlwh(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) top-left x, y, width, height."""
    out = xyxy.copy()
    out[:, 2:] -= xyxy[:, :2]
    return out


def tlwh_to_xyxy(tlwh: np.ndarray) -> np.ndarray:
    """(N, 4) top-left x, y, width, height -> (N, 4) corners."""
    out = tlwh.copy()
    out[:, 2:] += tlwh[:, :2]
    return out


# Box conversions that are sums of two exactly scaled coordinates are done as one small matrix
# product: with at most two non-zero terms per output and coefficients of +-1 and +-0.5 (exact in
# binary), each output is rounded once, so the result equals the elementwise formula bit for bit
# whatever order the BLAS kernel sums in. One product replaces several numpy calls, which is what
# costs time on the few dozen boxes of a frame. Inputs must be finite (0 * inf is NaN), as
# detections and Kalman states are.

#: xyxy @ this = centre x, centre y, width, height.
_XYXY_TO_XYWH = np.array(
    [[0.5, 0.0, -1.0, 0.0], [0.0, 0.5, 0.0, -1.0], [0.5, 0.0, 1.0, 0.0], [0.0, 0.5, 0.0, 1.0]]
)


@functools.cache
def _xyah_to_corners_matrix(width: int) -> np.ndarray:
    """(width, 4): a row ``x, y, a, h, ...`` times this is ``x, y - h/2, x, y + h/2``."""
    out = np.zeros((width, 4))
    out[0, 0] = out[0, 2] = out[1, 1] = out[1, 3] = 1.0
    out[3, 1], out[3, 3] = -0.5, 0.5
    out.flags.writeable = False
    return out


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) centre x, y, aspect w/h, height."""
    out = xyxy @ _XYXY_TO_XYWH  # centre x, y, w, h
    np.divide(out[:, 2], out[:, 3], out=out[:, 2])
    return out


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(N, 4) centre x, y, aspect w/h, height -> (N, 4) corners.

    Wider rows (Kalman states ``x, y, a, h`` followed by velocities) are accepted; the columns
    after the fourth are ignored.
    """
    half_w = xyah[:, 2] * 0.5
    half_w *= xyah[:, 3]  # w/2 = a/2 * h
    out = xyah @ _xyah_to_corners_matrix(xyah.shape[1])  # x, y - h/2, x, y + h/2
    out[:, 0] -= half_w
    out[:, 2] += half_w
    return out


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) centre x, y, width, height."""
    return xyxy @ _XYXY_TO_XYWH


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """(N, 4) centre x, y, width, height -> (N, 4) corners."""
    out = np.empty((xywh.shape[0], 4))
    half = xywh[:, 2:4] * 0.5
    out[:, :2] = xywh[:, :2] - half
    out[:, 2:] = xywh[:, :2] + half
    return out


def xyxy_to_xysr(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) centre x, y, area w*h, aspect w/h (SORT's measurement)."""
    out = np.empty_like(xyxy)
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    out[:, :2] = (xyxy[:, :2] + xyxy[:, 2:]) * 0.5
    out[:, 2] = w * h
    out[:, 3] = w / h
    return out


def xysr_to_xyxy(xysr: np.ndarray) -> np.ndarray:
    """(N, 4) centre x, y, area, aspect -> (N, 4) corners (area <= 0 gives a zero-size box)."""
    area = np.maximum(xysr[:, 2], 0.0)
    w = np.sqrt(area * np.maximum(xysr[:, 3], 0.0))
    h = np.divide(area, w, out=np.zeros_like(w), where=w > 0)
    out = np.empty((xysr.shape[0], 4))
    out[:, 0] = xysr[:, 0] - w * 0.5
    out[:, 2] = xysr[:, 0] + w * 0.5
    out[:, 1] = xysr[:, 1] - h * 0.5
    out[:, 3] = xysr[:, 1] + h * 0.5
    return out
