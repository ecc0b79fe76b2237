"""Ground truth and results files of temporal action localization, read into `SegmentTable`s.

Formats:

- ActivityNet v1.3 ground truth (also what ``data=synthetic_untrimmed`` writes)::

    {"database": {"<video id>": {"subset": "validation", "duration": 120.5,
                                  "annotations": [{"segment": [t0, t1], "label": "Name"}, ...]}}}

- ActivityNet results (what ``task=localize`` writes)::

    {"results": {"<video id>": [{"label": "Name", "score": 0.9, "segment": [t0, t1]}, ...]}}

- THUMOS14: a folder of the official per-class text files ``<Class>_<split>.txt`` (``split``
  ``val`` or ``test``), one ``<video id> <t0> <t1>`` line per segment, with the ``Ambiguous``
  segments in ``Ambiguous_<split>.txt`` (scored by THUMOS's rule, see `metrics`).

Every malformed entry is a `LocalizationFormatError` naming the file and the entry (video id and
annotation index, or line number).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.errors import UserError
from vidlab.evaluation.localization.metrics import SegmentTable
from vidlab.utils.runinfo import write_json

#: The 20 THUMOS14 detection classes (the per-class annotation files' names).
THUMOS14_CLASSES = (
    "BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving",
    "CricketBowling", "CricketShot", "Diving", "FrisbeeCatch", "GolfSwing", "HammerThrow",
    "HighJump", "JavelinThrow", "LongJump", "PoleVault", "Shotput", "SoccerPenalty",
    "TennisSwing", "ThrowDiscus", "VolleyballSpiking",
)  # fmt: skip
THUMOS14_AMBIGUOUS = "Ambiguous"
THUMOS14_SPLITS = {"validation": "val", "val": "val", "test": "test"}


class LocalizationFormatError(UserError):
    """A ground-truth or results file that does not have the expected layout."""


def _load_json(path: Path, top_key: str) -> Mapping[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise LocalizationFormatError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(payload, dict) or not isinstance(payload.get(top_key), dict):
        raise LocalizationFormatError(
            f"{path}: expected a JSON object with a {top_key!r} object "
            f"({'ActivityNet ground truth' if top_key == 'database' else 'ActivityNet results'})"
        )
    return payload[top_key]


def _segment(value: Any, where: str) -> tuple[float, float]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    if ok:
        try:
            t0, t1 = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            ok = False
    if not ok or not (math.isfinite(t0) and math.isfinite(t1)):
        raise LocalizationFormatError(f"{where}: segment {value!r}, expected [t_start, t_end]")
    if t1 < t0:
        raise LocalizationFormatError(f"{where}: segment {value!r} ends before it starts")
    return t0, t1


def read_activitynet_ground_truth(path: str | Path, subset: str | None = None) -> SegmentTable:
    """Segments of the videos of `subset` (all videos when None) of an ActivityNet JSON.

    Raises:
        LocalizationFormatError: no ``database``, or an entry without ``subset`` (when filtering),
            ``annotations``, ``segment`` or ``label``; the message names the video and index.
    """
    path = Path(path)
    database = _load_json(path, "database")
    videos, segments, labels = [], [], []
    for video, entry in database.items():
        where = f"{path}: database[{video!r}]"
        if not isinstance(entry, dict):
            raise LocalizationFormatError(f"{where}: expected an object, got {entry!r}")
        if subset is not None:
            if "subset" not in entry:
                raise LocalizationFormatError(f"{where}: no 'subset' (needed for subset={subset})")
            if entry["subset"] != subset:
                continue
        annotations = entry.get("annotations")
        if not isinstance(annotations, list):
            raise LocalizationFormatError(f"{where}: no 'annotations' list")
        for i, ann in enumerate(annotations):
            at = f"{where}.annotations[{i}]"
            if not isinstance(ann, dict) or "segment" not in ann or "label" not in ann:
                raise LocalizationFormatError(f"{at}: expected {{'segment', 'label'}}, got {ann!r}")
            segments.append(_segment(ann["segment"], at))
            videos.append(str(video))
            labels.append(str(ann["label"]))
    return SegmentTable.from_rows(videos, np.asarray(segments).reshape(-1, 2), labels)


def read_results(path: str | Path) -> SegmentTable:
    """Predictions of an ActivityNet results JSON, in file order (which ranks tied scores).

    Raises:
        LocalizationFormatError: no ``results``, or a prediction without a label, a finite
            score or a valid segment; the message names the video and index.
    """
    path = Path(path)
    results = _load_json(path, "results")
    videos, segments, labels, scores = [], [], [], []
    for video, predictions in results.items():
        where = f"{path}: results[{video!r}]"
        if not isinstance(predictions, list):
            raise LocalizationFormatError(f"{where}: expected a list of predictions")
        for i, p in enumerate(predictions):
            at = f"{where}[{i}]"
            if not isinstance(p, dict) or not {"label", "score", "segment"} <= set(p):
                raise LocalizationFormatError(
                    f"{at}: expected {{'label', 'score', 'segment'}}, got {p!r}"
                )
            try:
                score = float(p["score"])
            except (TypeError, ValueError):
                score = math.nan
            if not math.isfinite(score):
                raise LocalizationFormatError(f"{at}: score {p['score']!r}, expected a number")
            segments.append(_segment(p["segment"], at))
            videos.append(str(video))
            labels.append(str(p["label"]))
            scores.append(score)
    return SegmentTable.from_rows(videos, np.asarray(segments).reshape(-1, 2), labels, scores)


def _read_thumos_file(path: Path) -> list[tuple[str, float, float]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        if len(fields) != 3:
            raise LocalizationFormatError(
                f"{where}: {line.strip()!r}, expected '<video id> <t_start> <t_end>'"
            )
        t0, t1 = _segment(fields[1:], where)
        rows.append((fields[0], t0, t1))
    return rows


def read_thumos14_ground_truth(
    folder: str | Path, subset: str = "test", classes: Sequence[str] = THUMOS14_CLASSES
) -> SegmentTable:
    """The THUMOS14 per-class annotation files of `subset` (``validation``/``val`` or ``test``).

    Returns:
        Segments in class order, with the ``Ambiguous`` segments (when that file exists) under
        `SegmentTable.ambiguous`.

    Raises:
        FileNotFoundError: a class file is missing (the message lists the expected names).
        LocalizationFormatError: a line is not ``<video> <t0> <t1>`` (file and line number).
    """
    folder = Path(folder)
    if subset not in THUMOS14_SPLITS:
        raise LocalizationFormatError(
            f"THUMOS14 subset {subset!r}, expected one of {sorted(THUMOS14_SPLITS)}"
        )
    suffix = THUMOS14_SPLITS[subset]
    missing = [c for c in classes if not (folder / f"{c}_{suffix}.txt").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: no THUMOS14 annotation file {missing[0]}_{suffix}.txt ({len(missing)} of "
            f"{len(classes)} class files missing; expected <Class>_{suffix}.txt per class)"
        )
    videos, segments, labels = [], [], []
    for name in classes:
        for video, t0, t1 in _read_thumos_file(folder / f"{name}_{suffix}.txt"):
            videos.append(video)
            segments.append((t0, t1))
            labels.append(name)
    ambiguous: dict[str, list[tuple[float, float]]] = {}
    amb_file = folder / f"{THUMOS14_AMBIGUOUS}_{suffix}.txt"
    if amb_file.is_file():
        for video, t0, t1 in _read_thumos_file(amb_file):
            ambiguous.setdefault(video, []).append((t0, t1))
    return SegmentTable.from_rows(
        videos, np.asarray(segments).reshape(-1, 2), labels, ambiguous=ambiguous
    )


def read_ground_truth(path: str | Path, subset: str | None = None) -> SegmentTable:
    """ActivityNet JSON (a file) or THUMOS14 annotation files (a folder), by what `path` is."""
    path = Path(path)
    if path.is_dir():
        return read_thumos14_ground_truth(path, subset or "test")
    return read_activitynet_ground_truth(path, subset)


def write_activitynet_ground_truth(
    path: str | Path, videos: Mapping[str, Mapping[str, Any]]
) -> Path:
    """Write ``{"database": videos}`` (each video: ``subset``, ``duration``, ``annotations``)."""
    return write_json(path, {"version": "VERSION 1.3", "database": dict(videos)})


def write_results(path: str | Path, results: Mapping[str, Sequence[Mapping[str, Any]]]) -> Path:
    """Write ``{"results": results}`` in the ActivityNet results format."""
    return write_json(path, {"version": "VERSION 1.3", "results": dict(results)})
