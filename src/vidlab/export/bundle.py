"""Deployable bundles: ``<run dir>/bundles/<format>/`` holds the model file(s) and ``card.json``.

The card is everything needed to serve the model without vidlab's training code: its family, the
input specification and preprocessing, the outputs, the labels, how a classifier's windows are
sampled from a video, the SHA-256 of every model file, and where the model came from (checkpoint
hash, resolved training config, training metrics). Every family writes the same schema
(`make_card`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidlab.errors import UserError
from vidlab.utils.runinfo import file_sha256, package_versions, write_json

if TYPE_CHECKING:
    from vidlab.export.families import Family

log = logging.getLogger(__name__)

CARD_NAME = "card.json"
CARD_VERSION = 2
#: Keys every card has, whatever the family (``family`` is absent from version-1 classifier cards).
REQUIRED_KEYS = ("format", "runtime", "file", "input", "output")


class BundleError(UserError):
    """An export bundle that cannot be served (bad card, changed model file)."""


def training_metrics(ckpt_path: Path) -> dict[str, Any] | None:
    """The ``metrics.json`` of the run that wrote `ckpt_path` (``<run>/checkpoints/x.ckpt``)."""
    for folder in (ckpt_path.parent, ckpt_path.parent.parent):
        candidate = folder / "metrics.json"
        if candidate.is_file():
            return json.loads(candidate.read_text())
    return None


def make_card(
    *,
    family: Family,
    fmt: str,
    runtime: str,
    files: list[Path],
    meta: dict[str, Any],
    ckpt_path: Path,
    options: dict[str, Any],
    parity: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card of one bundle (plain JSON types); the same schema for every family.

    Keys: ``card_version``, ``family``, ``format``, ``runtime``, ``file`` (the one to load),
    ``files``, ``sha256`` (of every file; `vidlab.export.runtime.load_bundle` refuses a file that
    no longer matches), ``input`` (name, dtype, layout, shape, mean, std, value range and the
    family's size fields), ``preprocessing`` (steps in words), ``output`` (name, shape, meaning),
    ``class_names``, the family's own sections (a classifier's window ``sampling``), ``provenance``
    (checkpoint path and hash, training config and metrics, package versions), ``parity`` and,
    for some formats, ``details``.

    Args:
        family: the model family (`vidlab.export.families`).
        fmt: format name; runtime: how to load it (see `vidlab.export.runtime.RUNTIMES`).
        files: model files in the bundle folder; the first is the one to load.
        meta: the checkpoint's vidlab meta; ckpt_path: the checkpoint.
        options: the ``export`` options (a classifier's ``window_stride``).
        parity: the parity result's ``as_dict()``.
        extra: format-specific details (quantization options, opset, ...).
    """
    return {
        "card_version": CARD_VERSION,
        "family": family.name,
        "format": fmt,
        "runtime": runtime,
        "file": files[0].name,
        "files": [f.name for f in files],
        "sha256": {f.name: file_sha256(f) for f in files},
        "input": family.input_card(meta),
        "preprocessing": family.preprocessing(meta),
        "output": family.output_card(meta),
        **family.extra_card(meta, options),
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
    """The card of a bundle folder, checked for the keys every card has.

    Raises:
        FileNotFoundError: no card.json in `bundle_dir`.
        BundleError: the card is not JSON, or lacks a required key.
    """
    path = Path(bundle_dir) / CARD_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{bundle_dir} is not an export bundle: {CARD_NAME} is missing")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f" (line {err.lineno}, column {err.colno})" if hasattr(err, "lineno") else ""
        raise BundleError(
            f"{path}: not a valid card: not JSON{where}: {getattr(err, 'msg', err)}"
        ) from err
    if not isinstance(card, dict):
        raise BundleError(
            f"{path}: not a valid card: expected a JSON object, got {type(card).__name__}"
        )
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        raise BundleError(
            f"{path}: not a valid card: missing {missing}; expected the keys "
            f"{list(REQUIRED_KEYS)} (written by python export.py)"
        )
    return card


def require_single_input(card: dict[str, Any], path: Path, user: str) -> None:
    """Refuse a bundle whose model takes several inputs (SlowFast's pathways, RGB + flow) where
    `user` feeds it one RGB clip.

    Raises:
        BundleError: the card lists more than one input (names them).
    """
    inputs = card.get("inputs") or []
    if len(inputs) > 1:
        names = [entry.get("name") for entry in inputs if isinstance(entry, dict)]
        raise BundleError(
            f"{path}: the model takes {len(inputs)} inputs {names}; {user} feeds it one RGB clip "
            "(python -m vidlab.export.inference builds every input from the frames)"
        )
