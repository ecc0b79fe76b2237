"""Load exported models and bundles and run them on numpy batches, whatever the runtime.

Every artifact becomes a `Predictor`: a callable from a float32 batch (clips (N, C, T, H, W) for a
classifier, crops (N, 3, H, W) for an embedder; a tuple of one batch per graph input for a
multi-input model such as SlowFast, `vidlab.export.inputs`) to float32 outputs (logits,
embeddings). Parity
checks, latency measurements, video inference and the trackers' encoders all use this one
interface, so what is verified is exactly what is benchmarked and served. `load_bundle` loads any
bundle by its card (every family), after checking its files against the card's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidlab.export.inputs import Batch, to_tensors

log = logging.getLogger(__name__)

# A float32 batch (N, ...), or a tuple of one per graph input -> float32 outputs (N, ...).
Predictor = Callable[[Batch], np.ndarray]

# Runtime names as written on bundle cards.
RUNTIMES = ("onnxruntime", "torchscript", "torch_export", "openvino")


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session for `path` with `threads` intra-op threads (None: ORT default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnx_predictor(path: Path, threads: int | None) -> Predictor:
    session = onnx_session(path, threads)
    names = [i.name for i in session.get_inputs()]

    def predict(clips: Batch) -> np.ndarray:
        arrays = clips if isinstance(clips, tuple) else (clips,)
        if len(arrays) != len(names):
            raise ValueError(f"{path} takes {len(names)} inputs {names}, got {len(arrays)}")
        feed = {
            n: np.ascontiguousarray(a, dtype=np.float32) for n, a in zip(names, arrays, strict=True)
        }
        return session.run(None, feed)[0]

    return predict


def torch_predictor(module: Callable[..., torch.Tensor]) -> Predictor:
    """Wrap a torch callable (eager, scripted or exported) as a numpy predictor; a tuple batch is
    passed as positional inputs."""

    def predict(clips: Batch) -> np.ndarray:
        with torch.inference_mode():
            return module(*to_tensors(clips)).float().numpy()

    return predict


def _openvino_predictor(path: Path, threads: int | None) -> Predictor:
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(path), "CPU", config)

    def predict(clips: Batch) -> np.ndarray:
        arrays = clips if isinstance(clips, tuple) else (clips,)
        result = compiled([np.ascontiguousarray(a, dtype=np.float32) for a in arrays])
        return np.asarray(result[compiled.output(0)])

    return predict


def load_predictor(path: str | Path, runtime: str, threads: int | None = None) -> Predictor:
    """Load the artifact at `path` with `runtime` (one of `RUNTIMES`).

    Args:
        path: model file (.onnx, .ts, .pt2 or .xml).
        runtime: how to run it.
        threads: CPU threads for the runtime; torch runtimes use ``torch.set_num_threads``.

    Raises:
        ValueError: unknown runtime.
    """
    path = Path(path)
    if runtime == "onnxruntime":
        return _onnx_predictor(path, threads)
    if runtime == "openvino":
        return _openvino_predictor(path, threads)
    if threads:
        torch.set_num_threads(threads)
    if runtime == "torchscript":
        return torch_predictor(torch.jit.load(str(path), map_location="cpu").eval())
    if runtime == "torch_export":
        return torch_predictor(torch.export.load(str(path)).module())
    raise ValueError(f"unknown runtime {runtime!r} for {path}; expected one of {RUNTIMES}")


@dataclass(frozen=True)
class Bundle:
    """A loaded export bundle: its card and a predictor for its model, whatever the family.

    Attributes:
        path: the bundle folder.
        card: the card (`vidlab.export.bundle.make_card` schema).
        family: ``classifier``, ``embedding``, ... (``classifier`` for version-1 cards).
        predict: (N, ...) float32 inputs as the card's ``input`` describes -> (N, ...) outputs.
    """

    path: Path
    card: dict[str, Any]
    family: str
    predict: Predictor

    @property
    def fingerprint(self) -> str:
        """A short hash of the bundle's model files and preprocessing (cache keys)."""
        digest = hashlib.sha1(
            json.dumps([self.card.get("sha256"), self.card["input"]], sort_keys=True).encode()
        )
        return f"{self.card['format']}-" + digest.hexdigest()[:16]


def verify_files(bundle_dir: Path, card: dict[str, Any]) -> None:
    """Check every model file of a bundle against the SHA-256 its card records.

    Raises:
        BundleError: a file is missing or its contents changed after export.
    """
    from vidlab.export.bundle import BundleError
    from vidlab.utils.runinfo import file_sha256

    hashes = card.get("sha256")
    if not hashes:
        log.warning(
            "%s: the card (version %s) records no SHA-256 of its model files; they are not "
            "verified (re-export to get a checked bundle)",
            bundle_dir,
            card.get("card_version"),
        )
        return
    for name in card.get("files", [card["file"]]):
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(f"{path}: model file listed in the card is missing")
        found = file_sha256(path)
        if found != hashes.get(name):
            raise BundleError(
                f"{path}: SHA-256 {found[:16]}... does not match the card's "
                f"{str(hashes.get(name))[:16]}...: the file changed after export; refusing to "
                "serve it (re-export the checkpoint)"
            )


def load_bundle(
    bundle_dir: str | Path, threads: int | None = None, *, verify: bool = True
) -> Bundle:
    """Load any export bundle by its card: classifiers, embedders, and later detectors.

    Args:
        bundle_dir: a folder written by ``python export.py`` (``bundles/<format>/``).
        threads: CPU threads of the runtime (None: its default).
        verify: check the model files against the card's SHA-256 first (see `verify_files`).

    Raises:
        FileNotFoundError: no card in `bundle_dir`.
        BundleError: an unreadable card or a model file that changed after export.
    """
    from vidlab.export.bundle import read_card

    bundle_dir = Path(bundle_dir)
    card = read_card(bundle_dir)
    if verify:
        verify_files(bundle_dir, card)
    predict = load_predictor(bundle_dir / card["file"], card["runtime"], threads)
    return Bundle(bundle_dir, card, str(card.get("family", "classifier")), predict)
