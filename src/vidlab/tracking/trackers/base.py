"""The common base of all trackers: input coercion, the track table, id allocation, ``reset()``.

Tracks are kept as a *table*: one row per track, one numpy array per attribute, so every per-frame
step (Kalman predict/update, cost matrices, ageing) runs over all tracks at once instead of looping
over Python objects. Rows are appended when tracks are born and dropped when they are removed.
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidlab.tracking.encoders import AppearanceEncoder
from vidlab.tracking.kalman import KalmanFilter
from vidlab.tracking.types import Detections, IdAllocator, Tracks, TrackSnapshot, TrackState

log = logging.getLogger(__name__)

UNCONFIRMED_ID = -1

# Columns of TrackTable.ints.
ID_COL, STATE_COL, TSU_COL, START_COL, LAST_COL = range(5)
_NUM_INT_COLUMNS = 5
_REMOVED = int(TrackState.REMOVED)


def _int_column(index: int, doc: str) -> property:
    """A (T,) int64 view of one column of ``TrackTable.ints`` (assignable)."""

    def get(self: TrackTable) -> np.ndarray:
        return self.ints[:, index]

    def set_(self: TrackTable, value: np.ndarray | int) -> None:
        self.ints[:, index] = value

    return property(get, set_, doc=doc)


@dataclass
class TrackTable:
    """Mutable working memory of a tracker: ``T`` tracks, one array per attribute.

    The columns every tracker needs; tracker families subclass it to add theirs (SORT's hit streak
    and last detection, DeepSORT's gallery keys, BoT-SORT's embeddings). The integer attributes
    share one ``(T, 5)`` array so that appending and deleting tracks touches few arrays.

    Attributes:
        ints: (T, 5) int64 ``track_id``, ``state``, ``time_since_update``, ``start_frame`` and
            ``last_frame``, also available as (T,) column views under those names. ``track_id``
            is ``UNCONFIRMED_ID`` until the track is first confirmed, ``state`` a ``TrackState``
            value, ``time_since_update`` counts frames since the last matched detection, and
            ``start_frame`` / ``last_frame`` are the 1-based frames of birth and of the last
            matched detection.
        mean: (T, S) Kalman means.
        cov: (T, *kf.cov_shape) Kalman covariances ((T, S, S), or compact for a decoupled filter).
        score: (T,) confidence of the last matched detection.
    """

    ints: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    score: np.ndarray

    track_id = _int_column(ID_COL, "(T,) public ids")
    state = _int_column(STATE_COL, "(T,) TrackState values")
    time_since_update = _int_column(TSU_COL, "(T,) frames since the last matched detection")
    start_frame = _int_column(START_COL, "(T,) frame of birth")
    last_frame = _int_column(LAST_COL, "(T,) frame of the last matched detection")

    def __len__(self) -> int:
        return self.ints.shape[0]

    @classmethod
    def empty(
        cls, state_dim: int, cov_shape: tuple[int, ...] | None = None, **extra: np.ndarray
    ) -> TrackTable:
        """A table with no rows for a state of size ``state_dim`` (``extra``: subclass columns)."""
        return cls(
            ints=np.zeros((0, _NUM_INT_COLUMNS), np.int64),
            mean=np.zeros((0, state_dim)),
            cov=np.zeros((0, *(cov_shape or (state_dim, state_dim)))),
            score=np.zeros(0),
            **extra,
        )

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        """The names of the per-track arrays (cached per table class)."""
        names = cls.__dict__.get("_columns")
        if names is None:
            names = tuple(f.name for f in dataclasses.fields(cls))
            cls._columns = names
        return names

    def take(self, index: np.ndarray) -> TrackTable:
        """A new table with the rows picked by a boolean mask or integer index."""
        return type(self)(**{name: getattr(self, name)[index] for name in self.columns()})

    def extend(self, other: TrackTable) -> None:
        """Append the rows of ``other`` (same type) in place."""
        if len(other) == 0:
            return
        if len(self) == 0:  # take the new rows as they are (the embedding width comes with them)
            for name in self.columns():
                setattr(self, name, getattr(other, name))
            return
        for name in self.columns():
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))


def as_detections(dets: Detections | np.ndarray | None) -> Detections:
    """Accept the typed container or an ``(N, 5)`` ``x1, y1, x2, y2, score`` array."""
    if dets is None:
        return Detections.empty()
    if isinstance(dets, Detections):
        return dets
    return Detections.from_array(dets)


class BaseTracker(ABC):
    """Common surface of all trackers.

    Subclasses implement :meth:`_step` (one frame) as a short orchestration of named steps, and own
    a :class:`TrackTable` in ``self._table``. Ids come from this instance's allocator and are given
    when a track is first confirmed, so the ids a tracker reports are 1, 2, 3, ... without gaps.
    """

    name: ClassVar[str] = "base"
    #: True when appearance embeddings (given with the detections, or computed by ``encoder`` from
    #: the frame) are required.
    uses_appearance: bool = False

    def __init__(self, kalman: KalmanFilter, encoder: AppearanceEncoder | None = None) -> None:
        self.kf = kalman
        self.encoder = encoder
        self._ids = IdAllocator()
        self.frame_id = 0
        self._table = self._empty_table()

    # ----------------------------------------------------------------- public API
    def update(
        self, dets: Detections | np.ndarray | None, frame: np.ndarray | None = None
    ) -> np.ndarray:
        """Advance one frame.

        Args:
            dets: an ``(N, 5)`` float array ``x1, y1, x2, y2, score`` in pixels, or
                :class:`Detections`.
            frame: optional ``(H, W, 3)`` uint8 BGR image (camera-motion compensation,
                appearance).

        Returns:
            (M, 6) float64 array ``x1, y1, x2, y2, track_id, score`` of the confirmed active
            tracks.
        """
        return self.update_tracks(dets, frame).to_array()

    def update_tracks(
        self, dets: Detections | np.ndarray | None, frame: np.ndarray | None = None
    ) -> Tracks:
        """As :meth:`update`, returning the typed :class:`Tracks` container."""
        detections = as_detections(dets)
        self.frame_id += 1
        return self._step(detections, frame)

    def reset(self) -> None:
        """Forget all tracks and restart ids at 1 (call between sequences)."""
        self._ids.reset()
        self.frame_id = 0
        self._table = self._empty_table()

    def snapshot(self) -> TrackSnapshot:
        """Every track currently held (tentative, tracked and lost), for inspection."""
        t = self._table
        return TrackSnapshot(
            t.track_id.copy(), t.state.copy(), self.kf.to_xyxy(t.mean), t.time_since_update.copy()
        )

    @property
    @abstractmethod
    def max_lost_frames(self) -> int:
        """Consecutive frames without a matched detection a track survives before removal."""

    # ----------------------------------------------------------------- for subclasses
    @abstractmethod
    def _step(self, dets: Detections, frame: np.ndarray | None) -> Tracks:
        """Process one frame (``self.frame_id`` already advanced) and return the reported tracks."""

    def _empty_table(self) -> TrackTable:
        return TrackTable.empty(self.kf.state_dim, self.kf.cov_shape)

    def _embeddings(self, dets: Detections, frame: np.ndarray | None) -> np.ndarray | None:
        """(N, D) embeddings of ``dets``: given ones, else the encoder's from ``frame``."""
        if dets.embedding is not None:
            return dets.embedding
        if len(dets) == 0:
            return None
        if self.encoder is not None and frame is not None:
            return self.encoder.encode(frame, dets.xyxy)
        if self.uses_appearance:
            raise ValueError(
                f"{self.name}: appearance embeddings are required but the detections of frame "
                f"{self.frame_id} have none; pass Detections(..., embedding=(N, D)) or give the "
                "tracker an `encoder` and pass `frame`"
            )
        return None

    def _new_rows(
        self,
        dets: Detections,
        state: TrackState,
        embedding: np.ndarray | None = None,
        *,
        measurement: np.ndarray | None = None,
    ) -> TrackTable:
        """Table rows for tracks born from ``dets`` in the current frame (ids not yet assigned).

        ``measurement``: ``self.kf.measure(dets.xyxy)`` when the caller already has it.
        """
        n = len(dets)
        if measurement is None:
            measurement = self.kf.measure(dets.xyxy)
        mean, cov = self.kf.initiate(measurement)
        ints = np.empty((n, _NUM_INT_COLUMNS), np.int64)
        ints[:] = (UNCONFIRMED_ID, int(state), 0, self.frame_id, self.frame_id)  # column order
        return type(self._table)(
            ints=ints,
            mean=mean,
            cov=cov,
            score=dets.score.copy(),
            **self._extra_columns(dets, embedding),
        )

    def _extra_columns(
        self, dets: Detections, embedding: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Initial values of a subclass table's extra columns for tracks born from ``dets``."""
        return {}

    def _confirm(self, rows: np.ndarray) -> None:
        """Give fresh ids to the tracks at ``rows`` that have none yet (in row order)."""
        t = self._table
        need = rows[t.track_id[rows] == UNCONFIRMED_ID]
        if need.size:
            t.track_id[need] = self._ids.take(need.size)

    def _drop_removed(self) -> None:
        """Delete the rows in state REMOVED."""
        state = self._table.state
        # A Python scan of a few dozen ints is cheaper than numpy's compare-and-reduce.
        if _REMOVED in state.tolist():
            self._table = self._table.take(state != _REMOVED)  # a plain int, not the enum

    def _report(self, rows: np.ndarray, xyxy: np.ndarray | None = None) -> Tracks:
        """The :class:`Tracks` of ``rows``, boxes from the Kalman state unless ``xyxy`` is given."""
        t = self._table
        boxes = self.kf.to_xyxy(t.mean[rows]) if xyxy is None else xyxy
        return Tracks.trusted(boxes, t.ints[rows, ID_COL], t.score[rows])
