"""Appearance encoders: one interface for Re-ID embeddings of detection crops, plus a disk cache.

An encoder maps a BGR frame and ``(N, 4)`` xyxy boxes to ``(N, D)`` float32 L2-normalised
embeddings. Four implementations:

- :class:`TorchEncoder`: any ``torch.nn.Module`` (e.g. a trained Re-ID model), crops resized to
  ``input_size`` and normalised with ``mean``/``std``;
- :class:`OnnxEncoder`: the same for an ONNX file, run by onnxruntime;
- :class:`BundleEncoder`: an export bundle of the embedding family, any runtime
  (`vidlab.export.runtime.load_bundle`);
- :class:`ColorHistogramEncoder`: a deterministic, weight-free baseline (HSV histograms of the upper
  and lower halves of the crop), good enough for the synthetic sequences whose sprites have
  identity-specific colours.

:func:`load_encoder` builds one from a trained vidlab Re-ID model (an export bundle, an exported
``.onnx`` or a training ``.ckpt``); trackers never load weights themselves: the config builds the
encoder and injects it (``tracker/encoder=reid tracker.encoder.path=<bundle>``).

:class:`EmbeddingCache` stores the embeddings of a whole sequence's detections on disk, keyed by the
encoder's :attr:`~AppearanceEncoder.fingerprint` and the sequence, so re-running trackers is cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: ImageNet statistics in RGB order, in [0, 1] units (the usual Re-ID preprocessing).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: (height, width) of the usual person Re-ID input.
REID_INPUT_SIZE = (256, 128)
_NORM_EPS = 1e-12
_UINT8_MAX = 255.0


@runtime_checkable
class AppearanceEncoder(Protocol):
    """Anything that embeds detection crops."""

    @property
    def fingerprint(self) -> str:
        """A short hash identifying the weights and preprocessing (cache key)."""
        ...

    def encode(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Embed crops.

        Args:
            frame_bgr: (H, W, 3) uint8 image in BGR order.
            boxes_xyxy: (N, 4) boxes in pixels; parts outside the image are clipped away.

        Returns:
            (N, D) float32 embeddings with unit L2 norm.
        """
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _NORM_EPS)


def crop_batch(
    frame_bgr: np.ndarray,
    boxes_xyxy: np.ndarray,
    input_size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
) -> np.ndarray:
    """Cut, resize and normalise crops for a network.

    Args:
        frame_bgr: (H, W, 3) uint8 BGR image.
        boxes_xyxy: (N, 4) boxes in pixels.
        input_size: (height, width) of the network input in pixels.
        mean: per-channel RGB mean in [0, 1] units.
        std: per-channel RGB std in [0, 1] units.

    Returns:
        (N, 3, height, width) float32 RGB batch.
    """
    _check_frame(frame_bgr)
    out_h, out_w = input_size
    batch = np.zeros((len(boxes_xyxy), 3, out_h, out_w), np.float32)
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    for i, crop in enumerate(_crops(frame_bgr, boxes_xyxy)):
        rgb = cv2.cvtColor(cv2.resize(crop, (out_w, out_h)), cv2.COLOR_BGR2RGB)
        batch[i] = (rgb.transpose(2, 0, 1).astype(np.float32) / _UINT8_MAX - m) / s
    return batch


