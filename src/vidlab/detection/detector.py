"""Detectors behind one interface: (H, W, 3) uint8 RGB frames -> (N, 5) xyxy + score per frame.

Every detector letterboxes frames to its network's fixed input size, runs the network on batches,
post-processes, and maps the boxes back to each frame's own pixels (`FrameDetector.detect`):

- `Detector`: a vidlab detector bundle (``python export.py`` on a detector checkpoint; any of its
  formats), post-processed with the bundle's `vidlab.export.detector.PostProcess`; letterbox
  padded right and bottom, as the model was trained and evaluated.
- `YoloOnnxDetector`: an ONNX file exported by ultralytics (YOLOv8 / YOLO11: output (B, 4 + C, N),
  rows cx, cy, w, h in input pixels then class scores); centred letterbox, confidence threshold on
  the best class, class-offset NMS and ``max_det``, as ultralytics' own ``predict`` does.
- `TorchvisionDetector`: a torchvision detection model (FCOS, RetinaNet, Faster R-CNN, SSD) with
  optional local weights, run eagerly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidlab.errors import UserError

log = logging.getLogger(__name__)

#: Letterbox pad colour (RGB) of vidlab's detection data and of ultralytics.
PAD_VALUE = 114
_NO_BOXES = np.zeros((0, 4), np.float32)
#: ultralytics' class offset for class-wise NMS in one call (largest image side it expects).
YOLO_MAX_WH = 7680


def check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The frames as a list, each checked to be an (H, W, 3) uint8 RGB array.

    Raises:
        UserError: not a list of frames, or a frame of another shape or dtype (named by index).
    """
    if isinstance(frames, np.ndarray):
        raise UserError(
            f"detect() takes a list of (H, W, 3) uint8 frames, got one array of shape "
            f"{frames.shape}; pass [frame] or list(frames)"
        )
    out = []
    for i, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray):
            raise UserError(
                f"frame {i}: expected an (H, W, 3) uint8 RGB numpy array, got "
                f"{type(frame).__name__}"
            )
        if frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 1:
            raise UserError(
                f"frame {i}: expected an (H, W, 3) uint8 RGB array, got shape {frame.shape}"
            )
        if frame.dtype != np.uint8:
            raise UserError(f"frame {i}: expected dtype uint8 (0-255 RGB), got {frame.dtype}")
        out.append(frame)
    return out


