"""Whole-frame embeddings for keyframe selection: a trained model's features, or colour histograms.

A `FrameEmbedder` maps a list of (H, W, 3) uint8 RGB frames to (N, D) float32 rows of unit L2 norm.
`build_embedder` picks one from what the user names (``embedder=`` of ``task=summarize``):

- nothing: `HistogramEmbedder`, HSV colour histograms of the frame's upper and lower halves
  (`vidlab.tracking.encoders.ColorHistogramEncoder` on the whole frame), no weights;
- a Re-ID model (an embedding-family bundle folder, ``.onnx`` or ``.ckpt``): its embedding of the
  whole frame, resized to its input (`vidlab.tracking.encoders.load_encoder`), which is the
  network's pre-logit feature;
- a classifier ``.ckpt``: the pre-logit features (``forward_head(..., pre_logits=True)``) of a
  clip made of the frame repeated over the model's ``num_frames``;
- a classifier bundle folder: its logits for the same clip (bundles export the logits only, not
  the pre-logit features: export a Re-ID model or pass the ``.ckpt`` for those).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from vidlab.errors import UserError
from vidlab.tracking.encoders import ColorHistogramEncoder, l2_normalize, load_encoder

log = logging.getLogger(__name__)


class FrameEmbedder(Protocol):
    """Anything that embeds whole frames."""

    name: str

    def embed(self, frames_rgb: list[np.ndarray]) -> np.ndarray:
        """(N, D) float32 unit-norm embeddings of N (H, W, 3) uint8 RGB frames."""
        ...


def _full_box(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return np.array([[0, 0, w, h]], np.float32)


class HistogramEmbedder:
    """Colour histograms of whole frames (no weights)."""

    name = "histogram"

    def __init__(self) -> None:
        self._encoder = ColorHistogramEncoder()

    def embed(self, frames_rgb: list[np.ndarray]) -> np.ndarray:
        rows = [
            self._encoder.encode(cv2.cvtColor(f, cv2.COLOR_RGB2BGR), _full_box(f))
            for f in frames_rgb
        ]
        return np.concatenate(rows) if rows else np.zeros((0, self._encoder.dim), np.float32)


class CropEncoderEmbedder:
    """A Re-ID appearance encoder (`vidlab.tracking.encoders`) applied to the whole frame."""

    def __init__(self, encoder: Any, name: str) -> None:
        self._encoder, self.name = encoder, name

    def embed(self, frames_rgb: list[np.ndarray]) -> np.ndarray:
        rows = [
            self._encoder.encode(cv2.cvtColor(f, cv2.COLOR_RGB2BGR), _full_box(f))
            for f in frames_rgb
        ]
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)


class ClassifierEmbedder:
    """Features of a clip classifier for single frames (the frame repeated over the clip).

    Args:
        predict: (N, 3, T, S, S) float32 normalised clips -> (N, D) features.
        num_frames: T; crop_size: S; short_side: resize target before the centre crop;
        mean, std: per-channel RGB statistics in [0, 1] units; name: for the report.
    """

    def __init__(
        self,
        predict: Any,
        *,
        num_frames: int,
        crop_size: int,
        short_side: int,
        mean: list[float],
        std: list[float],
        name: str,
    ) -> None:
        self._predict = predict
        self.num_frames, self.crop_size, self.short_side = num_frames, crop_size, short_side
        self._mean = np.asarray(mean, np.float32)[:, None, None, None]
        self._std = np.asarray(std, np.float32)[:, None, None, None]
        self.name = name

    def _clip(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        scale = self.short_side / min(h, w)
        resized = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))))
        rh, rw = resized.shape[:2]
        top, left = (rh - self.crop_size) // 2, (rw - self.crop_size) // 2
        crop = resized[top : top + self.crop_size, left : left + self.crop_size]
        chw = crop.transpose(2, 0, 1).astype(np.float32)[:, None] / 255.0  # (3, 1, S, S)
        return (np.repeat(chw, self.num_frames, axis=1) - self._mean) / self._std  # (3, T, S, S)

    def embed(self, frames_rgb: list[np.ndarray]) -> np.ndarray:
        if not frames_rgb:
            return np.zeros((0, 0), np.float32)
        clips = np.stack([self._clip(f) for f in frames_rgb])  # (N, 3, T, S, S)
        return l2_normalize(self._predict(clips).reshape(len(frames_rgb), -1))


def _classifier_spec(spec: dict[str, Any], source: str) -> dict[str, Any]:
    try:
        return {
            "num_frames": int(spec["num_frames"]),
            "crop_size": int(spec["crop_size"]),
            "short_side": int(spec.get("short_side") or spec["crop_size"]),
            "mean": [float(m) for m in spec["mean"]],
            "std": [float(s) for s in spec["std"]],
        }
    except KeyError as err:
        raise UserError(f"{source}: the classifier's input spec lacks {err}") from err


def _classifier_checkpoint(path: Path, ckpt: dict[str, Any]) -> ClassifierEmbedder:
    import torch

    from vidlab.checkpoint import CLASSIFIER, network_from_checkpoint

    net, meta = network_from_checkpoint(ckpt, path, CLASSIFIER)

    def predict(clips: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(clips))
            return net.forward_head(net.forward_features(x), pre_logits=True).float().numpy()

    spec = _classifier_spec(meta["input"], str(path))
    return ClassifierEmbedder(predict, **spec, name=f"classifier pre-logits {path.name}")


def build_embedder(spec: str | None, *, batch_size: int = 32) -> FrameEmbedder:
    """The embedder `spec` names (see the module docstring); None or ``histogram``: histograms.

    Raises:
        FileNotFoundError: `spec` is neither ``histogram`` nor an existing file or folder.
        UserError: a model of a family that gives no frame features (detectors).
    """
    if spec in (None, "", "histogram"):
        return HistogramEmbedder()
    path = Path(str(spec))
    if not path.exists():
        raise FileNotFoundError(
            f"embedder={spec}: no such bundle folder or model file (or 'histogram')"
        )
    if path.is_dir():
        from vidlab.export.bundle import read_card

        card = read_card(path)
        family = str(card.get("family", "classifier"))
        if family == "classifier":
            from vidlab.export.bundle import require_single_input
            from vidlab.export.runtime import load_bundle

            require_single_input(card, path / "card.json", "the classifier embedder")
            bundle = load_bundle(path)
            spec_ = _classifier_spec(card["input"], str(path / "card.json"))
            return ClassifierEmbedder(bundle.predict, **spec_, name=f"classifier logits {path}")
        if family != "embedding":
            raise UserError(f"embedder={path}: a {family} bundle; expected a classifier or Re-ID")
        return CropEncoderEmbedder(load_encoder(path, batch_size=batch_size), f"re-id {path}")
    if path.suffix == ".ckpt":
        from vidlab.checkpoint import CLASSIFIER, META_KEY, family_of, load_checkpoint

        ckpt = load_checkpoint(path)
        if family_of(ckpt[META_KEY]) == CLASSIFIER:
            return _classifier_checkpoint(path, ckpt)
    return CropEncoderEmbedder(load_encoder(path, batch_size=batch_size), f"re-id {path.name}")
