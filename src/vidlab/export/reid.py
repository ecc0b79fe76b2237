"""Export of a Re-ID embedding network (ONNX, TorchScript) and its two parity gates.

The exported graph maps ``image`` (B, 3, H, W) float32, RGB normalised with the card's mean/std, to
``embedding`` (B, D) float32: the BNNeck feature **L2-normalised**, so a dot product of two
embeddings is their cosine similarity. The ONNX file carries its preprocessing in its metadata
(``vidlab.*`` keys, read by :class:`vidlab.tracking.encoders.OnnxEncoder` users through
:func:`vidlab.tracking.encoders.encoder_from_weights`), so it is self-describing.

Gates:

- :func:`embedding_parity`: per-image cosine similarity between eager PyTorch and the artifact;
- :func:`tracking_parity`: DeepSORT / BoT-SORT on a sequence with frames, once with the exported
  encoder and once with the PyTorch one: track ids, boxes and metrics must be identical.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidlab.export.onnx import DEFAULT_OPSET, onnx_program

log = logging.getLogger(__name__)

#: The gate of the issue: every image's two embeddings must have at least this cosine similarity.
MIN_COSINE = 0.9999
INPUT_NAME, OUTPUT_NAME = "image", "embedding"
#: Prefix of the ONNX metadata keys that describe the input (``vidlab.input``) and more.
METADATA_PREFIX = "vidlab."


class NormalizedEmbedding(nn.Module):
    """``net(x)`` scaled to unit L2 norm per row: what the artifacts compute."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, D) unit-norm embeddings."""
        return F.normalize(self.net(x), dim=1)


@dataclass(frozen=True)
class EmbeddingParity:
    """Agreement of two sets of embeddings of the same images.

    Attributes:
        min_cosine: the lowest per-image cosine similarity.
        mean_cosine: the mean per-image cosine similarity.
        max_abs_diff: the largest absolute difference of any unit-normalised component.
        threshold: the required `min_cosine`.
        num_samples: images compared.
    """

    min_cosine: float
    mean_cosine: float
    max_abs_diff: float
    threshold: float
    num_samples: int

    @property
    def ok(self) -> bool:
        return self.min_cosine >= self.threshold

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "min_cosine": self.min_cosine,
            "mean_cosine": self.mean_cosine,
            "max_abs_diff": self.max_abs_diff,
            "threshold": self.threshold,
            "num_samples": self.num_samples,
            "ok": self.ok,
        }


def embedding_parity(
    reference: np.ndarray, candidate: np.ndarray, threshold: float = MIN_COSINE
) -> EmbeddingParity:
    """Compare (N, D) reference embeddings with (N, D) candidate ones (any scale)."""
    if reference.shape != candidate.shape or reference.ndim != 2:
        raise ValueError(
            f"embeddings must both be (N, D); got {reference.shape} and {candidate.shape}"
        )
    ref = reference / np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
    cand = candidate / np.maximum(np.linalg.norm(candidate, axis=1, keepdims=True), 1e-12)
    cosine = np.sum(ref * cand, axis=1)
    return EmbeddingParity(
        float(cosine.min()),
        float(cosine.mean()),
        float(np.abs(ref - cand).max()),
        threshold,
        len(cosine),
    )


