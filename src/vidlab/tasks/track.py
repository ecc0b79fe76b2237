"""``python evaluate.py task=track tracker=<name> [data.root=<MOTChallenge folder>]``.

Runs a tracker over every sequence's detections, writes ``tracks/<sequence>.txt`` in the run
directory and, where ground truth exists, ``metrics.json`` in the layout of
:func:`vidlab.utils.runinfo.write_metrics`: ``metrics`` holds ``test/fps`` and every scalar
COMBINED field as ``test/<field>``, ``details`` the :func:`vidlab.evaluation.mot.evaluate_folder`
result (``{"sequences": ..., "COMBINED": ...}``), ``provenance`` the data, tracker settings,
versions and commit. The data config builds a :class:`vidlab.data.mot.MOTSequences`; with
``data.root: null`` (the default ``data=synthetic_mot``) the synthetic sequences are generated into
``data.cache_dir`` once per set of generator settings and reused. ``detections=<folder of
<sequence>.txt>`` replaces ``det/det.txt``; ``detector=<bundle folder>`` (options ``detect.*``)
detects on each sequence's frames first, into ``detections/`` (``detections_val/``) of the run
directory, and tracks those boxes with their scores (`vidlab.tasks.detect`).

``data.val_sequences`` (optional) are tracked and scored too, into ``tracks_val/`` and
``metrics_val.json``, with ``val/`` metric keys: tuning (``hparams_search=tracker_optuna``)
optimises ``val/HOTA`` and reports the held-out ``test/`` metrics of the same trial.

The tracker config is instantiated once per sequence. Its ``encoder`` (if any) is built once and
passed as ``encoder=``; a ``frame_rate: null`` entry (ByteTrack, BoT-SORT) is filled with each
sequence's ``seqinfo.ini`` frame rate, a number is used as given, and trackers whose config has no
``frame_rate`` key get none.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from vidlab.data.mot import MOTSequences
from vidlab.errors import UserError
from vidlab.evaluation.mot.io import find_sequences
from vidlab.tasks.detect import DETECTIONS_DIR, build_detector, detection_metrics
from vidlab.tasks.mot_metrics import combined_metrics, combined_summary, print_scores
from vidlab.tracking.encoders import EmbeddingCache
from vidlab.tracking.runner import GT_FILE, SequenceResult, track_folder
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

if TYPE_CHECKING:  # vidlab.detection imports torch: only when a detector is asked for
    from vidlab.detection import FrameDetector

log = logging.getLogger(__name__)

#: Where each split's tracks and metrics go in the run directory.
OUTPUTS = {"test": ("tracks", "metrics.json"), "val": ("tracks_val", "metrics_val.json")}
#: Tracker config key filled per sequence from seqinfo.ini when it is null.
FRAME_RATE_KEY = "frame_rate"


def run(cfg: DictConfig) -> dict[str, Any]:
    """Track, write results and score them; returns ``test/...`` (and ``val/...``) metrics."""
    data: MOTSequences = instantiate(cfg.data)
    root = data.resolve_root()
    make_tracker, cache = tracker_factory(cfg.tracker, Path(cfg.paths.data_dir) / "embeddings")
    detector = build_detector(cfg)
    provenance = {
        "data": data.describe() | {"root": str(root)},
        "tracker": OmegaConf.to_container(cfg.tracker, resolve=True),
        "detections": cfg.get("detections"),
        "detector": cfg.get("detector"),
        "interpolate_max_gap": int(cfg.get("interpolate_max_gap", 0) or 0),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    metrics: dict[str, Any] = {}
    for split, names in data.splits():
        metrics |= _run_split(
            cfg, data, root, make_tracker, cache, split, names, provenance, detector
        )
    return metrics


def _run_split(
    cfg: DictConfig,
    data: MOTSequences,
    root: Path,
    make_tracker,
    cache: EmbeddingCache | None,
    split: str,
    names: list[str] | None,
    provenance: dict[str, Any],
    detector: FrameDetector | None = None,
) -> dict[str, Any]:
    """Track one set of sequences into ``<run dir>/<tracks folder>/`` and score it if possible."""
    out = Path(cfg.paths.output_dir)
    tracks_name, metrics_name = OUTPUTS[split]
    dirs = _select_sequences(root, names, allow_missing=bool(cfg.get("allow_missing", False)))
    detections_dir, detected = cfg.get("detections"), {}
    if detector is not None:
        detections_dir = out / (DETECTIONS_DIR + ("" if split == "test" else f"_{split}"))
        from vidlab.detection import detect_folder

        detected = detection_metrics(split, detect_folder(detector, dirs, detections_dir))
    results = track_folder(
        make_tracker,
        dirs,
        out / tracks_name,
        detections_dir=detections_dir,
        cache=cache,
        interpolate_max_gap=provenance["interpolate_max_gap"],
    )
    metrics = _speed(split, results) | detected
    if not all((d / GT_FILE).is_file() for d in dirs):
        log.info("%s: no ground truth in every sequence; tracks written, nothing scored", split)
        return metrics
    from vidlab.evaluation.mot import evaluate_folder

    scores = evaluate_folder(
        root, out / tracks_name, sequences=[d.name for d in dirs], benchmark=data.benchmark
    )
    metrics |= combined_metrics(scores, split)
    write_metrics(
        out / metrics_name,
        task="track",
        metrics=metrics,
        details=scores,
        provenance=provenance,
        extra={"COMBINED": combined_summary(scores)},
    )
    print_scores(scores, title=f"tracking metrics, {split} (%)")
    return metrics


def tracker_factory(tracker: DictConfig, embeddings_dir: Path):
    """A per-sequence tracker builder ``make(seqinfo) -> tracker`` and the embedding cache.

    The ``encoder`` entry is instantiated once and passed to every tracker; ``frame_rate: null``
    becomes the sequence's frame rate (see the module docstring).
    """
    tracker_cfg = OmegaConf.to_container(tracker, resolve=True)
    encoder_cfg = tracker_cfg.pop("encoder", None)
    encoder = instantiate(encoder_cfg) if encoder_cfg else None
    per_sequence_fps = FRAME_RATE_KEY in tracker_cfg and tracker_cfg[FRAME_RATE_KEY] is None
    if per_sequence_fps:
        del tracker_cfg[FRAME_RATE_KEY]
    partial = instantiate(tracker_cfg, _partial_=True)

    def make(info):
        fps = {FRAME_RATE_KEY: info.frame_rate} if per_sequence_fps else {}
        return partial(encoder=encoder, **fps)

    cache = EmbeddingCache(embeddings_dir) if encoder is not None else None
    return make, cache


def _select_sequences(
    root: Path, names: list[str] | None, *, allow_missing: bool = False
) -> list[Path]:
    """The sequence folders named by `names` (all when empty); a sequence folder of `root`
    without seqinfo.ini is an error unless `allow_missing` (see `find_sequences`)."""
    found = {p.name: p for p in find_sequences(root, allow_missing=allow_missing)}
    if not found:
        raise FileNotFoundError(f"no sequence folders (with seqinfo.ini) under {root}")
    if not names:
        return list(found.values())
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(f"sequences {missing} not found under {root}; available: {sorted(found)}")
    return [found[n] for n in names]


def _speed(split: str, results: list[SequenceResult]) -> dict[str, float]:
    frames = sum(r.num_frames for r in results)
    seconds = sum(r.update_seconds for r in results)
    return {f"{split}/fps": frames / max(seconds, 1e-9)}
