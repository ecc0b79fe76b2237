"""``python evaluate.py task=track tracker=<name> [data.root=<MOTChallenge folder>]``.

Runs a tracker over every sequence's detections, writes ``tracks/<sequence>.txt`` in the run
directory and, where ground truth exists, ``metrics.json`` (``{"sequences": ..., "COMBINED": ...}``
from :func:`vidlab.evaluation.mot.evaluate_folder`). With ``data.root: null`` (the default
``data=synthetic_mot``) the synthetic sequences are generated into ``paths.data_dir`` once per set
of generator settings and reused. ``detections=<folder of <sequence>.txt>`` replaces
``det/det.txt``.

``data.val_sequences`` (optional) are tracked and scored too, into ``tracks_val/`` and
``metrics_val.json``, with ``val/`` metric keys: tuning (``hparams_search=tracker_optuna``)
optimises ``val/HOTA`` and reports the held-out ``test/`` metrics of the same trial.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from vidlab.errors import UserError
from vidlab.evaluation.mot.io import find_sequences
from vidlab.tracking.encoders import EmbeddingCache
from vidlab.tracking.runner import GT_FILE, SequenceResult, track_folder

log = logging.getLogger(__name__)

#: COMBINED fields returned as ``<split>/<field>`` metrics.
REPORTED_FIELDS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "MOTP")
_COMPLETE_MARKER = ".complete"


def run(cfg: DictConfig) -> dict[str, Any]:
    """Track, write results and score them; returns ``test/...`` (and ``val/...``) metrics."""
    root = resolve_data_root(cfg)
    make_tracker, cache = _tracker_factory(cfg)
    splits = [("test", cfg.data.get("sequences"), "tracks", "metrics.json")]
    if cfg.data.get("val_sequences"):
        splits.append(("val", cfg.data.val_sequences, "tracks_val", "metrics_val.json"))
    metrics: dict[str, Any] = {}
    for split, names, tracks_name, metrics_name in splits:
        metrics |= _run_split(
            cfg, root, make_tracker, cache, split, names, tracks_name, metrics_name
        )
    return metrics


def _run_split(
    cfg: DictConfig,
    root: Path,
    make_tracker,
    cache: EmbeddingCache | None,
    split: str,
    names,
    tracks_name: str,
    metrics_name: str,
) -> dict[str, Any]:
    """Track one set of sequences into ``<run dir>/<tracks_name>/`` and score it if possible."""
    out = Path(cfg.paths.output_dir)
    dirs = _select_sequences(root, names, allow_missing=bool(cfg.get("allow_missing", False)))
    results = track_folder(
        make_tracker,
        dirs,
        out / tracks_name,
        detections_dir=cfg.get("detections"),
        cache=cache,
        interpolate_max_gap=int(cfg.get("interpolate_max_gap", 0) or 0),
    )
    metrics = _speed(split, results)
    if not all((d / GT_FILE).is_file() for d in dirs):
        log.info("%s: no ground truth in every sequence; tracks written, nothing scored", split)
        return metrics
    benchmark = cfg.data.get("benchmark", "MOT17")
    scores = _evaluate(root, out / tracks_name, [d.name for d in dirs], benchmark)
    (out / metrics_name).write_text(json.dumps(scores, indent=2, default=_jsonable))
    combined = scores["COMBINED"]
    metrics |= {f"{split}/{k}": _scalar(combined[k]) for k in REPORTED_FIELDS if k in combined}
    _print_table(split, scores)
    return metrics


def resolve_data_root(cfg: DictConfig) -> Path:
    """``data.root``, or the synthetic sequences (generated on first use) when it is null."""
    if cfg.data.get("root"):
        root = Path(cfg.data.root)
        if not root.is_dir():
            raise FileNotFoundError(f"data.root={root} is not a folder of MOTChallenge sequences")
        return root
    syn = cfg.data.get("synthetic")
    if syn is None:
        raise ValueError(
            "data.root is null and the data config has no `synthetic` section to generate from"
        )
    params = OmegaConf.to_container(syn, resolve=True)
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cfg.paths.data_dir) / "synthetic_mot" / key
    if not (root / _COMPLETE_MARKER).is_file():
        _generate(root, params)
    return root


def _generate(root: Path, params: dict[str, Any]) -> None:
    """Write the synthetic sequences described by the ``data.synthetic`` settings."""
    from vidlab.data.synthetic.mot import DetectorNoise, SceneConfig, write_mot_folder

    params = dict(params)
    noise = DetectorNoise(**_tuples(params.pop("noise", {}) or {}))
    scene_keys = {f.name for f in fields(SceneConfig)} - {"noise"}
    scene = SceneConfig(
        noise=noise, **_tuples({k: v for k, v in params.items() if k in scene_keys})
    )
    rest = {k: v for k, v in params.items() if k not in scene_keys}
    log.info("generating synthetic MOT sequences into %s", root)
    write_mot_folder(
        root,
        int(rest["n_sequences"]),
        int(rest["seed"]),
        config=scene,
        render_frames=bool(rest.get("render_frames", False)),
        pan_every=int(rest.get("pan_every", 0)),
        pan=tuple(rest.get("pan", (2.0, 0.0))),
    )
    (root / _COMPLETE_MARKER).write_text(json.dumps(params, sort_keys=True))


def _tracker_factory(cfg: DictConfig):
    """A per-sequence tracker builder (frame rate from seqinfo.ini) and the embedding cache."""
    tracker_cfg = OmegaConf.to_container(cfg.tracker, resolve=True)
    encoder_cfg = tracker_cfg.pop("encoder", None)
    encoder = instantiate(encoder_cfg) if encoder_cfg else None
    cls = get_class(tracker_cfg["_target_"])
    takes_fps = "frame_rate" in inspect.signature(cls).parameters
    partial = instantiate(tracker_cfg, _partial_=True)

    def make(info):
        return partial(encoder=encoder, **({"frame_rate": info.frame_rate} if takes_fps else {}))

    cache = EmbeddingCache(Path(cfg.paths.data_dir) / "embeddings") if encoder is not None else None
    return make, cache


def _select_sequences(root: Path, names, *, allow_missing: bool = False) -> list[Path]:
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


def _evaluate(root: Path, tracks: Path, names: list[str], benchmark: str) -> dict:
    from vidlab.evaluation.mot import evaluate_folder

    return evaluate_folder(root, tracks, sequences=names, benchmark=benchmark)


def _speed(split: str, results: list[SequenceResult]) -> dict[str, float]:
    frames = sum(r.num_frames for r in results)
    seconds = sum(r.update_seconds for r in results)
    return {f"{split}/fps": frames / max(seconds, 1e-9)}


def _scalar(value: Any) -> float:
    """TrackEval fields may be per-alpha arrays (HOTA family); report their mean like TrackEval."""
    return float(np.mean(value))


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def _print_table(split: str, scores: dict) -> None:
    """Per-sequence HOTA / MOTA / IDF1 for the user (rich table)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tracking metrics ({split})")
    for col in ("sequence", "HOTA", "MOTA", "IDF1", "IDSW"):
        table.add_column(col, justify="right")
    rows = list(scores["sequences"].items()) + [("COMBINED", scores["COMBINED"])]
    for name, s in rows:
        table.add_row(
            name,
            *(f"{100 * _scalar(s[k]):.2f}" for k in ("HOTA", "MOTA", "IDF1")),
            f"{int(_scalar(s['IDSW']))}",
        )
    Console().print(table)