def export_onnx(
    net: nn.Module,
    example: torch.Tensor,
    path: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write ``NormalizedEmbedding(net)`` to ONNX with a dynamic batch dimension.

    Args:
        net: the embedding network (eval mode is set), ``(B, 3, H, W) -> (B, D)``.
        example: a batch-1 example input (1, 3, H, W).
        path: output ``.onnx`` file.
        metadata: JSON-serialisable values stored as ``vidlab.<key>`` metadata entries.
        opset: ONNX opset.
    """
    if example.ndim != 4 or example.shape[0] != 1:
        raise ValueError(f"export from a (1, 3, H, W) example, got {tuple(example.shape)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program = onnx_program(NormalizedEmbedding(net).eval(), example, [INPUT_NAME], [OUTPUT_NAME],
                           opset)
    program.save(str(path))
    if metadata:
        _write_onnx_metadata(path, metadata)
    log.info("wrote ONNX embedding model %s", path)
    return path


def _write_onnx_metadata(path: Path, metadata: dict[str, Any]) -> None:
    import onnx

    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, json.dumps(value)
    onnx.save(model, str(path))


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The ``vidlab.*`` metadata of an ONNX file written by :func:`export_onnx` ({} if none)."""
    from vidlab.export.verify import onnx_session

    props = onnx_session(path).get_modelmeta().custom_metadata_map
    return {
        k[len(METADATA_PREFIX) :]: json.loads(v)
        for k, v in props.items()
        if k.startswith(METADATA_PREFIX)
    }


def export_torchscript(net: nn.Module, example: torch.Tensor, path: str | Path) -> Path:
    """Trace ``NormalizedEmbedding(net)`` to TorchScript (``torch.jit.load`` reads it back).

    TorchScript is deprecated upstream in favour of torch.export; it is still written because
    C++/mobile runtimes consume it. Its deprecation warning is silenced here.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = NormalizedEmbedding(net).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example, check_trace=False)
    traced.save(str(path))
    log.info("wrote TorchScript embedding model %s", path)
    return path


def eager_embeddings(net: nn.Module, images: torch.Tensor) -> np.ndarray:
    """(N, D) unit-norm embeddings of (N, 3, H, W) images by the eager network."""
    with torch.no_grad():
        return NormalizedEmbedding(net).eval()(images).float().numpy()


def onnx_embeddings(path: str | Path, images: torch.Tensor) -> np.ndarray:
    """(N, D) embeddings of (N, 3, H, W) images by ONNX Runtime, in one batch (dynamic batch)."""
    from vidlab.export.verify import onnx_session

    session = onnx_session(path)
    return session.run(None, {session.get_inputs()[0].name: images.numpy()})[0]


def torchscript_embeddings(path: str | Path, images: torch.Tensor) -> np.ndarray:
    """(N, D) embeddings of (N, 3, H, W) images by the TorchScript file."""
    module = torch.jit.load(str(path), map_location="cpu").eval()
    with torch.no_grad():
        return module(images).float().numpy()


# ------------------------------------------------------------------------- downstream tracking gate


@dataclass(frozen=True)
class TrackingParity:
    """Tracking with the exported encoder against tracking with the PyTorch encoder.

    Attributes:
        tracker: tracker name.
        identical_tracks: every output row (frame, id, box, score) agrees exactly.
        torch_metrics: HOTA / MOTA / IDF1 / IDSW with the PyTorch encoder.
        export_metrics: the same with the exported encoder.
        num_rows: result rows of the PyTorch run.
    """

    tracker: str
    identical_tracks: bool
    torch_metrics: dict[str, float]
    export_metrics: dict[str, float]
    num_rows: int

    @property
    def ok(self) -> bool:
        return self.identical_tracks and self.torch_metrics == self.export_metrics

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker,
            "identical_tracks": self.identical_tracks,
            "torch": self.torch_metrics,
            "export": self.export_metrics,
            "num_rows": self.num_rows,
            "ok": self.ok,
        }


TRACKING_FIELDS = ("HOTA", "MOTA", "IDF1", "IDSW")


def tracking_parity(
    sequence_dirs: Sequence[Path],
    make_tracker: Callable[[Any], Any],
    torch_encoder: Any,
    export_encoder: Any,
    name: str,
) -> TrackingParity:
    """Run ``make_tracker(encoder)`` over the sequences with each encoder and compare.

    Args:
        sequence_dirs: MOTChallenge sequence folders with ``img1/`` frames and ``gt/gt.txt``.
        make_tracker: builds a fresh tracker around an encoder.
        torch_encoder: the PyTorch encoder (reference).
        export_encoder: the encoder running the exported artifact.
        name: tracker name for the report.
    """
    from vidlab.evaluation.mot import evaluate_folder
    from vidlab.tracking.runner import load_sequence, track_sequence

    tables, metrics = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for label, encoder in (("torch", torch_encoder), ("export", export_encoder)):
            out = Path(tmp) / label
            rows = []
            for folder in sequence_dirs:
                result = track_sequence(make_tracker(encoder), load_sequence(folder))
                rows.append(_table_rows(result.results))
                _write_results(out / f"{Path(folder).name}.txt", result.results)
            tables.append(np.concatenate(rows))
            scores = evaluate_folder(
                Path(sequence_dirs[0]).parent, out, sequences=[Path(d).name for d in sequence_dirs]
            )
            metrics.append({k: float(np.mean(scores["COMBINED"][k])) for k in TRACKING_FIELDS})
    identical = tables[0].shape == tables[1].shape and bool(np.array_equal(tables[0], tables[1]))
    return TrackingParity(name, identical, metrics[0], metrics[1], len(tables[0]))


def _table_rows(table: Any) -> np.ndarray:
    return np.column_stack([table.frame, table.track_id, table.tlwh, table.score])


def _write_results(path: Path, table: Any) -> None:
    from vidlab.evaluation.mot.io import write_mot_txt

    path.parent.mkdir(parents=True, exist_ok=True)
    write_mot_txt(path, table)