class FrameDetector:
    """Letterbox, run in batches, un-letterbox. Subclasses set the input size and `_run`.

    Attributes:
        image_size: (H, W) of the network input.
        batch_size: frames per network call.
        centred: letterbox pads both sides equally (ultralytics) instead of right and bottom.
        min_side: boxes narrower or lower than this (px, in the frame, after clipping) are
            dropped: a box clipped away at the border is no detection (and would give trackers
            a zero height).
    """

    image_size: tuple[int, int]
    batch_size: int = 8
    centred: bool = False
    pad_value: int = PAD_VALUE
    min_side: float = 1.0

    def _run(self, images: np.ndarray) -> list[np.ndarray]:
        """(B, 3, H, W) float32 RGB in [0, 1] -> per image (N, 5) xyxy + score, input pixels."""
        raise NotImplementedError

    def letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float]]:
        """(H, W, 3) uint8 frame -> (3, h, w) float32 input, the scale and the (x, y) offset:
        original = (input - offset) / scale."""
        import cv2

        out_h, out_w = self.image_size
        h, w = frame.shape[:2]
        scale = min(out_h / h, out_w / w)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        if self.centred:  # ultralytics' LetterBox(auto=False, center=True)
            interp = cv2.INTER_LINEAR
            left, top = round((out_w - new_w) / 2 - 0.1), round((out_h - new_h) / 2 - 0.1)
        else:  # vidlab.data.detection.transforms.letterbox
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            left = top = 0
        canvas = np.full((out_h, out_w, 3), self.pad_value, np.uint8)
        resized = (
            frame
            if (new_w, new_h) == (w, h)
            else cv2.resize(frame, (new_w, new_h), interpolation=interp)
        )
        canvas[top : top + new_h, left : left + new_w] = resized
        image = canvas.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
        return image, scale, (float(left), float(top))

    def detect(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per frame, (N, 5) float32: x1, y1, x2, y2 in the frame's pixels (clipped to it) and
        the score, best first (boxes under `min_side` px dropped).

        Raises:
            UserError: a frame that is not an (H, W, 3) uint8 array.
        """
        frames = check_frames(frames)
        results = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start : start + self.batch_size]
            boxed = [self.letterbox(f) for f in chunk]
            batch = np.stack([b[0] for b in boxed])  # (B, 3, H, W)
            for frame, (_, scale, (dx, dy)), dets in zip(
                chunk, boxed, self._run(batch), strict=True
            ):
                dets = np.array(dets, np.float32).reshape(-1, 5)
                h, w = frame.shape[:2]
                sx = sy = scale
                if self.centred:  # ultralytics maps back with each side's own rounded size
                    sx, sy = max(1, round(w * scale)) / w, max(1, round(h * scale)) / h
                dets[:, [0, 2]] = np.clip((dets[:, [0, 2]] - dx) / sx, 0, w)
                dets[:, [1, 3]] = np.clip((dets[:, [1, 3]] - dy) / sy, 0, h)
                sides = np.minimum(dets[:, 2] - dets[:, 0], dets[:, 3] - dets[:, 1])
                results.append(dets[sides >= self.min_side])
        return results


class Detector(FrameDetector):
    """A vidlab detector bundle (see the module docstring).

    Args:
        bundle_dir: ``<export run>/bundles/<format>/`` of a detector checkpoint.
        threads: CPU threads of the runtime (None: its default).
        score_thresh: keep boxes scoring at least this (None: the bundle's own threshold).
        batch_size: frames per network call.
        verify: check the model files against the card's SHA-256.

    Raises:
        UserError: the bundle is not a detector's.
    """

    def __init__(
        self,
        bundle_dir: str | Path,
        *,
        threads: int | None = None,
        score_thresh: float | None = None,
        batch_size: int = 8,
        verify: bool = True,
    ) -> None:
        from vidlab.export.detector import PostProcess
        from vidlab.export.runtime import load_bundle

        self.bundle = load_bundle(bundle_dir, threads, verify=verify)
        card = self.bundle.card
        if self.bundle.family != "detector" or "postprocessing" not in card:
            raise UserError(
                f"{bundle_dir}: a {self.bundle.family} bundle, not a detector's; "
                "export a detector checkpoint (python export.py ckpt_path=...)"
            )
        self.post = PostProcess.from_card(card["postprocessing"])
        self.person_label = int(card["postprocessing"].get("person_label", 1))
        self.image_size = tuple(int(v) for v in card["input"]["image_size"])
        self.pad_value = int(card["input"].get("pad_value", PAD_VALUE))
        self.score_thresh = None if score_thresh is None else float(score_thresh)
        self.batch_size = int(batch_size)

    def _run(self, images: np.ndarray) -> list[np.ndarray]:
        results = []
        for raw in self.bundle.predict(images):
            boxes, scores, labels = self.post(raw)
            keep = labels == self.person_label
            if self.score_thresh is not None:
                keep &= scores >= self.score_thresh
            results.append(np.column_stack([boxes[keep], scores[keep]]))
        return results


# ------------------------------------------------------------------------------------- YOLO


def decode_yolo(
    output: np.ndarray,
    *,
    conf_thresh: float = 0.25,
    iou_thresh: float = 0.7,
    classes: Sequence[int] | None = (0,),
    max_det: int = 300,
    max_nms: int = 30000,
) -> np.ndarray:
    """One image's ultralytics output (4 + C, N) -> (M, 6) x1, y1, x2, y2, score, class, best
    first, in input pixels: ultralytics' ``non_max_suppression`` (best class per box, score >
    `conf_thresh`, class filter, at most `max_nms` candidates, class-offset NMS, `max_det`)."""
    from torchvision.ops import nms

    out = torch.as_tensor(np.asarray(output, np.float32))
    if out.ndim != 2 or out.shape[0] < 5:
        raise UserError(f"YOLO output of shape {tuple(out.shape)}: expected (4 + classes, boxes)")
    pred = out.T  # (N, 4 + C)
    conf, cls = pred[:, 4:].max(1)
    keep = conf > conf_thresh
    xywh, conf, cls = pred[keep, :4], conf[keep], cls[keep]
    if classes is not None:
        wanted = torch.isin(cls, torch.as_tensor(list(classes)))
        xywh, conf, cls = xywh[wanted], conf[wanted], cls[wanted]
    if len(conf) > max_nms:
        top = conf.argsort(descending=True)[:max_nms]
        xywh, conf, cls = xywh[top], conf[top], cls[top]
    xyxy = torch.cat([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
    kept = nms(xyxy + cls[:, None].float() * YOLO_MAX_WH, conf, iou_thresh)[:max_det]
    return torch.cat([xyxy[kept], conf[kept, None], cls[kept, None].float()], 1).numpy()


class YoloOnnxDetector(FrameDetector):
    """An ultralytics YOLOv8 / YOLO11 ONNX export (see the module docstring).

    Args:
        path: the ``.onnx`` file (``yolo export format=onnx``; NMS not baked in).
        image_size: (H, W) input; None: the file's static input shape.
        conf_thresh / iou_thresh / max_det: ultralytics' ``predict`` settings (its defaults).
        classes: class indices kept (COCO person: 0); None: all.
        threads: ONNX Runtime intra-op threads.
        batch_size: frames per call (1 for a file exported with a fixed batch of 1).
    """

    centred = True

    def __init__(
        self,
        path: str | Path,
        *,
        image_size: Sequence[int] | None = None,
        conf_thresh: float = 0.25,
        iou_thresh: float = 0.7,
        classes: Sequence[int] | None = (0,),
        max_det: int = 300,
        threads: int | None = None,
        batch_size: int = 1,
    ) -> None:
        from vidlab.export.runtime import onnx_session

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"YOLO ONNX file not found: {path}")
        self.session = onnx_session(path, threads)
        shape = self.session.get_inputs()[0].shape
        if image_size is None:
            if not all(isinstance(s, int) for s in shape[2:]):
                raise UserError(f"{path}: the input size is dynamic ({shape}); pass image_size")
            image_size = shape[2:]
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.conf_thresh, self.iou_thresh, self.max_det = conf_thresh, iou_thresh, max_det
        self.classes = None if classes is None else [int(c) for c in classes]
        self.batch_size = int(batch_size)
        self.input_name = self.session.get_inputs()[0].name

    def _run(self, images: np.ndarray) -> list[np.ndarray]:
        outputs = self.session.run(None, {self.input_name: images})[0]  # (B, 4 + C, N)
        return [
            decode_yolo(
                out,
                conf_thresh=self.conf_thresh,
                iou_thresh=self.iou_thresh,
                classes=self.classes,
                max_det=self.max_det,
            )[:, :5]
            for out in outputs
        ]


# -------------------------------------------------------------------------------- torchvision


class TorchvisionDetector(FrameDetector):
    """A torchvision detection model run eagerly (see the module docstring).

    Args:
        model: a torchvision detection model (e.g. `vidlab.models.detection.create_fcos`).
        image_size: (H, W) frames are letterboxed to.
        weights: a local torchvision checkpoint file (class layers remapped to `keep_classes`,
            `vidlab.models.detection.load_detection_weights`); None: the model as given.
        keep_classes: the checkpoint's classes the model keeps (background, person).
        person_label: the model's label of a person.
        score_thresh: keep boxes scoring at least this (None: the model's own threshold).
    """

    def __init__(
        self,
        model: nn.Module,
        image_size: Sequence[int],
        *,
        weights: str | Path | None = None,
        keep_classes: Sequence[int] = (0, 1),
        person_label: int = 1,
        score_thresh: float | None = None,
        batch_size: int = 8,
    ) -> None:
        if weights is not None:
            from vidlab.models.detection import load_detection_weights

            load_detection_weights(model, weights, keep_classes)
        self.model = model.eval()
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.person_label, self.score_thresh = int(person_label), score_thresh
        self.batch_size = int(batch_size)

    def _run(self, images: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            outputs = self.model(list(torch.from_numpy(images)))
        results = []
        for out in outputs:
            keep = out["labels"] == self.person_label
            if self.score_thresh is not None:
                keep &= out["scores"] >= self.score_thresh
            results.append(torch.cat([out["boxes"][keep], out["scores"][keep, None]], 1).numpy())
        return results


def load_detector(path: str | Path, **options: Any) -> FrameDetector:
    """A detector for `path`: a vidlab bundle folder (`Detector`) or an ultralytics ``.onnx``
    file (`YoloOnnxDetector`); `options` go to its constructor.

    Raises:
        FileNotFoundError: nothing at `path`.
        UserError: neither a bundle folder nor an ``.onnx`` file.
    """
    path = Path(path)
    if path.is_dir():
        if (
            not (path / "card.json").is_file()
            and (path / "bundles" / "onnx" / "card.json").is_file()
        ):
            path = path / "bundles" / "onnx"  # an export run directory: its ONNX bundle
        return Detector(path, **options)
    if path.is_file() and path.suffix == ".onnx":
        score = options.pop("score_thresh", None)
        if score is not None:
            options["conf_thresh"] = float(score)
        return YoloOnnxDetector(path, **options)
    if not path.exists():
        raise FileNotFoundError(f"detector not found: {path}")
    raise UserError(
        f"{path}: not a detector: expected a bundle folder (with card.json, written "
        "by python export.py) or an ultralytics .onnx file"
    )
