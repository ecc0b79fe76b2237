"""Detectors of the detect stage: a batch of frames (any streams) -> boxes in source pixels.

Each maps ``list[Frame]`` to one (N, 5) float array per frame (x1, y1, x2, y2 in the *source's*
pixels, score) and says what it needs from the decoder (`DecodeTarget`): a bundle wants frames
shrunk to fit its network input, HOG a reduced size, replay and the oracle no pixels at all.

- `BundleDetector`: any `vidlab.detection.FrameDetector` (detector bundles, ultralytics ONNX).
- `ReplayDetector`: MOTChallenge ``det.txt`` rows (a file, or the rows a source carries).
- `OracleDetector`: the ground truth a synthetic or annotated source carries.
- `HogDetector`: OpenCV's HOG + linear SVM people detector (weights inside OpenCV).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlab.errors import UserError
from vidlab.pipeline.sources import DecodeTarget
from vidlab.pipeline.types import Frame

_NONE = np.zeros((0, 5), np.float32)


def _to_source_pixels(frame: Frame, dets: np.ndarray) -> np.ndarray:
    """Scale (N, 5) boxes from the decoded image's pixels to the source's."""
    sx, sy = frame.scale
    if (sx, sy) == (1.0, 1.0) or not len(dets):
        return dets
    out = dets.copy()
    out[:, [0, 2]] *= sx
    out[:, [1, 3]] *= sy
    return out


class BundleDetector:
    """A `vidlab.detection.FrameDetector`; frames are decoded to fit its input size."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        h, w = detector.image_size
        self.target = DecodeTarget(need_image=True, max_size=(int(w), int(h)))

    @classmethod
    def load(cls, path: str | Path, **options: Any) -> BundleDetector:
        from vidlab.detection import load_detector

        return cls(load_detector(Path(path), **options))

    def __call__(self, frames: Sequence[Frame]) -> list[np.ndarray]:
        out = self.detector.detect([f.image for f in frames])
        return [_to_source_pixels(f, d) for f, d in zip(frames, out, strict=True)]


class ReplayDetector:
    """Detections read back: ``det.txt`` (frame ``index + 1`` of the stream) or, without a file,
    the rows the source carries (`AnnotatedFrame.replay`).

    Args:
        det_file: MOTChallenge detection file (None: the source's own rows).
        score_thresh: drop rows scoring below this (None: keep all).
    """

    target = DecodeTarget(need_image=False)

    def __init__(self, det_file: str | Path | None = None, score_thresh: float | None = None):
        self.score_thresh = score_thresh
        self.rows: dict[int, np.ndarray] | None = None
        if det_file is not None:
            from vidlab.evaluation.mot.io import read_mot_txt

            table = read_mot_txt(Path(det_file), kind="det")
            xyxy = table.tlwh.copy()
            xyxy[:, 2:] += xyxy[:, :2]
            rows = np.column_stack([xyxy, table.score]).astype(np.float32)
            frames, starts = np.unique(table.frame, return_index=True)
            ends = np.append(starts[1:], len(rows))
            self.rows = {
                int(f) - 1: rows[a:b] for f, a, b in zip(frames, starts, ends, strict=True)
            }

    def _one(self, frame: Frame) -> np.ndarray:
        if self.rows is not None:
            dets = self.rows.get(frame.index, _NONE)
        else:
            dets = getattr(frame, "replay", None)
            if dets is None:
                raise UserError(
                    f"detector=replay: stream {frame.stream_id!r} carries no detections; give a "
                    "MOTChallenge file with detect.det_file=<det.txt>"
                )
        if self.score_thresh is not None and len(dets):
            dets = dets[dets[:, 4] >= self.score_thresh]
        return dets

    def __call__(self, frames: Sequence[Frame]) -> list[np.ndarray]:
        return [self._one(f) for f in frames]


class OracleDetector:
    """The ground-truth boxes the source carries (synthetic scenes, MOTChallenge gt), score 1."""

    target = DecodeTarget(need_image=False)

    def __call__(self, frames: Sequence[Frame]) -> list[np.ndarray]:
        out = []
        for f in frames:
            truth = getattr(f, "truth", None)
            if truth is None:
                raise UserError(
                    f"detector=oracle: stream {f.stream_id!r} has no ground truth; use "
                    "source=synthetic or a MOTChallenge folder with gt/gt.txt"
                )
            out.append(truth)
        return out


class HogDetector:
    """OpenCV's HOG people detector (Dalal & Triggs 2005, OpenCV's default people SVM).

    Args:
        width: frames are decoded to fit this width (and 9/16 of it in height) for speed.
        hit_threshold: SVM margin a window must exceed.
        win_stride: window step in pixels.
        scale: image pyramid factor.
    """

    def __init__(
        self,
        *,
        width: int = 480,
        hit_threshold: float = 0.0,
        win_stride: int = 8,
        scale: float = 1.05,
    ) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.target = DecodeTarget(need_image=True, max_size=(int(width), int(width * 9 / 16)))
        self.hit_threshold = hit_threshold
        self.win_stride = (win_stride, win_stride)
        self.scale = scale

    def __call__(self, frames: Sequence[Frame]) -> list[np.ndarray]:
        out = []
        for f in frames:
            rects, weights = self.hog.detectMultiScale(
                f.image,
                hitThreshold=self.hit_threshold,
                winStride=self.win_stride,
                scale=self.scale,
            )
            if len(rects) == 0:
                out.append(_NONE)
                continue
            rects = np.asarray(rects, np.float32).reshape(-1, 4)
            score = np.asarray(weights, np.float32).reshape(-1)
            dets = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:], score])
            # SVM margins are unbounded: squash to (0, 1) so tracker thresholds apply
            dets[:, 4] = 1.0 / (1.0 + np.exp(-dets[:, 4]))
            out.append(_to_source_pixels(f, dets))
        return out


def build_detector(name: str, options: dict[str, Any]) -> Any:
    """The detector a plain ``detector=`` value names (``hog``, ``oracle``, ``replay`` or a bundle
    folder / ONNX file), with the ``detect.*`` options that apply to it."""
    text = str(name).strip()
    if text == "oracle":
        return OracleDetector()
    if text == "replay":
        return ReplayDetector(options.get("det_file"), options.get("score_thresh"))
    if text == "hog":
        return HogDetector(**dict(options.get("hog") or {}))
    path = Path(text).expanduser()
    if not path.exists():
        raise UserError(
            f"detector={text!r}: not hog, oracle, replay, or an existing bundle folder / .onnx file"
        )
    return BundleDetector.load(
        path,
        score_thresh=options.get("score_thresh"),
        batch_size=int(options.get("batch_size") or 8),
        threads=options.get("threads"),
    )
