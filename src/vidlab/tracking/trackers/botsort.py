"""BoT-SORT: ByteTrack with camera-motion compensation, a width-aware Kalman state and Re-ID.

Aharon et al., "BoT-SORT: Robust Associations Multi-Pedestrian Tracking", 2022,
https://arxiv.org/abs/2206.14651. Defaults are the paper's MOT17 settings: high/low/new thresholds
0.6/0.1/0.7, match gate 0.8, 30-frame buffer; Re-ID (optional, off by default as in the paper's
BoT-SORT without "-ReID") only lowers the cost of pairs closer than ``1 - IoU = 0.5`` (proximity)
whose halved cosine distance is at most 0.25 (appearance), and track embeddings are an
exponential moving average with momentum 0.9.

Camera motion is a strategy object (:mod:`vidlab.tracking.gmc`) returning a 2x3 affine per frame;
it moves every track's Kalman state into the new frame's coordinates before association.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vidlab.tracking.association import cosine_distance
from vidlab.tracking.encoders import AppearanceEncoder, l2_normalize
from vidlab.tracking.gmc import (
    IDENTITY,
    CameraMotion,
    FileMotion,
    NoMotion,
    create_camera_motion,
    warp_states,
)
from vidlab.tracking.kalman import DecoupledKalmanFilter, KalmanFilter, XYWHKalmanFilter
from vidlab.tracking.trackers.base import TrackTable
from vidlab.tracking.trackers.bytetrack import REFERENCE_FRAME_RATE, ByteTrack, MatchBatch
from vidlab.tracking.types import Detections

log = logging.getLogger(__name__)

#: Cost given to pairs the appearance term may not help (same as "no match").
_NO_APPEARANCE = 1.0
#: BoT-SORT halves the cosine distance so that it lives in [0, 1] like ``1 - IoU``.
_COSINE_SCALE = 0.5


@dataclass
class BotTrackTable(TrackTable):
    """The track table plus BoT-SORT's appearance.

    Attributes:
        embedding: (T, D) moving-average embeddings (D = 0 without Re-ID).
    """

    embedding: np.ndarray

    @classmethod
    def empty(
        cls, state_dim: int, cov_shape: tuple[int, ...] | None = None, **extra: np.ndarray
    ) -> BotTrackTable:
        empty_emb = np.zeros((0, 0), np.float32)
        return super().empty(state_dim, cov_shape, embedding=empty_emb, **extra)


class BotSort(ByteTrack):
    """BoT-SORT with every threshold a named argument.

    Args:
        track_thresh: detections scoring at least this are "high" (first association).
        low_thresh: lower score bound of the second (low-score) association.
        new_track_thresh: unmatched high detections at least this confident start tracks.
        match_thresh: first-stage gate on the fused cost.
        second_match_thresh: second-stage gate on ``1 - IoU``.
        unconfirmed_match_thresh: gate for one-frame-old tentative tracks.
        track_buffer: frames a lost track is kept, at 30 fps.
        frame_rate: the sequence's frame rate; scales ``track_buffer``.
        fuse_score: multiply IoU similarity by detection score.
        duplicate_iou_dist: tracked/lost pairs closer than this ``1 - IoU`` are duplicates.
        with_reid: use appearance in the first and unconfirmed associations.
        proximity_thresh: appearance is only considered for pairs with ``1 - IoU`` at most this.
        appearance_thresh: halved cosine distances above this are ignored.
        embedding_momentum: weight of the old track embedding in its moving average.
        cmc: camera-motion strategy, or its name (``none``, ``sparse_flow``, ``ecc``; ``file``
            needs an instance with a path).
        kalman: motion model (default: BoT-SORT's ``x, y, w, h`` filter; decoupled when ``cmc``
            is none).
        encoder: appearance encoder used on the frame when detections carry no embeddings
            (injected by the config, e.g. a trained Re-ID model through
            :func:`vidlab.tracking.encoders.load_encoder`).
    """

    name = "botsort"
    lost_velocity_dims = slice(6, 8)

    def __init__(
        self,
        *,
        track_thresh: float = 0.6,
        low_thresh: float = 0.1,
        new_track_thresh: float = 0.7,
        match_thresh: float = 0.8,
        second_match_thresh: float = 0.5,
        unconfirmed_match_thresh: float = 0.7,
        track_buffer: int = 30,
        frame_rate: float = REFERENCE_FRAME_RATE,
        fuse_score: bool = True,
        duplicate_iou_dist: float = 0.15,
        with_reid: bool = False,
        proximity_thresh: float = 0.5,
        appearance_thresh: float = 0.25,
        embedding_momentum: float = 0.9,
        cmc: CameraMotion | str | None = "sparse_flow",
        kalman: KalmanFilter | None = None,
        encoder: AppearanceEncoder | None = None,
    ) -> None:
        if cmc is None:
            cmc = NoMotion()
        cmc = create_camera_motion(cmc) if isinstance(cmc, str) else cmc
        if kalman is None:  # a camera warp couples x and y: only a static camera can decouple
            static = isinstance(cmc, NoMotion)
            kalman = DecoupledKalmanFilter(XYWHKalmanFilter()) if static else XYWHKalmanFilter()
        super().__init__(
            track_thresh=track_thresh,
            low_thresh=low_thresh,
            new_track_thresh=new_track_thresh,
            match_thresh=match_thresh,
            second_match_thresh=second_match_thresh,
            unconfirmed_match_thresh=unconfirmed_match_thresh,
            track_buffer=track_buffer,
            frame_rate=frame_rate,
            fuse_score=fuse_score,
            duplicate_iou_dist=duplicate_iou_dist,
            kalman=kalman,
            encoder=encoder,
        )
        self.with_reid = self.uses_appearance = with_reid
        if encoder is not None and not with_reid:
            log.warning(
                "BoT-SORT: an appearance encoder is given but with_reid is false, so appearance "
                "is not used; set tracker.with_reid=true"
            )
        self.proximity_thresh, self.appearance_thresh = proximity_thresh, appearance_thresh
        self.embedding_momentum = embedding_momentum
        self.cmc: CameraMotion = cmc
        self._warned_no_frame = False

    def reset(self) -> None:
        super().reset()
        self.cmc.reset()

    def _empty_table(self) -> BotTrackTable:
        return BotTrackTable.empty(self.kf.state_dim, self.kf.cov_shape)

    def _extra_columns(
        self, dets: Detections, embedding: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        if embedding is None:
            return dict(embedding=np.zeros((len(dets), 0), np.float32))
        return dict(embedding=embedding.astype(np.float32))

    # ------------------------------------------------------------------ hooks into ByteTrack
    def _embeddings_for(
        self, dets: Detections, high: np.ndarray, frame: np.ndarray | None
    ) -> np.ndarray | None:
        """Embeddings of all detections (given ones), or the encoder's for the high ones."""
        if not self.with_reid or len(dets) == 0:
            return None
        if dets.embedding is not None:
            return dets.embedding
        if high.size == 0:
            return None
        emb = self._embeddings(dets.select(high), frame)
        full = np.zeros((len(dets), emb.shape[1]), np.float32)
        full[high] = emb
        return full

    def _compensate_motion(self, frame: np.ndarray | None) -> None:
        """Warp every track's state by the camera motion since the previous frame."""
        image_based = not isinstance(self.cmc, NoMotion | FileMotion)
        if frame is None and image_based and not self._warned_no_frame:
            log.warning(
                "botsort: no frames given, camera-motion compensation (%s) is off",
                type(self.cmc).__name__,
            )
            self._warned_no_frame = True
        affine = self.cmc.estimate(frame, self.frame_id)
        t = self._table
        if len(t) and not np.array_equal(affine, IDENTITY):
            t.mean, t.cov = warp_states(t.mean, t.cov, affine)

    def _first_cost(
        self,
        rows: np.ndarray,
        cols: np.ndarray,
        iou: np.ndarray,
        dets: Detections,
        emb: np.ndarray | None,
    ) -> np.ndarray:
        """Fused IoU cost, lowered by appearance where the pair is close and looks alike."""
        cost = super()._first_cost(rows, cols, iou, dets, emb)
        if emb is None or rows.size == 0 or cols.size == 0:
            return cost
        app = cosine_distance(self._table.embedding[rows], emb[cols]) * _COSINE_SCALE
        far = 1.0 - iou[rows][:, cols] > self.proximity_thresh
        app[(app > self.appearance_thresh) | far] = _NO_APPEARANCE
        return np.minimum(cost, app)

    def _update_embeddings(self, emb: np.ndarray, matches: MatchBatch) -> None:
        """Moving average of the matched detections' embeddings (stages that carry them)."""
        t, m = self._table, self.embedding_momentum
        stages = zip(matches.rows, matches.dets, matches.with_embedding, strict=True)
        for rows, cols, use in stages:
            if use:
                t.embedding[rows] = l2_normalize(m * t.embedding[rows] + (1 - m) * emb[cols])
