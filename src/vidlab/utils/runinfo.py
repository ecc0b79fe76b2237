"""Provenance recorded with every run: package versions, git commit, file hashes, JSON output."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "vidlab",
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "timm",
    "pytorchvideo",
    "numpy",
    "onnx",
    "onnxruntime",
    "decord",
    "av",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape results ("not installed" when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(repo_dir: str | Path | None = None) -> str | None:
    """The current commit of the repository holding `repo_dir` (None outside a git checkout);
    a ``-dirty`` suffix marks uncommitted changes."""
    cwd = Path(repo_dir) if repo_dir else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (checkpoint provenance)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        value = value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write JSON atomically (a crash never leaves a truncated file); NaN/inf become null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(payload), indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


#: Version of the ``metrics.json`` layout that `write_metrics` writes.
METRICS_SCHEMA_VERSION = 1


def write_metrics(
    path: str | Path,
    *,
    task: str,
    metrics: dict[str, Any],
    details: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a run's ``metrics.json`` in the one layout every task uses (atomically).

    Layout::

        {"schema": 1, "task": "<task name>",
         "metrics": {"<split>/<name>": number, ...},   # flat scalars, what sweeps and tables read
         "details": {...},                              # anything structured (per-sequence, per-class)
         "provenance": {...}}                           # seed, data, versions, commit, checkpoint

    Args:
        path: the file to write (usually ``<run dir>/metrics.json``).
        task: the task that produced it (``train``, ``evaluate``, ``export``, ``track``, ...).
        metrics: flat scalar metrics keyed ``split/name`` (``test/top1``, ``val/HOTA``; for a
            measurement that is not made on a data split, the thing measured: ``model/gflops``);
            non-finite values become null.
        details: structured results (default ``{}``).
        provenance: where the numbers came from (default: package versions and git commit).
        extra: further top-level keys a task documents for readers of its earlier layout (the
            MOT tasks keep ``COMBINED``: the scalar summary over all sequences, e.g.
            ``{"HOTA": 0.61, "MOTA": 0.72, "IDF1": 0.70, ...}``); they may not shadow the above.
    """
    clash = set(extra or {}) & {"schema", "task", "metrics", "details", "provenance"}
    if clash:
        raise ValueError(f"extra keys {sorted(clash)} would shadow the metrics.json layout")
    for key, value in metrics.items():
        if isinstance(value, (dict, list, tuple)):
            raise TypeError(f"metrics[{key!r}] must be a scalar, got {type(value).__name__}")
    payload = {
        "schema": METRICS_SCHEMA_VERSION,
        "task": task,
        "metrics": dict(metrics),
        "details": dict(details or {}),
        "provenance": (
            dict(provenance)
            if provenance is not None
            else {"versions": package_versions(), "git_commit": git_commit()}
        ),
        **(extra or {}),
    }
    return write_json(path, payload)
