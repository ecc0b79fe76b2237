"""Deployable bundles: ``<run dir>/bundles/<format>/`` holds the model file(s) and ``card.json``.

The card is everything needed to serve the model without vidlab's training code: the input
specification and preprocessing, the labels, how windows are sampled from a video, and where the
model came from (checkpoint hash, resolved training config, training metrics).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidlab.errors import UserError
from vidlab.utils.runinfo import file_sha256, package_versions, write_json

log = logging.getLogger(__name__)

CARD_NAME = "card.json"
CARD_VERSION = 1


@dataclass(frozen=True)
class InputSpec:
    """What the network expects: (B, 3, num_frames, crop, crop) normalised RGB clips.

    Attributes:
        num_frames: frames per clip.
        frame_stride: source frames between two sampled frames.
        crop_size: clip height and width, pixels.
        short_side: the frame's short side is resized to this before the centre crop, pixels.
        mean / std: per-channel normalisation in 0..1 intensity units.
    """

    num_frames: int
    frame_stride: int
    crop_size: int
    short_side: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> InputSpec:
        """From a checkpoint's vidlab meta (``input`` and the data config's eval short side)."""
        spec = meta["input"]
        data_cfg = meta.get("config", {}).get("data", {})
        crop = int(spec["crop_size"])
        return cls(num_frames=int(spec["num_frames"]), frame_stride=int(spec["frame_stride"]),
                   crop_size=crop, short_side=int(data_cfg.get("eval_short_side") or crop),
                   mean=tuple(spec["mean"]), std=tuple(spec["std"]))


def training_metrics(ckpt_path: Path) -> dict[str, Any] | None:
    """The ``metrics.json`` of the run that wrote `ckpt_path` (``<run>/checkpoints/x.ckpt``)."""
    for folder in (ckpt_path.parent, ckpt_path.parent.parent):
        candidate = folder / "metrics.json"
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return None


def make_card(*, fmt: str, runtime: str, files: list[Path], meta: dict[str, Any],
              ckpt_path: Path, window_stride: int | None, parity: dict[str, Any],
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The card of one bundle (plain JSON types).

    Args:
        fmt: format name; runtime: how to load it (see `vidlab.export.runtime.RUNTIMES`).
        files: model files in the bundle folder; the first is the one to load.
        meta: the checkpoint's vidlab meta; ckpt_path: the checkpoint.
        window_stride: source frames between the starts of two sliding windows (None: windows
            follow each other without overlap).
        parity: the parity result (`ParityResult.as_dict`).
        extra: format-specific details (quantization options, opset, ...).
    """
    spec = InputSpec.from_meta(meta)
    span = spec.num_frames * spec.frame_stride
    return {
        "card_version": CARD_VERSION,
        "format": fmt,
        "runtime": runtime,
        "file": files[0].name,
        "files": [f.name for f in files],
        "input": {
            "name": "video", "dtype": "float32", "layout": "NCTHW",
            "shape": ["batch", 3, spec.num_frames, spec.crop_size, spec.crop_size],
            "num_frames": spec.num_frames, "frame_stride": spec.frame_stride,
            "crop_size": spec.crop_size, "short_side": spec.short_side,
            "mean": list(spec.mean), "std": list(spec.std),
            "value_range": "RGB in [0, 1] before normalisation",
        },
        "preprocessing": [
            "decode RGB frames (uint8, H x W x 3)",
            f"resize so the short side is {spec.short_side} px (bilinear, antialiased)",
            f"centre crop {spec.crop_size} x {spec.crop_size}",
            "scale to [0, 1], subtract mean, divide by std (per channel)",
            "stack to (3, T, H, W) and batch",
        ],
        "output": {"name": "logits", "shape": ["batch", len(meta["class_names"])],
                   "postprocessing": "softmax over classes"},
        "class_names": list(meta["class_names"]),
        "sampling": {"num_frames": spec.num_frames, "frame_stride": spec.frame_stride,
                     "window_stride": int(window_stride or span),
                     "aggregation": "mean of per-window softmax probabilities"},
        "provenance": {
            "source_checkpoint": {"path": str(ckpt_path), "sha256": file_sha256(ckpt_path)},
            "config": meta.get("config"),
            "training_metrics": training_metrics(ckpt_path),
            "exported_with": package_versions(),
        },
        "parity": parity,
        **({"details": extra} if extra else {}),
    }


def write_card(bundle_dir: Path, card: dict[str, Any]) -> Path:
    """Write `card` as ``<bundle_dir>/card.json``."""
    return write_json(bundle_dir / CARD_NAME, card)


def read_card(bundle_dir: str | Path) -> dict[str, Any]:
    """The card of a bundle folder.

    Raises:
        FileNotFoundError: no card.json in `bundle_dir`.
        UserError: card.json is not a JSON object (the message names the file, line and column).
    """
    path = Path(bundle_dir) / CARD_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{bundle_dir} is not an export bundle: {CARD_NAME} is missing")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f"{path}:{err.lineno}:{err.colno}" if hasattr(err, "lineno") else str(path)
        raise UserError(
            f"{where}: not valid JSON ({getattr(err, 'msg', err)}); expected the {CARD_NAME} "
            f"that export.py writes"
        ) from None
    if not isinstance(card, dict):
        raise UserError(f"{path}: a JSON {type(card).__name__}, expected an object (the card)")
    return card
