"""OC-SORT: observation-centric SORT.

Cao et al., "Observation-Centric SORT: Rethinking SORT for Robust Multi-Object Tracking",
CVPR 2023, https://arxiv.org/abs/2203.14360. On top of SORT:

- **OCM** (observation-centric momentum): the association cost adds a term rewarding detections
  that continue the direction of the track's *observed* motion (over ``delta_t`` frames), weighted
  by ``inertia`` and the detection score;
- **OCR** (observation-centric recovery): detections and tracks left over are matched again
  against the tracks' last *observed* boxes instead of their drifting predictions;
- **ORU** (observation-centric re-update): when a lost track is found again, its Kalman filter is
  re-run from its last observation along a straight virtual trajectory to the new detection,
  undoing the error accumulated while it was unobserved.

Defaults are the paper's MOT17 settings (``det_thresh=0.6``, ``max_age=30``, ``min_hits=3``,
``iou_threshold=0.3``, ``delta_t=3``, ``inertia=0.2``). Deliberate differences from the reference
code: the birth detection counts as an observation (momentum and recovery are available one frame
earlier), and the re-update applies the new detection once (the reference applies it twice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidlab.tracking.association import Assignment, hungarian_gated, iou_xyxy
from vidlab.tracking.encoders import AppearanceEncoder
from vidlab.tracking.kalman import KalmanFilter
from vidlab.tracking.trackers.sort import Sort, SortTrackTable
from vidlab.tracking.types import Detections, Tracks, xywh_to_xyxy, xyxy_to_xywh

_NO_FRAME = -1
_DIR_EPS = 1e-6


@dataclass
class OcTrackTable(SortTrackTable):
    """The track table plus OC-SORT's observation memory.

    Attributes:
        obs_xyxy: (T, K, 4) the last ``K = delta_t`` observed boxes, oldest first.
        obs_frame: (T, K) their frame numbers (``_NO_FRAME`` for empty slots).
        direction: (T, 2) unit vector of the observed motion of the box centre (zero if unknown).
        post_mean: (T, S) Kalman mean right after the last observation (ORU restarts from it).
        post_cov: (T, *kf.cov_shape) the matching covariance.
    """

    obs_xyxy: np.ndarray
    obs_frame: np.ndarray
    direction: np.ndarray
    post_mean: np.ndarray
    post_cov: np.ndarray

    @classmethod
    def empty(
        cls, state_dim: int, cov_shape: tuple[int, ...] | None = None, history: int = 1
    ) -> OcTrackTable:
        cov_shape = cov_shape or (state_dim, state_dim)
        return super().empty(
            state_dim,
            cov_shape,
            obs_xyxy=np.zeros((0, history, 4)),
            obs_frame=np.zeros((0, history), np.int64),
            direction=np.zeros((0, 2)),
            post_mean=np.zeros((0, state_dim)),
            post_cov=np.zeros((0, *cov_shape)),
        )


class OcSort(Sort):
    """OC-SORT with named thresholds.

    Args:
        det_thresh: detections scoring above this are tracked (and may start tracks).
        max_age: frames a track survives without a matched detection.
        min_hits: consecutive matched updates before a track is reported (SORT's rule).
        iou_threshold: minimum IoU for every association stage.
        delta_t: frame gap over which the observed motion direction is measured.
        inertia: weight of the direction-consistency (OCM) term in the first association.
        use_byte: add a ByteTrack-style second stage with detections scoring in
            ``(low_thresh, det_thresh]``.
        low_thresh: lower score bound of that stage.
        kalman: motion model (default: SORT's ``x, y, s, r`` filter, decoupled).
        encoder: unused; accepted for a uniform constructor.
    """

    name = "ocsort"

    def __init__(
        self,
        *,
        det_thresh: float = 0.6,
        max_age: int = 30,
        min_hits: int = 3,
        iou_threshold: float = 0.3,
        delta_t: int = 3,
        inertia: float = 0.2,
        use_byte: bool = False,
        low_thresh: float = 0.1,
        kalman: KalmanFilter | None = None,
        encoder: AppearanceEncoder | None = None,
    ) -> None:
        if delta_t < 1:
            raise ValueError(f"OcSort: delta_t must be >= 1, got {delta_t}")
        self.delta_t = delta_t
        super().__init__(
            max_age=max_age,
            min_hits=min_hits,
            iou_threshold=iou_threshold,
            kalman=kalman,
            encoder=encoder,
        )
        self.det_thresh, self.inertia = det_thresh, inertia
        self.use_byte, self.low_thresh = use_byte, low_thresh

    def _empty_table(self) -> OcTrackTable:
        return OcTrackTable.empty(self.kf.state_dim, self.kf.cov_shape, self.delta_t)

    # ------------------------------------------------------------------ orchestration
    def _step(self, dets: Detections, frame: np.ndarray | None) -> Tracks:
        high = dets.select(dets.score > self.det_thresh)
        self._predict()
        boxes = self.kf.to_xyxy(self._table.mean)
        first = self._momentum_association(boxes, high)
        left_rows = first.unmatched_rows
        if self.use_byte:
            left_rows = self._byte_association(boxes, left_rows, dets)
        left_dets = self._recovery_association(left_rows, high, first.unmatched_cols)
        self._spawn(high.select(left_dets))
        reported = self._select_reported()
        tracks = self._report(reported, self._table.det_xyxy[reported])
        self._age_out()
        self._drop_removed()
        return tracks

    # ------------------------------------------------------------------ association stages
    def _momentum_association(self, boxes: np.ndarray, dets: Detections) -> Assignment:
        """IoU plus the OCM direction term between predictions and detections (Hungarian)."""
        t = self._table
        iou = iou_xyxy(boxes, dets.xyxy)
        if len(t) and len(dets):
            prev, valid = self._previous_observation()
            step = _centre(dets.xyxy)[None, :, :] - _centre(prev)[:, None, :]  # (T, N, 2)
            step /= np.linalg.norm(step, axis=2, keepdims=True) + _DIR_EPS
            cos = np.clip(np.einsum("tnc,tc->tn", step, t.direction), -1.0, 1.0)
            consistency = (np.pi / 2 - np.abs(np.arccos(cos))) / np.pi  # in [-1/2, 1/2]
            bonus = valid[:, None] * consistency * self.inertia * dets.score[None, :]
            similarity = iou + bonus
        else:
            similarity = iou
        match = hungarian_gated(similarity, self.iou_threshold, gate=iou)
        self._observe(match.rows, dets.select(match.cols))
        return match

    def _byte_association(
        self, boxes: np.ndarray, rows: np.ndarray, dets: Detections
    ) -> np.ndarray:
        """Optional low-score stage on predicted boxes; returns the rows still unmatched."""
        low = dets.select((dets.score > self.low_thresh) & (dets.score <= self.det_thresh))
        match = hungarian_gated(iou_xyxy(boxes[rows], low.xyxy), self.iou_threshold)
        self._observe(rows[match.rows], low.select(match.cols))
        return rows[match.unmatched_rows]

    def _recovery_association(
        self, rows: np.ndarray, dets: Detections, cols: np.ndarray
    ) -> np.ndarray:
        """OCR: leftover detections vs leftover tracks' last observed boxes; returns unmatched."""
        left = dets.select(cols)
        iou = iou_xyxy(self._table.det_xyxy[rows], left.xyxy)
        match = hungarian_gated(iou, self.iou_threshold)
        self._observe(rows[match.rows], left.select(match.cols))
        return cols[match.unmatched_cols]

    # ------------------------------------------------------------------ observation bookkeeping
    def _previous_observation(
        self, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per track, the observation ``delta_t`` frames back (else the closest later one, else
        the latest), as (T, 4) boxes and a (T,) validity flag (0 when the track has none)."""
        t = self._table
        rows = np.arange(len(t)) if rows is None else rows
        frames, boxes = t.obs_frame[rows], t.obs_xyxy[rows]
        latest = frames[:, -1] != _NO_FRAME
        out = boxes[:, -1].copy()
        found = np.zeros(len(rows), bool)
        for dt in range(self.delta_t, 0, -1):
            hit = (frames == self.frame_id - dt) & ~found[:, None]
            has = hit.any(axis=1)
            out[has] = boxes[has, hit[has].argmax(axis=1)]
            found |= has
        return out, latest.astype(np.float64)

    def _observe(self, rows: np.ndarray, dets: Detections) -> None:
        """Record matches: direction, re-update (ORU), Kalman update, observation memory."""
        if rows.size == 0:
            return
        t = self._table
        prev, valid = self._previous_observation(rows)
        step = _centre(dets.xyxy) - _centre(prev)
        norm = np.linalg.norm(step, axis=1, keepdims=True) + _DIR_EPS
        t.direction[rows] = np.where(valid[:, None] > 0, step / norm, t.direction[rows])
        self._re_update(rows, dets.xyxy)
        self._apply_matches(rows, dets)
        t.post_mean[rows], t.post_cov[rows] = t.mean[rows], t.cov[rows]
        t.obs_xyxy[rows, :-1], t.obs_frame[rows, :-1] = t.obs_xyxy[rows, 1:], t.obs_frame[rows, 1:]
        t.obs_xyxy[rows, -1], t.obs_frame[rows, -1] = dets.xyxy, self.frame_id

    def _re_update(self, rows: np.ndarray, new_xyxy: np.ndarray) -> None:
        """ORU: rebuild the prior of re-found tracks along a straight virtual trajectory."""
        t = self._table
        for row, box in zip(rows, new_xyxy, strict=True):
            gap = self.frame_id - int(t.last_frame[row])
            if gap <= 1:
                continue
            start, end = xyxy_to_xywh(t.det_xyxy[row : row + 1]), xyxy_to_xywh(box[None])
            mean, cov = t.post_mean[row : row + 1], t.post_cov[row : row + 1]
            for i in range(1, gap):
                virtual = xywh_to_xyxy(start + (end - start) * (i / gap))
                mean, cov = self.kf.predict(mean, cov)
                mean, cov = self.kf.update(mean, cov, self.kf.measure(virtual))
            t.mean[row : row + 1], t.cov[row : row + 1] = self.kf.predict(mean, cov)

    def _extra_columns(
        self, dets: Detections, embedding: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Newborn tracks: the birth detection is their first observation."""
        n = len(dets)
        obs_xyxy = np.zeros((n, self.delta_t, 4))
        obs_xyxy[:, -1] = dets.xyxy
        obs_frame = np.full((n, self.delta_t), _NO_FRAME, np.int64)
        obs_frame[:, -1] = self.frame_id
        mean, cov = self.kf.initiate(self.kf.measure(dets.xyxy))
        return super()._extra_columns(dets, embedding) | dict(
            obs_xyxy=obs_xyxy,
            obs_frame=obs_frame,
            direction=np.zeros((n, 2)),
            post_mean=mean,
            post_cov=cov,
        )


def _centre(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) boxes -> (N, 2) centres."""
    return (xyxy[:, :2] + xyxy[:, 2:]) / 2
