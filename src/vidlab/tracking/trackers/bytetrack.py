"""ByteTrack: associate every detection box, high and low score alike.

Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box", ECCV 2022,
https://arxiv.org/abs/2110.06864. Defaults are the paper's MOT17 settings (high/low thresholds
0.5/0.1, new tracks from 0.6, IoU match cost 0.8, second stage 0.5, unconfirmed 0.7, 30-frame
buffer at 30 fps, score fusion on).

Differences from the reference code, on purpose: ids are given when a track is confirmed (so ids
are contiguous), and a detection scoring exactly ``track_thresh`` counts as high (the reference
drops it from both stages). Everything else follows the reference, including that one-frame-old
tentative tracks are not Kalman-predicted and that a lost track is dropped one frame after it
exceeds the buffer (``lost_grace_frames``; the reference marks it removed but deletes it from its
lost list only at the end of the next frame, so it can still be found again then).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vidlab.tracking.association import iou_xyxy, linear_assignment
from vidlab.tracking.encoders import AppearanceEncoder
from vidlab.tracking.kalman import DecoupledKalmanFilter, KalmanFilter, XYAHKalmanFilter
from vidlab.tracking.trackers.base import LAST_COL, STATE_COL, TSU_COL, BaseTracker
from vidlab.tracking.types import Detections, Tracks, TrackState

#: The frame rate ``track_buffer`` is expressed at (the reference scales it by frame_rate / 30).
REFERENCE_FRAME_RATE = 30.0
#: Frames a lost track stays matchable after ``max_time_lost`` in the reference code: it marks the
#: track removed but drops it from its lost list only at the end of the next frame.
REFERENCE_LOST_GRACE_FRAMES = 1

_TRACKED, _LOST, _TENTATIVE, _REMOVED = (
    int(TrackState.TRACKED),
    int(TrackState.LOST),
    int(TrackState.TENTATIVE),
    int(TrackState.REMOVED),
)

#: Integer columns set on a match: state, time since update, last frame.
_MATCH_COLUMNS = np.array([STATE_COL, TSU_COL, LAST_COL])


@dataclass
class MatchBatch:
    """Matches collected over the association stages of one frame, applied in one Kalman update.

    ``rows`` index the track table and ``dets`` the frame's detections; ``with_embedding`` marks
    the stages whose detections update the tracks' appearance; ``confirming`` holds the rows of
    tentative tracks matched this frame (they get ids).
    """

    rows: list[np.ndarray] = field(default_factory=list)
    dets: list[np.ndarray] = field(default_factory=list)
    with_embedding: list[bool] = field(default_factory=list)
    confirming: np.ndarray | None = None

    def add(self, rows: np.ndarray, dets: np.ndarray, with_embedding: bool) -> None:
        if rows.size:
            self.rows.append(rows)
            self.dets.append(dets)
            self.with_embedding.append(with_embedding)


class ByteTrack(BaseTracker):
    """ByteTrack with every threshold a named argument.

    Args:
        track_thresh: detections scoring at least this are "high" (first association).
        low_thresh: detections scoring above this and below ``track_thresh`` are "low" (second).
        new_track_thresh: unmatched high detections at least this confident start tracks.
        match_thresh: first-stage gate on the (score-fused) ``1 - IoU`` cost.
        second_match_thresh: second-stage gate on ``1 - IoU`` (low detections, tracked tracks).
        unconfirmed_match_thresh: gate for matching one-frame-old tentative tracks.
        track_buffer: frames a lost track is kept, at ``REFERENCE_FRAME_RATE`` fps.
        frame_rate: the sequence's frame rate; scales ``track_buffer``.
        fuse_score: multiply IoU similarity by detection score in the first/unconfirmed stages.
        duplicate_iou_dist: a tracked and a lost track closer than this ``1 - IoU`` are
            duplicates; the younger one is dropped.
        lost_grace_frames: frames a lost track stays matchable after ``max_time_lost`` (the
            reference keeps it one more frame, and removes such a track, once found again, at
            its next miss). ``None``: 1 for ByteTrack, 0 for subclasses (BoT-SORT keeps its
            behaviour until it opts in).
        kalman: the motion model (default: the paper's XYAH filter, in its decoupled form).
        encoder: optional appearance encoder (unused by ByteTrack itself; kept for subclasses).
    """

    name = "bytetrack"
    #: Kalman state entries zeroed for lost tracks before predicting (ByteTrack: height velocity).
    lost_velocity_dims: slice = slice(7, 8)

    def __init__(
        self,
        *,
        track_thresh: float = 0.5,
        low_thresh: float = 0.1,
        new_track_thresh: float = 0.6,
        match_thresh: float = 0.8,
        second_match_thresh: float = 0.5,
        unconfirmed_match_thresh: float = 0.7,
        track_buffer: int = 30,
        frame_rate: float = REFERENCE_FRAME_RATE,
        fuse_score: bool = True,
        duplicate_iou_dist: float = 0.15,
        lost_grace_frames: int | None = None,
        kalman: KalmanFilter | None = None,
        encoder: AppearanceEncoder | None = None,
    ) -> None:
        super().__init__(kalman or DecoupledKalmanFilter(XYAHKalmanFilter()), encoder)
        if lost_grace_frames is None:  # the reference's value for ByteTrack; subclasses opt in
            lost_grace_frames = REFERENCE_LOST_GRACE_FRAMES if type(self) is ByteTrack else 0
        if lost_grace_frames < 0:
            raise ValueError(f"lost_grace_frames must be >= 0, got {lost_grace_frames}")
        self.lost_grace_frames = lost_grace_frames
        self._expired_ids: set[int] = set()
        if not 0 <= low_thresh <= track_thresh:
            raise ValueError(
                f"need 0 <= low_thresh <= track_thresh, got {low_thresh}, {track_thresh}"
            )
        self.track_thresh, self.low_thresh = track_thresh, low_thresh
        self.new_track_thresh = new_track_thresh
        self.match_thresh, self.second_match_thresh = match_thresh, second_match_thresh
        self.unconfirmed_match_thresh = unconfirmed_match_thresh
        self.track_buffer, self.frame_rate = track_buffer, frame_rate
        self.max_time_lost = int(frame_rate / REFERENCE_FRAME_RATE * track_buffer)
        self.fuse_score, self.duplicate_iou_dist = fuse_score, duplicate_iou_dist

    @property
    def max_lost_frames(self) -> int:
        """Consecutive frames without detection a track survives before removal."""
        return self.max_time_lost + self.lost_grace_frames

    def reset(self) -> None:
        super().reset()
        self._expired_ids = set()

    # ------------------------------------------------------------------ orchestration
    def _step(self, dets: Detections, frame: np.ndarray | None) -> Tracks:
        high, low = self._split_by_score(dets)
        emb = self._embeddings_for(dets, high, frame)
        # Tentative rows keep their state until the unconfirmed stage, so they are found once.
        tentative = (self._table.state == _TENTATIVE).nonzero()[0]
        self._predict(tentative)
        self._compensate_motion(frame)
        iou = iou_xyxy(self.kf.to_xyxy(self._table.mean), dets.xyxy)  # (T, N), sliced per stage
        meas = self.kf.measure(dets.xyxy)  # (N, 4), shared by the Kalman update and new tracks
        matches = MatchBatch()
        left_tracks, left_high = self._first_association(iou, dets, high, emb, matches, tentative)
        self._second_association(iou, left_tracks, low, matches)
        left_high = self._unconfirmed_association(iou, dets, left_high, emb, matches, tentative)
        self._apply_matches(dets, meas, emb, matches)
        self._spawn(dets, meas, emb, left_high)
        self._age_out()
        boxes = self.kf.to_xyxy(self._table.mean)  # post-update boxes, shared by the last steps
        self._remove_duplicates(boxes)
        rows = (self._table.state == _TRACKED).nonzero()[0]
        tracks = self._report(rows, boxes[rows])
        self._drop_removed()
        return tracks

    # ------------------------------------------------------------------ steps
    def _split_by_score(self, dets: Detections) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the high (first stage) and low (second stage) detections."""
        s = dets.score
        low = (s > self.low_thresh) & (s < self.track_thresh)
        return (s >= self.track_thresh).nonzero()[0], low.nonzero()[0]

    def _embeddings_for(
        self, dets: Detections, high: np.ndarray, frame: np.ndarray | None
    ) -> np.ndarray | None:
        """(N, D) embeddings of the frame's detections if appearance is used (not in ByteTrack)."""
        return None

    def _predict(self, tentative: np.ndarray) -> None:
        """Kalman-predict tracked and lost tracks (lost ones first lose their size velocity).

        As in the reference, one-frame-old tentative tracks are not predicted (their velocity is
        zero; only their covariance would grow).

        Args:
            tentative: ascending rows of the tentative tracks.
        """
        t = self._table
        state = t.state
        if state.size == 0:
            return
        t.mean[state == _LOST, self.lost_velocity_dims] = 0.0
        if tentative.size == 0:
            t.mean, t.cov = self.kf.predict(t.mean, t.cov)
        elif tentative.size < state.size:  # predict all, then restore the tentative rows
            kept_mean, kept_cov = t.mean[tentative], t.cov[tentative]
            t.mean, t.cov = self.kf.predict(t.mean, t.cov)
            t.mean[tentative], t.cov[tentative] = kept_mean, kept_cov
        t.ints[:, TSU_COL] += 1

    def _compensate_motion(self, frame: np.ndarray | None) -> None:
        """Camera-motion compensation (none in ByteTrack)."""

    def _first_cost(
        self,
        rows: np.ndarray,
        cols: np.ndarray,
        iou: np.ndarray,
        dets: Detections,
        emb: np.ndarray | None,
    ) -> np.ndarray:
        """(len(rows), len(cols)) track/detection cost: score-fused ``1 - IoU``."""
        sim = _submatrix(iou, rows, cols)
        if self.fuse_score:
            sim = sim * (dets.score if cols.size == len(dets) else dets.score[cols])
        return 1.0 - sim

    def _first_association(
        self,
        iou: np.ndarray,
        dets: Detections,
        high: np.ndarray,
        emb: np.ndarray | None,
        matches: MatchBatch,
        tentative: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracked and lost tracks vs high detections; returns unmatched rows and detections."""
        # Tracked or lost: removed rows are dropped at the end of every frame, so "not tentative".
        num_tracks = iou.shape[0]
        if tentative.size == 0:
            pool = np.arange(num_tracks)
        else:
            pool = (self._table.state != _TENTATIVE).nonzero()[0]
        a = linear_assignment(self._first_cost(pool, high, iou, dets, emb), self.match_thresh)
        num_dets = iou.shape[1]
        matches.add(_compose(pool, a.rows, num_tracks), _compose(high, a.cols, num_dets), True)
        return _compose(pool, a.unmatched_rows, num_tracks), _compose(
            high, a.unmatched_cols, num_dets
        )

    def _second_association(
        self, iou: np.ndarray, left: np.ndarray, low: np.ndarray, matches: MatchBatch
    ) -> None:
        """Still-tracked unmatched tracks vs low detections by IoU; the rest become lost."""
        t = self._table
        rows = left[t.state[left] == _TRACKED]
        if rows.size == 0:
            return
        if low.size == 0:
            self._mark_lost(rows)
            return
        a = linear_assignment(1.0 - _submatrix(iou, rows, low), self.second_match_thresh)
        matches.add(rows[a.rows], low[a.cols], False)
        self._mark_lost(rows[a.unmatched_rows])

    def _mark_lost(self, rows: np.ndarray) -> None:
        """Tracked tracks that found no detection become lost, or removed if they had expired.

        An expired track (one that outlived ``max_time_lost`` and was found again in its grace
        frame) is removed on its next miss, as in the reference, whose removed-track list keeps
        its id.
        """
        t = self._table
        t.state[rows] = _LOST
        if self._expired_ids and rows.size:
            ids = t.track_id[rows].tolist()
            expired = [r for r, i in zip(rows.tolist(), ids, strict=True) if i in self._expired_ids]
            t.state[expired] = _REMOVED

    def _unconfirmed_association(
        self,
        iou: np.ndarray,
        dets: Detections,
        left_high: np.ndarray,
        emb: np.ndarray | None,
        matches: MatchBatch,
        tentative: np.ndarray,
    ) -> np.ndarray:
        """Tentative tracks vs the high detections left over; unmatched tentatives are removed."""
        t = self._table
        rows = tentative
        if rows.size == 0:
            return left_high
        if left_high.size == 0:
            t.state[rows] = _REMOVED
            return left_high
        cost = self._first_cost(rows, left_high, iou, dets, emb)
        a = linear_assignment(cost, self.unconfirmed_match_thresh)
        matches.add(rows[a.rows], left_high[a.cols], True)
        if a.rows.size:
            matches.confirming = rows[a.rows]
        t.state[rows[a.unmatched_rows]] = _REMOVED
        return left_high[a.unmatched_cols]

    def _apply_matches(
        self, dets: Detections, meas: np.ndarray, emb: np.ndarray | None, matches: MatchBatch
    ) -> None:
        """One batched Kalman update for every match of the frame; matched tracks become tracked.

        Args:
            meas: (N, 4) the frame's detections in the filter's measurement format.
        """
        if not matches.rows:
            return
        t = self._table
        rows = np.concatenate(matches.rows) if len(matches.rows) > 1 else matches.rows[0]
        cols = np.concatenate(matches.dets) if len(matches.dets) > 1 else matches.dets[0]
        t.mean[rows], t.cov[rows] = self.kf.update(t.mean[rows], t.cov[rows], meas[cols])
        t.ints[rows[:, None], _MATCH_COLUMNS] = (_TRACKED, 0, self.frame_id)
        t.score[rows] = dets.score[cols]
        if emb is not None:
            self._update_embeddings(emb, matches)
        if matches.confirming is not None:
            self._confirm(matches.confirming)

    def _update_embeddings(self, emb: np.ndarray, matches: MatchBatch) -> None:
        """Appearance state update of matched tracks (none in ByteTrack)."""

    def _spawn(
        self, dets: Detections, meas: np.ndarray, emb: np.ndarray | None, left_high: np.ndarray
    ) -> None:
        """New tracks from confident unmatched detections; tentative except in the first frame.

        Args:
            meas: (N, 4) the frame's detections in the filter's measurement format.
        """
        keep = left_high[dets.score[left_high] >= self.new_track_thresh]
        if keep.size == 0:
            return
        first = self.frame_id == 1
        new = self._new_rows(
            dets.select(keep),
            TrackState.TRACKED if first else TrackState.TENTATIVE,
            None if emb is None else emb[keep],
            measurement=meas[keep],
        )
        start = len(self._table)
        self._table.extend(new)
        if first:
            self._confirm(np.arange(start, len(self._table)))

    def _age_out(self) -> None:
        """Lost tracks unseen for more than ``max_time_lost + lost_grace_frames`` are removed.

        Tracks past ``max_time_lost`` but within the grace frames stay lost (matchable, and part
        of the duplicate check) and are remembered as expired.
        """
        t = self._table
        last = t.last_frame
        # When even the row seen longest ago is recent enough, no lost track has expired. Only
        # lost rows can be that old (the others were matched this frame or born a frame ago), so
        # this skips the masks below in all but the frames where a track actually expires.
        if last.size == 0 or self.frame_id - min(last.tolist()) <= self.max_time_lost:
            return
        unseen = self.frame_id - last
        expired = (t.state == _LOST) & (unseen > self.max_time_lost)
        if not expired.any():
            return
        if self.lost_grace_frames:
            self._expired_ids.update(t.track_id[expired].tolist())
        t.state[expired & (unseen > self.max_time_lost + self.lost_grace_frames)] = _REMOVED

    def _remove_duplicates(self, boxes: np.ndarray) -> None:
        """A tracked and a lost track covering the same object: keep the one tracked for longer.

        Args:
            boxes: (T, 4) current xyxy boxes of all tracks.
        """
        t = self._table
        state = t.state
        lost = (state == _LOST).nonzero()[0]
        if lost.size == 0:
            return
        active = (state <= _TRACKED).nonzero()[0]  # TENTATIVE (0) or TRACKED (1)
        if active.size == 0:
            return
        close = iou_xyxy(boxes[active], boxes[lost]) > 1.0 - self.duplicate_iou_dist
        pa, pl = close.nonzero()
        if pa.size == 0:
            return
        age = t.last_frame - t.start_frame
        a_rows, l_rows = active[pa], lost[pl]
        lost_younger = age[a_rows] > age[l_rows]
        state[l_rows[lost_younger]] = _REMOVED
        state[a_rows[~lost_younger]] = _REMOVED


def _compose(outer: np.ndarray, inner: np.ndarray, size: int) -> np.ndarray:
    """``outer[inner]`` where ``outer`` is an ascending subset of ``range(size)``.

    When ``outer`` holds every index it is the identity and the lookup is skipped.
    """
    return inner if outer.size == size else outer[inner]


def _submatrix(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``matrix[rows][:, cols]`` for ascending index arrays, skipping an index that takes all."""
    if rows.size != matrix.shape[0]:
        matrix = matrix[rows]
    return matrix if cols.size == matrix.shape[1] else matrix[:, cols]
