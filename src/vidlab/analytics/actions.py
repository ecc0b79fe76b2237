"""Actions on tracklets: a video classifier over each confirmed track's tube, smoothed per track,
emitting ``action`` events (label ``fall``, ``run``, ...) with start and end.

For every track the analyzer keeps a ring of its last ``T`` crops, ``frame_stride`` of the track's
frames apart, each cut with `vidlab.data.tubes.crop_tube` (the same square crop with a context
margin that the training tubes of ``data=synthetic_tracklet_actions`` were cut with). Every
``every`` frames of a track whose ring is full, its tube goes to the classifier, batched with the
other tracks due on that frame. A track's label is the arg-max of its last ``smooth`` probability
vectors averaged (when that mean reaches ``min_prob``; else none), and an action starts or ends only
after ``confirm`` consecutive classifications agree (hysteresis). An action of a label in
``labels`` becomes one event when it ends (the label changes, the track is forgotten, or the
stream closes): ``t_start`` is the middle of the first tube that voted for it, ``t_end`` the last
crop of the last tube that did, ``confidence`` the mean probability of the label over its tubes.
Actions shorter than ``min_duration_s`` (``t_end - t_start``) are dropped: a burst of a few tubes
(an occlusion, two people crossing) is not a fall or a run.

Memory is bounded: ``max_tracks`` rings per stream (`vidlab.analytics.state.TrackSlots`: rows of
tracks unseen for ``forget_after_s`` are freed, and the longest-unseen track's row is recycled when
all are taken), each of ``T`` crops of ``size x size`` RGB.

The classifier is a `TubeClassifier`: an export bundle of the classifier family
(`TubeClassifier.from_bundle`, any runtime) or a training checkpoint
(`TubeClassifier.from_checkpoint`), whose card / meta give the tube's frames, stride, crop size,
normalisation, class names and margin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidlab.analytics.state import TrackSlots
from vidlab.data.tubes import DEFAULT_MARGIN, crop_tube
from vidlab.errors import UserError
from vidlab.pipeline.types import Event, Frame, FrameResult, Tracks

log = logging.getLogger(__name__)

_NONE = -1  # no emitted action


@dataclass(frozen=True)
class TubeClassifier:
    """Scores track tubes: (N, T, size, size, 3) uint8 RGB -> (N, K) class probabilities.

    Attributes:
        predict: normalised float32 clips (N, 3, T, size, size) -> (N, K) logits.
        class_names: the K labels.
        num_frames, frame_stride, size: the tube (T crops, `frame_stride` frames apart).
        mean, std: per-channel normalisation in 0..1 units.
        margin: the crop's context margin.
        source: where it came from (messages).
    """

    predict: Callable[[np.ndarray], np.ndarray]
    class_names: tuple[str, ...]
    num_frames: int
    frame_stride: int
    size: int
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    margin: float = DEFAULT_MARGIN
    source: str = "classifier"

    def __call__(self, tubes: np.ndarray) -> np.ndarray:
        mean = np.asarray(self.mean, np.float32).reshape(1, 3, 1, 1, 1) * 255.0
        std = np.asarray(self.std, np.float32).reshape(1, 3, 1, 1, 1) * 255.0
        clips = (tubes.transpose(0, 4, 1, 2, 3).astype(np.float32) - mean) / std  # (N, 3, T, H, W)
        logits = np.asarray(self.predict(np.ascontiguousarray(clips)), np.float64)
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    @classmethod
    def from_bundle(cls, path: str | Path, threads: int | None = None) -> TubeClassifier:
        """A classifier export bundle (``python export.py``), files checked against its card."""
        from vidlab.export.inference import load_classifier_bundle

        card, predict = load_classifier_bundle(path, threads)
        data = ((card.get("provenance") or {}).get("config") or {}).get("data") or {}
        frame_stride = int(card["sampling"]["frame_stride"])
        return cls._from_input(
            predict, card["class_names"], card["input"], frame_stride, data, path
        )

    @classmethod
    def from_checkpoint(cls, path: str | Path, threads: int | None = None) -> TubeClassifier:
        """A classifier training checkpoint (eager PyTorch)."""
        import torch

        from vidlab.checkpoint import CLASSIFIER, load_network
        from vidlab.export.runtime import torch_predictor

        if threads:
            torch.set_num_threads(threads)
        net, meta = load_network(path, family=CLASSIFIER)
        spec = meta["input"]
        data = (meta.get("config") or {}).get("data") or {}
        frame_stride = int(spec.get("frame_stride", 1))
        predict = torch_predictor(net.eval())
        return cls._from_input(predict, meta["class_names"], spec, frame_stride, data, path)

    @classmethod
    def _from_input(
        cls,
        predict: Callable,
        class_names: list[str],
        spec: dict,
        frame_stride: int,
        data: dict,
        path: str | Path,
    ) -> TubeClassifier:
        """From a card's or a checkpoint's ``input`` section (the same fields in both) and the
        training data config (its crop ``margin``)."""
        return cls(
            predict=predict,
            class_names=tuple(class_names),
            num_frames=int(spec["num_frames"]),
            frame_stride=frame_stride,
            size=int(spec["crop_size"]),
            mean=tuple(float(v) for v in spec["mean"]),
            std=tuple(float(v) for v in spec["std"]),
            margin=float(data.get("margin", DEFAULT_MARGIN)),
            source=str(path),
        )

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None) -> TubeClassifier:
        """A bundle folder (holds ``card.json``) or a ``.ckpt`` file."""
        path = Path(path)
        if path.is_dir():
            return cls.from_bundle(path, threads)
        if path.is_file():
            return cls.from_checkpoint(path, threads)
        raise UserError(
            f"analytics.actions: {path} does not exist; expected an export bundle folder (with "
            "card.json) or a classifier checkpoint (.ckpt)"
        )


@dataclass
class _Stream:
    """Per-stream state: track rows, their rings and their action state machines."""

    camera: str
    slots: TrackSlots
    rings: np.ndarray  # (R, T, S, S, 3) uint8
    ring_pts: np.ndarray  # (R, T) stream seconds of each crop
    ring_index: np.ndarray  # (R, T) frame index of each crop
    seen: np.ndarray  # (R,) frames of the track seen
    taken: np.ndarray  # (R,) crops taken
    history: np.ndarray  # (R, smooth, K) last probability vectors
    votes: np.ndarray  # (R,) probability vectors in history
    current: np.ndarray  # (R,) emitted label index or _NONE
    candidate: np.ndarray  # (R,) label index waiting for confirmation
    run: np.ndarray  # (R,) consecutive classifications of the candidate
    cand_start: np.ndarray  # (R, 2) pts, index where the candidate's first tube is centred
    start: np.ndarray  # (R, 2) pts, index of the open action's start
    last: np.ndarray  # (R, 2) pts, index of the open action's last supporting tube end
    conf: np.ndarray  # (R, 2) sum of the label's probability, number of tubes
    pending: list[Event] = field(default_factory=list)


class ActionAnalyzer:
    """The analyze stage's tracklet action analytic (see the module docstring).

    Args:
        classifier: a `TubeClassifier` (injected), or None with `bundle`.
        bundle: an export bundle folder or checkpoint file (`TubeClassifier.load`).
        labels: the class names that become events (others, e.g. ``walk``, ``stand``, are "no
            action"); None: every class but ``walk`` and ``stand``.
        every: a track's frames between classifications (a multiple of the tube's frame stride).
        smooth: probability vectors averaged per track.
        confirm: consecutive agreeing classifications that start or end an action.
        min_prob: smallest mean probability of a label to count.
        min_duration_s: actions shorter than this (end minus start, stream seconds) are dropped.
        max_tracks: tracks remembered per stream.
        forget_after_s: a track unseen this long is forgotten (its open action is emitted).
        threads: CPU threads of the classifier's runtime.
    """

    needs_images = True
    BACKGROUND = ("walk", "stand")

    def __init__(
        self,
        *,
        classifier: TubeClassifier | None = None,
        bundle: str | Path | None = None,
        labels: Sequence[str] | None = None,
        every: int = 4,
        smooth: int = 3,
        confirm: int = 4,
        min_prob: float = 0.5,
        min_duration_s: float = 0.0,
        max_tracks: int = 64,
        forget_after_s: float = 2.0,
        threads: int | None = None,
    ) -> None:
        if (classifier is None) == (bundle is None):
            raise UserError("analytics.actions: give either `bundle` (a path) or `classifier`")
        self.classifier = classifier or TubeClassifier.load(bundle, threads)
        names = self.classifier.class_names
        wanted = [n for n in names if n not in self.BACKGROUND] if labels is None else list(labels)
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise UserError(
                f"analytics.actions.labels: {unknown} are not classes of "
                f"{self.classifier.source}; expected some of {list(names)}"
            )
        stride = self.classifier.frame_stride
        if every < 1 or every % stride:
            raise UserError(
                f"analytics.actions.every={every}: expected a positive multiple of the tube's "
                f"frame stride {stride} ({self.classifier.source})"
            )
        if smooth < 1 or confirm < 1 or not 0 <= min_prob <= 1 or max_tracks < 1:
            raise UserError(
                f"analytics.actions: need smooth >= 1, confirm >= 1, 0 <= min_prob <= 1 and "
                f"max_tracks >= 1, got {smooth}, {confirm}, {min_prob}, {max_tracks}"
            )
        self.emit = np.array([n in wanted for n in names])
        self.every, self.smooth, self.confirm = int(every), int(smooth), int(confirm)
        self.min_prob, self.min_duration_s = float(min_prob), float(min_duration_s)
        self.max_tracks, self.forget_after_s = int(max_tracks), float(forget_after_s)
        self.streams: dict[str, _Stream] = {}
        self.classified = 0  # tubes scored
        self.dropped = 0  # actions shorter than min_duration_s

    # ----------------------------------------------------------------------------- state

    def _stream(self, stream_id: str) -> _Stream:
        found = self.streams.get(stream_id)
        if found is None:
            c, r = self.classifier, self.max_tracks
            k = len(c.class_names)
            found = self.streams[stream_id] = _Stream(
                camera=stream_id,
                slots=TrackSlots(r, self.forget_after_s),
                rings=np.zeros((r, c.num_frames, c.size, c.size, 3), np.uint8),
                ring_pts=np.zeros((r, c.num_frames)),
                ring_index=np.zeros((r, c.num_frames), np.int64),
                seen=np.zeros(r, np.int64),
                taken=np.zeros(r, np.int64),
                history=np.zeros((r, self.smooth, k)),
                votes=np.zeros(r, np.int64),
                current=np.full(r, _NONE),
                candidate=np.full(r, _NONE),
                run=np.zeros(r, np.int64),
                cand_start=np.zeros((r, 2)),
                start=np.zeros((r, 2)),
                last=np.zeros((r, 2)),
                conf=np.zeros((r, 2)),
            )
        return found

    def _reset(self, s: _Stream, rows: np.ndarray) -> None:
        s.seen[rows] = s.taken[rows] = s.votes[rows] = s.run[rows] = 0
        s.current[rows] = s.candidate[rows] = _NONE
        s.conf[rows] = 0.0

    def _close(self, s: _Stream, camera: str, rows: np.ndarray, track_ids: np.ndarray) -> None:
        """Emit the open actions of `rows` (track ids as given) and clear them."""
        for row, tid in zip(rows.tolist(), track_ids.tolist(), strict=True):
            label = int(s.current[row])
            if label == _NONE:
                continue
            total, n = s.conf[row]
            s.current[row] = _NONE
            s.conf[row] = 0.0
            if s.last[row, 0] - s.start[row, 0] < self.min_duration_s:
                self.dropped += 1
                continue
            s.pending.append(
                Event(
                    type="action",
                    camera=camera,
                    track_id=int(tid),
                    item="",
                    t_start=float(s.start[row, 0]),
                    t_end=float(s.last[row, 0]),
                    frame_start=int(s.start[row, 1]),
                    frame_end=int(s.last[row, 1]),
                    confidence=float(total / max(n, 1)),
                    label=self.classifier.class_names[label],
                    extra={"tubes": int(n)},
                )
            )

    # ----------------------------------------------------------------------------- update

    def update(self, result: FrameResult) -> list[Event]:
        frame = result.frame
        tracks = result.tracks if result.tracks is not None else Tracks.empty()
        s = self._stream(frame.stream_id)
        expired_ids = s.slots.track_id.copy()
        expired = s.slots.expire(frame.pts)
        if len(expired):
            self._close(s, frame.stream_id, expired, expired_ids[expired])
            self._reset(s, expired)
        if len(tracks):
            before = s.slots.track_id.copy()
            rows, new = s.slots.lookup(tracks.track_id, frame.pts)
            if new.any():  # a recycled row may still hold another track's open action
                fresh = rows[new]
                self._close(s, frame.stream_id, fresh, before[fresh])
                self._reset(s, fresh)
            self._step(s, frame, tracks, rows)
        out, s.pending = s.pending, []
        return out

    def _step(self, s: _Stream, frame: Frame, tracks: Tracks, rows: np.ndarray) -> None:
        c = self.classifier
        s.seen[rows] += 1
        take = np.flatnonzero((s.seen[rows] - 1) % c.frame_stride == 0)
        if not len(take):
            return
        if frame.image is None:
            raise UserError(
                f"analytics.actions: stream {frame.stream_id!r} frame {frame.index} has no image; "
                "the action analytic crops the frames (the runtime keeps them for analyzers with "
                "needs_images)"
            )
        sx, sy = frame.scale
        boxes = tracks.xyxy[take] / np.array([sx, sy, sx, sy])
        for box, row in zip(boxes, rows[take].tolist(), strict=True):
            pos = s.taken[row] % c.num_frames
            s.rings[row, pos] = crop_tube(frame.image, box, c.size, c.margin)
            s.ring_pts[row, pos], s.ring_index[row, pos] = frame.pts, frame.index
            s.taken[row] += 1
        taken_rows = rows[take]
        per = self.every // c.frame_stride
        due = taken_rows[
            (s.taken[taken_rows] >= c.num_frames)
            & ((s.taken[taken_rows] - c.num_frames) % per == 0)
        ]
        if len(due):
            self._classify(s, due)

    def _classify(self, s: _Stream, rows: np.ndarray) -> None:
        c = self.classifier
        t = c.num_frames
        # oldest crop first: the ring's next write position is its oldest entry
        order = (s.taken[rows, None] + np.arange(t)[None]) % t  # (N, T)
        tubes = s.rings[rows[:, None], order]  # (N, T, S, S, 3)
        probs = c(tubes)
        self.classified += len(rows)
        pts = s.ring_pts[rows[:, None], order]
        index = s.ring_index[rows[:, None], order]
        for i, row in enumerate(rows.tolist()):
            s.history[row, s.votes[row] % self.smooth] = probs[i]
            s.votes[row] += 1
            mean = s.history[row, : min(s.votes[row], self.smooth)].mean(0)
            best = int(mean.argmax())
            label = best if self.emit[best] and mean[best] >= self.min_prob else _NONE
            self._vote(s, row, label, mean, (pts[i, t // 2], index[i, t // 2]),
                       (pts[i, -1], index[i, -1]))  # fmt: skip

    def _vote(self, s: _Stream, row: int, label: int, mean, middle, end) -> None:
        """One smoothed classification of a track: the hysteresis state machine."""
        if label == s.current[row]:
            s.run[row] = 0
            s.candidate[row] = _NONE
            if label != _NONE:
                s.last[row] = end
                s.conf[row] += (mean[label], 1)
            return
        if label == s.candidate[row]:
            s.run[row] += 1
        else:
            s.candidate[row], s.run[row] = label, 1
            s.cand_start[row] = middle
        if s.run[row] < self.confirm:
            return
        self._close(s, s.camera, np.array([row]), s.slots.track_id[[row]])
        s.current[row], s.run[row], s.candidate[row] = label, 0, _NONE
        if label != _NONE:
            s.start[row] = s.cand_start[row]
            s.last[row] = end
            s.conf[row] = (mean[label] * self.confirm, self.confirm)

    def close(self) -> list[Event]:
        """End of the streams: every open action is emitted."""
        out: list[Event] = []
        for s in self.streams.values():
            rows = np.flatnonzero(s.current != _NONE)
            self._close(s, s.camera, rows, s.slots.track_id[rows])
            out += s.pending
            s.pending = []
        return out
