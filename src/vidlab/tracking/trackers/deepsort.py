"""DeepSORT: SORT with a deep appearance metric, Mahalanobis gating and a matching cascade.

Wojke et al., "Simple Online and Realtime Tracking with a Deep Association Metric", ICIP 2017,
https://arxiv.org/abs/1703.07402. Defaults are the paper/reference settings: cosine gate 0.2 over
a gallery of the last 100 embeddings per track, Mahalanobis gate at the 95% chi-square quantile
with 4 degrees of freedom, appearance weight lambda = 0, IoU fallback gate 0.7, ``max_age=30``,
``n_init=3`` and detections below 0.3 confidence ignored (the reference README's MOT16 command).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlab.tracking.association import Assignment, iou_xyxy
from vidlab.tracking.encoders import AppearanceEncoder
from vidlab.tracking.kalman import DecoupledKalmanFilter, KalmanFilter, XYAHKalmanFilter
from vidlab.tracking.trackers.base import BaseTracker, TrackTable
from vidlab.tracking.types import Detections, Tracks, TrackState

#: 0.95 quantile of the chi-square distribution with 4 degrees of freedom.
CHI2_95_4DOF = 9.4877
#: Added to the gate for entries that must never be matched (the reference's max_distance + 1e-5).
_GATE_MARGIN = 1e-5
_INFEASIBLE = 1e5

_TRACKED, _LOST, _TENTATIVE, _REMOVED = (
    int(TrackState.TRACKED),
    int(TrackState.LOST),
    int(TrackState.TENTATIVE),
    int(TrackState.REMOVED),
)


def min_cost_matching(cost: np.ndarray, max_distance: float) -> Assignment:
    """DeepSORT's matching: costs above the gate are clipped to it, Hungarian, gated pairs dropped.

    Args:
        cost: (T, N) costs; ``inf`` or large values mark forbidden pairs.
        max_distance: pairs costing more than this are never matched.
    """
    t, n = cost.shape
    rows_all, cols_all = np.arange(t), np.arange(n)
    if t == 0 or n == 0:
        return Assignment(np.zeros(0, np.int64), np.zeros(0, np.int64), rows_all, cols_all)
    clipped = np.minimum(cost, max_distance + _GATE_MARGIN)
    rows, cols = linear_sum_assignment(clipped)
    keep = cost[rows, cols] <= max_distance
    rows, cols = rows[keep].astype(np.int64), cols[keep].astype(np.int64)
    return Assignment(rows, cols, np.setdiff1d(rows_all, rows), np.setdiff1d(cols_all, cols))


@dataclass
class DeepSortTrackTable(TrackTable):
    """The track table plus DeepSORT's columns.

    Attributes:
        uid: (T,) int64 internal keys of the appearance galleries (never reported).
        hits: (T,) matched detections so far, the birth detection included.
    """

    uid: np.ndarray
    hits: np.ndarray

    @classmethod
    def empty(
        cls, state_dim: int, cov_shape: tuple[int, ...] | None = None, **extra: np.ndarray
    ) -> DeepSortTrackTable:
        return super().empty(
            state_dim, cov_shape, uid=np.zeros(0, np.int64), hits=np.zeros(0, np.int64), **extra
        )


class DeepSort(BaseTracker):
    """DeepSORT with named thresholds.

    Args:
        max_cosine_distance: appearance gate (cosine distance to the closest gallery embedding).
        nn_budget: gallery size per track (most recent embeddings kept).
        max_iou_distance: gate on ``1 - IoU`` for the IoU fallback stage.
        max_age: frames a confirmed track survives without a matched detection.
        n_init: detections (birth included) in a row needed to confirm a track.
        min_confidence: detections below this score are ignored.
        gating_threshold: Mahalanobis gate (squared distance) on the Kalman prediction.
        appearance_weight: lambda, the weight of the Mahalanobis distance in the cascade cost.
        report_max_misses: confirmed tracks missed in at most this many latest frames are
            reported (the reference application reports tracks missed in the current frame, at
            their predicted box: 1; use 0 to report only tracks matched in the current frame).
        kalman: motion model (default: the paper's XYAH filter, in its decoupled form).
        encoder: computes embeddings from the frame when detections carry none (injected by the
            config, e.g. a trained Re-ID model through
            :func:`vidlab.tracking.encoders.load_encoder`).
    """

    name = "deepsort"
    uses_appearance = True

    def __init__(
        self,
        *,
        max_cosine_distance: float = 0.2,
        nn_budget: int = 100,
        max_iou_distance: float = 0.7,
        max_age: int = 30,
        n_init: int = 3,
        min_confidence: float = 0.3,
        gating_threshold: float = CHI2_95_4DOF,
        appearance_weight: float = 0.0,
        report_max_misses: int = 1,
        kalman: KalmanFilter | None = None,
        encoder: AppearanceEncoder | None = None,
    ) -> None:
        super().__init__(kalman or DecoupledKalmanFilter(XYAHKalmanFilter()), encoder)
        self.max_cosine_distance, self.nn_budget = max_cosine_distance, nn_budget
        self.max_iou_distance, self.max_age, self.n_init = max_iou_distance, max_age, n_init
        self.min_confidence, self.gating_threshold = min_confidence, gating_threshold
        self.appearance_weight, self.report_max_misses = appearance_weight, report_max_misses
        self._gallery: dict[int, np.ndarray] = {}
        self._next_uid = 0

    @property
    def max_lost_frames(self) -> int:
        """Consecutive frames without detection a confirmed track survives."""
        return self.max_age

    def reset(self) -> None:
        super().reset()
        self._gallery = {}
        self._next_uid = 0

    def _empty_table(self) -> DeepSortTrackTable:
        return DeepSortTrackTable.empty(self.kf.state_dim, self.kf.cov_shape)

    def _extra_columns(
        self, dets: Detections, embedding: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        n = len(dets)
        uid = np.arange(self._next_uid, self._next_uid + n, dtype=np.int64)
        self._next_uid += n
        return dict(uid=uid, hits=np.ones(n, np.int64))

    def _step(self, dets: Detections, frame: np.ndarray | None) -> Tracks:
        dets = dets.select(dets.score >= self.min_confidence)
        emb = self._embeddings(dets, frame)
        self._predict()
        rows, cols, left = self._matching_cascade(dets, emb)
        rows, cols, left = self._iou_fallback(dets, rows, cols, left)
        self._apply_matches(rows, dets.select(cols), None if emb is None else emb[cols])
        self._mark_missed(rows)
        self._spawn(dets.select(left), None if emb is None else emb[left])
        self._drop_removed()
        t = self._table
        report = (t.track_id > 0) & (t.time_since_update <= self.report_max_misses)
        return self._report(np.flatnonzero(report))

    # ------------------------------------------------------------------ steps
    def _predict(self) -> None:
        t = self._table
        if len(t):
            t.mean, t.cov = self.kf.predict(t.mean, t.cov)
            t.time_since_update += 1

    def _appearance_cost(self, rows: np.ndarray, emb: np.ndarray) -> np.ndarray:
        """(len(rows), N) smallest cosine distance from each track's gallery to each detection."""
        galleries = [self._gallery[int(u)] for u in self._table.uid[rows]]
        stacked = np.concatenate(galleries).astype(np.float64)  # (sum of gallery sizes, D)
        dist = 1.0 - stacked @ emb.astype(np.float64).T
        starts = np.cumsum([0] + [len(g) for g in galleries[:-1]])
        return np.minimum.reduceat(dist, starts, axis=0)

    def _gated_cost(self, rows: np.ndarray, dets: Detections, emb: np.ndarray) -> np.ndarray:
        """Appearance cost (blended with Mahalanobis by lambda), infeasible outside the gate."""
        t = self._table
        maha = self.kf.gating_distance(t.mean[rows], t.cov[rows], self.kf.measure(dets.xyxy))
        cost = self._appearance_cost(rows, emb)
        if self.appearance_weight:
            cost = self.appearance_weight * maha + (1 - self.appearance_weight) * cost
        cost[maha > self.gating_threshold] = _INFEASIBLE
        return cost

    def _matching_cascade(
        self, dets: Detections, emb: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Confirmed tracks matched by appearance, most recently seen first."""
        t = self._table
        left = np.arange(len(dets))
        rows_out, cols_out = [], []
        confirmed = np.flatnonzero(t.track_id > 0)
        if emb is None or confirmed.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), left
        for level in np.unique(t.time_since_update[confirmed]):
            if left.size == 0 or level > self.max_age:
                break
            rows = confirmed[t.time_since_update[confirmed] == level]
            cost = self._gated_cost(rows, dets.select(left), emb[left])
            match = min_cost_matching(cost, self.max_cosine_distance)
            rows_out.append(rows[match.rows])
            cols_out.append(left[match.cols])
            left = left[match.unmatched_cols]
        return _cat(rows_out), _cat(cols_out), left

    def _iou_fallback(
        self, dets: Detections, rows: np.ndarray, cols: np.ndarray, left: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tentative tracks and confirmed ones missed only this frame, matched by IoU."""
        t = self._table
        unmatched = np.setdiff1d(np.arange(len(t)), rows)
        recent = (t.track_id[unmatched] < 0) | (t.time_since_update[unmatched] == 1)
        cand = unmatched[recent]
        boxes = self.kf.to_xyxy(t.mean[cand])
        cost = 1.0 - iou_xyxy(boxes, dets.xyxy[left])
        match = min_cost_matching(cost, self.max_iou_distance)
        rows = np.concatenate([rows, cand[match.rows]])
        cols = np.concatenate([cols, left[match.cols]])
        return rows, cols, left[match.unmatched_cols]

    def _apply_matches(self, rows: np.ndarray, dets: Detections, emb: np.ndarray | None) -> None:
        """Kalman update, gallery append, confirmation after ``n_init`` hits."""
        if rows.size == 0:
            return
        t = self._table
        t.mean[rows], t.cov[rows] = self.kf.update(
            t.mean[rows], t.cov[rows], self.kf.measure(dets.xyxy)
        )
        t.time_since_update[rows] = 0
        t.hits[rows] += 1
        t.score[rows], t.last_frame[rows] = dets.score, self.frame_id
        if emb is not None:
            for uid, e in zip(t.uid[rows], emb, strict=True):
                gallery = np.concatenate([self._gallery[int(uid)], e[None]])
                self._gallery[int(uid)] = gallery[-self.nn_budget :]
        confirm = rows[(t.state[rows] == _TENTATIVE) & (t.hits[rows] >= self.n_init)]
        self._confirm(np.sort(confirm))
        t.state[rows] = np.where(t.track_id[rows] > 0, _TRACKED, _TENTATIVE)

    def _mark_missed(self, matched: np.ndarray) -> None:
        """Unmatched tentative tracks die at once; confirmed ones become lost, then age out."""
        t = self._table
        missed = np.ones(len(t), bool)
        missed[matched] = False
        tentative = t.track_id < 0
        t.state[missed & ~tentative] = _LOST
        t.state[missed & (tentative | (t.time_since_update > self.max_age))] = _REMOVED
        for uid in t.uid[t.state == _REMOVED]:
            self._gallery.pop(int(uid), None)

    def _spawn(self, dets: Detections, emb: np.ndarray | None) -> None:
        """New tentative tracks (their galleries start with the birth embedding)."""
        if len(dets) == 0:
            return
        new = self._new_rows(dets, TrackState.TENTATIVE)
        for i, uid in enumerate(new.uid):
            first = np.zeros((0, 0), np.float32) if emb is None else emb[i : i + 1]
            self._gallery[int(uid)] = first.astype(np.float32)
        self._table.extend(new)
        if self.n_init <= 1:
            rows = np.arange(len(self._table) - len(dets), len(self._table))
            self._confirm(rows)
            self._table.state[rows] = _TRACKED


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