class TorchEncoder:
    """Embeddings from a PyTorch module mapping ``(B, 3, H, W)`` to ``(B, D)``.

    Args:
        module: the network (put in eval mode; run without gradients).
        input_size: (height, width) of its input in pixels.
        mean: RGB mean in [0, 1] units.
        std: RGB std in [0, 1] units.
        batch_size: crops per forward pass.
        device: torch device string.
    """

    def __init__(
        self,
        module: Any,
        *,
        input_size: tuple[int, int] = REID_INPUT_SIZE,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        batch_size: int = 64,
        device: str = "cpu",
    ) -> None:
        import torch  # heavy: only when a torch encoder is actually built

        self._torch = torch
        self.module = module.eval().to(device)
        self.input_size, self.mean, self.std = tuple(input_size), tuple(mean), tuple(std)
        self.batch_size, self.device = batch_size, device
        digest = hashlib.sha1(repr((self.input_size, self.mean, self.std)).encode())
        for key, tensor in sorted(self.module.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
        self._fingerprint = "torch-" + digest.hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        batch = crop_batch(frame_bgr, boxes_xyxy, self.input_size, self.mean, self.std)
        outs = []
        with self._torch.inference_mode():
            for start in range(0, len(batch), self.batch_size):
                x = self._torch.from_numpy(batch[start : start + self.batch_size]).to(self.device)
                outs.append(self.module(x).float().cpu().numpy())
        return _finish(outs, len(batch))


class OnnxEncoder:
    """Embeddings from an ONNX model with one ``(B, 3, H, W)`` input and a ``(B, D)`` output.

    Args:
        path: the ``.onnx`` file.
        input_size: (height, width) of its input in pixels.
        mean: RGB mean in [0, 1] units.
        std: RGB std in [0, 1] units.
        batch_size: crops per run (the model must accept this batch size, or a dynamic one).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        input_size: tuple[int, int] = REID_INPUT_SIZE,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        batch_size: int = 64,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"OnnxEncoder: no ONNX file at {self.path}")
        self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        self._input_name = self.session.get_inputs()[0].name
        self.input_size, self.mean, self.std = tuple(input_size), tuple(mean), tuple(std)
        self.batch_size = batch_size
        digest = hashlib.sha1(self.path.read_bytes())
        digest.update(repr((self.input_size, self.mean, self.std)).encode())
        self._fingerprint = "onnx-" + digest.hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        batch = crop_batch(frame_bgr, boxes_xyxy, self.input_size, self.mean, self.std)
        outs = [
            self.session.run(None, {self._input_name: batch[s : s + self.batch_size]})[0]
            for s in range(0, len(batch), self.batch_size)
        ]
        return _finish(outs, len(batch))


class BundleEncoder:
    """Embeddings from an export bundle of the embedding family (any format and runtime).

    The bundle is loaded through `vidlab.export.runtime.load_bundle` (its files checked against
    the card's SHA-256) and its card gives the input size, mean and std.

    Args:
        bundle_dir: a ``bundles/<format>/`` folder written by ``python export.py``.
        batch_size: crops per call.
        threads: CPU threads of the runtime (None: its default).
    """

    def __init__(
        self, bundle_dir: str | Path, *, batch_size: int = 64, threads: int | None = None
    ) -> None:
        from vidlab.export.runtime import load_bundle

        self.bundle = load_bundle(bundle_dir, threads)
        if self.bundle.family != "embedding":
            raise ValueError(
                f"{bundle_dir}: bundle of a {self.bundle.family} model; an appearance "
                "encoder needs an embedding (Re-ID) bundle"
            )
        spec = _preprocessing(self.bundle.card["input"], str(Path(bundle_dir) / "card.json"))
        self.input_size, self.mean, self.std = spec["input_size"], spec["mean"], spec["std"]
        self.batch_size = batch_size
        self._fingerprint = "bundle-" + self.bundle.fingerprint

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        batch = crop_batch(frame_bgr, boxes_xyxy, self.input_size, self.mean, self.std)
        outs = [
            self.bundle.predict(batch[s : s + self.batch_size])
            for s in range(0, len(batch), self.batch_size)
        ]
        return _finish(outs, len(batch))


def load_encoder(
    path: str | Path, *, batch_size: int = 64, device: str = "cpu"
) -> BundleEncoder | TorchEncoder | OnnxEncoder:
    """An appearance encoder for a trained vidlab Re-ID model; input size, mean and std come with
    the model. Configs inject it into the trackers::

        encoder: {_target_: vidlab.tracking.encoders.load_encoder, path: <bundle dir>}

    Args:
        path: an export bundle folder (``<export run>/bundles/onnx``: the preferred form, its files
            verified against the card), a bare ``.onnx`` written by ``export.py`` (preprocessing
            from its ``vidlab.input`` metadata, else from ``card.json`` beside it) or a training
            ``.ckpt`` (preprocessing from the checkpoint's meta).
        batch_size: crops per forward pass.
        device: torch device (``.ckpt`` only).
    """
    path = Path(path)
    if path.is_dir():
        return BundleEncoder(path, batch_size=batch_size)
    if not path.is_file():
        raise FileNotFoundError(f"Re-ID encoder: no bundle folder or model file at {path}")
    if path.suffix == ".onnx":
        spec = _onnx_input_spec(path)
        return OnnxEncoder(path, batch_size=batch_size, **spec)
    if path.suffix == ".ckpt":
        from vidlab.checkpoint import EMBEDDING, load_network

        net, meta = load_network(path, family=EMBEDDING)
        return TorchEncoder(
            net, batch_size=batch_size, device=device, **_preprocessing(meta["input"], str(path))
        )
    raise ValueError(f"Re-ID encoder {path}: expected a bundle folder, a .onnx or a .ckpt file")


def _preprocessing(spec: dict[str, Any], source: str) -> dict[str, Any]:
    """``input_size``, ``mean`` and ``std`` keyword arguments from an input spec dict."""
    missing = {"image_size", "mean", "std"} - set(spec)
    if missing:
        raise ValueError(f"{source}: input spec lacks {sorted(missing)}; found {sorted(spec)}")
    height, width = (int(v) for v in spec["image_size"])
    return {
        "input_size": (height, width),
        "mean": tuple(float(m) for m in spec["mean"]),
        "std": tuple(float(s) for s in spec["std"]),
    }


def _onnx_input_spec(path: Path) -> dict[str, Any]:
    from vidlab.export.onnx import read_onnx_metadata

    meta = read_onnx_metadata(path)
    if "input" in meta:
        return _preprocessing(meta["input"], f"{path} metadata")
    card = path.with_name("card.json")
    if card.is_file():
        return _preprocessing(json.loads(card.read_text())["input"], str(card))
    raise ValueError(
        f"{path} has no vidlab.input metadata and no card.json beside it: its input size, mean "
        "and std are unknown"
    )


class ColorHistogramEncoder:
    """Weight-free appearance: HSV colour histograms of the upper and lower half of each crop.

    Args:
        hue_bins: hue histogram bins per half.
        sat_bins: saturation histogram bins per half.
        val_bins: value histogram bins per half.
    """

    def __init__(self, *, hue_bins: int = 16, sat_bins: int = 4, val_bins: int = 4) -> None:
        self.bins = (hue_bins, sat_bins, val_bins)
        self._fingerprint = f"hsvhist-{hue_bins}x{sat_bins}x{val_bins}"

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def dim(self) -> int:
        """Embedding size: two halves, one joint H-S histogram plus a V histogram each."""
        h, s, v = self.bins
        return 2 * (h * s + v)

    def encode(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        _check_frame(frame_bgr)
        out = np.zeros((len(boxes_xyxy), self.dim), np.float32)
        h, s, v = self.bins
        for i, crop in enumerate(_crops(frame_bgr, boxes_xyxy)):
            hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
            parts = []
            for half in (hsv[: max(1, hsv.shape[0] // 2)], hsv[hsv.shape[0] // 2 :]):
                parts.append(cv2.calcHist([half], [0, 1], None, [h, s], [0, 180, 0, 256]).ravel())
                parts.append(cv2.calcHist([half], [2], None, [v], [0, 256]).ravel())
            out[i] = np.sqrt(np.concatenate(parts))  # Hellinger-style: tempers dominant bins
        return l2_normalize(out)


class EmbeddingCache:
    """Per-sequence embeddings on disk: ``<root>/<encoder fingerprint>/<sequence>.npz``.

    The file holds the embeddings of every detection row of a sequence and a hash of the boxes
    they were computed for; a different detection set (or encoder) misses the cache.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, encoder: AppearanceEncoder, sequence: str) -> Path:
        return self.root / encoder.fingerprint / f"{sequence}.npz"

    def load(
        self, encoder: AppearanceEncoder, sequence: str, frames: np.ndarray, boxes: np.ndarray
    ) -> np.ndarray | None:
        """Cached (N, D) embeddings for these (N,) frame numbers and (N, 4) boxes, or None."""
        path = self.path(encoder, sequence)
        if not path.is_file():
            return None
        with np.load(path) as data:
            if str(data["key"]) != _rows_key(frames, boxes):
                log.info("embedding cache %s is for other detections; recomputing", path)
                return None
            return data["embedding"]

    def save(
        self,
        encoder: AppearanceEncoder,
        sequence: str,
        frames: np.ndarray,
        boxes: np.ndarray,
        embedding: np.ndarray,
    ) -> Path:
        """Store (N, D) embeddings of the rows given by (N,) frames and (N, 4) boxes."""
        path = self.path(encoder, sequence)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp, key=np.array(_rows_key(frames, boxes)), embedding=embedding.astype(np.float32)
        )
        tmp.replace(path)
        return path


def _rows_key(frames: np.ndarray, boxes: np.ndarray) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(frames, np.int64).tobytes())
    digest.update(np.ascontiguousarray(boxes, np.float64).tobytes())
    return digest.hexdigest()


def _check_frame(frame: np.ndarray) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got {frame.shape} {frame.dtype}")


def _crops(frame: np.ndarray, boxes_xyxy: np.ndarray):
    """Yield the (h, w, 3) crop of each box, clipped to the image (at least 1x1 pixel)."""
    h, w = frame.shape[:2]
    for x1, y1, x2, y2 in np.asarray(boxes_xyxy, np.float64):
        xa = int(np.clip(np.floor(x1), 0, w - 1))
        ya = int(np.clip(np.floor(y1), 0, h - 1))
        xb = int(np.clip(np.ceil(x2), xa + 1, w))
        yb = int(np.clip(np.ceil(y2), ya + 1, h))
        yield frame[ya:yb, xa:xb]


def _finish(outs: list[np.ndarray], n: int) -> np.ndarray:
    if not outs:
        return np.zeros((n, 0), np.float32)
    emb = np.concatenate(outs).reshape(n, -1)
    return l2_normalize(emb)
