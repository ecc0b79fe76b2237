"""SORT: Kalman prediction plus Hungarian IoU matching.

Bewley et al., "Simple Online and Realtime Tracking", ICIP 2016, https://arxiv.org/abs/1602.00763.
Defaults are the reference settings (``max_age=1``, ``min_hits=3``, ``iou_threshold=0.3``) with
the 7-dimensional ``x, y, s, r`` Kalman state.

Reporting follows the reference exactly: a track is reported in a frame when it was matched in
that frame and has ``min_hits`` consecutive matched updates after its birth (or after its last
miss), or while the sequence is still in its first ``min_hits`` frames. Track states map onto that
rule: ``TRACKED`` = reported this frame, ``LOST`` = a reported track that missed, ``TENTATIVE`` =
anything not (yet again) reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidlab.tracking.association import Assignment, hungarian_gated, iou_xyxy
from vidlab.tracking.encoders import AppearanceEncoder
from vidlab.tracking.kalman import DecoupledKalmanFilter, KalmanFilter, XYSRKalmanFilter
from vidlab.tracking.trackers.base import UNCONFIRMED_ID, BaseTracker, TrackTable
from vidlab.tracking.types import Detections, Tracks, TrackState

_TRACKED, _LOST, _TENTATIVE, _REMOVED = (
    int(TrackState.TRACKED),
    int(TrackState.LOST),
    int(TrackState.TENTATIVE),
    int(TrackState.REMOVED),
)


@dataclass
class SortTrackTable(TrackTable):
    """The track table plus SORT's columns.

    Attributes:
        hit_streak: (T,) matched updates since birth or since the last miss.
        det_xyxy: (T, 4) the last matched detection box.
    """

    hit_streak: np.ndarray
    det_xyxy: np.ndarray

    @classmethod
    def empty(
        cls, state_dim: int, cov_shape: tuple[int, ...] | None = None, **extra: np.ndarray
    ) -> SortTrackTable:
        return super().empty(
            state_dim,
            cov_shape,
            hit_streak=np.zeros(0, np.int64),
            det_xyxy=np.zeros((0, 4)),
            **extra,
        )


class Sort(BaseTracker):
    """SORT with named thresholds.

    Args:
        max_age: frames a track survives without a matched detection.
        min_hits: consecutive matched updates (after birth or a miss) before a track is reported.
        iou_threshold: minimum IoU between a predicted track box and a detection to match them.
        kalman: motion model (default: SORT's constant-velocity ``x, y, s, r`` filter, decoupled).
        encoder: unused by SORT; accepted for a uniform constructor.
    """

    name = "sort"

    def __init__(
        self,
        *,
        max_age: int = 1,
        min_hits: int = 3,
        iou_threshold: float = 0.3,
        kalman: KalmanFilter | None = None,
        encoder: AppearanceEncoder | None = None,
    ) -> None:
        super().__init__(kalman or DecoupledKalmanFilter(XYSRKalmanFilter()), encoder)
        self.max_age, self.min_hits, self.iou_threshold = max_age, min_hits, iou_threshold

    @property
    def max_lost_frames(self) -> int:
        """Consecutive frames without detection a track survives before removal."""
        return self.max_age

    def _empty_table(self) -> SortTrackTable:
        return SortTrackTable.empty(self.kf.state_dim, self.kf.cov_shape)

    def _extra_columns(
        self, dets: Detections, embedding: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        return dict(hit_streak=np.zeros(len(dets), np.int64), det_xyxy=dets.xyxy.copy())

    def _step(self, dets: Detections, frame: np.ndarray | None) -> Tracks:
        self._predict()
        match = self._associate(dets)
        self._apply_matches(match.rows, dets.select(match.cols))
        self._spawn(dets.select(match.unmatched_cols))
        reported = self._select_reported()
        tracks = self._report(reported, self._report_boxes(reported))
        self._age_out()
        self._drop_removed()
        return tracks

    # ------------------------------------------------------------------ steps
    def _predict(self) -> None:
        """Advance every track one frame; a miss in the previous frame resets the hit streak."""
        t = self._table
        if len(t) == 0:
            return
        t.mean, t.cov = self.kf.predict(t.mean, t.cov)
        t.hit_streak[t.time_since_update > 0] = 0
        t.time_since_update += 1

    def _associate(self, dets: Detections) -> Assignment:
        """Hungarian matching on IoU between predicted boxes and detections."""
        iou = iou_xyxy(self.kf.to_xyxy(self._table.mean), dets.xyxy)
        return hungarian_gated(iou, self.iou_threshold)

    def _apply_matches(self, rows: np.ndarray, dets: Detections) -> None:
        """Batched Kalman update of the matched tracks."""
        if rows.size == 0:
            return
        t = self._table
        t.mean[rows], t.cov[rows] = self.kf.update(
            t.mean[rows], t.cov[rows], self.kf.measure(dets.xyxy)
        )
        t.time_since_update[rows] = 0
        t.hit_streak[rows] += 1
        t.score[rows] = dets.score
        t.det_xyxy[rows] = dets.xyxy
        t.last_frame[rows] = self.frame_id

    def _spawn(self, dets: Detections) -> None:
        """A new track for every unmatched detection (SORT's hit streak starts at 0 at birth)."""
        if len(dets) == 0:
            return
        self._table.extend(self._new_rows(dets, TrackState.TENTATIVE))

    def _select_reported(self) -> np.ndarray:
        """Rows reported this frame (confirmed now if new); sets the state of every track."""
        t = self._table
        fresh = t.time_since_update == 0
        streak_ok = (t.hit_streak >= self.min_hits) | (self.frame_id <= self.min_hits)
        reported = fresh & streak_ok
        rows = np.flatnonzero(reported)
        self._confirm(rows)
        has_id = t.track_id != UNCONFIRMED_ID
        t.state[:] = np.where(reported, _TRACKED, np.where(~fresh & has_id, _LOST, _TENTATIVE))
        return rows

    def _report_boxes(self, rows: np.ndarray) -> np.ndarray:
        """Boxes to report: the Kalman estimate (SORT)."""
        return self.kf.to_xyxy(self._table.mean[rows])

    def _age_out(self) -> None:
        t = self._table
        t.state[t.time_since_update > self.max_age] = _REMOVED
