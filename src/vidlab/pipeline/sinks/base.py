"""What every sink shares: where its files go, its error type, and the JSON encoding of records.

A sink is built from a config node with the run directory as an extra keyword (`build_sinks`), so a
relative path in a config names a file inside the run directory and an absolute path is used as is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.pipeline.types import Event, FrameResult
from vidlab.utils.runinfo import _jsonable

__all__ = ["SinkError", "dumps", "event_record", "resolve_path", "tracks_record"]

_EVENT_FIELDS = tuple(Event.__dataclass_fields__)


class SinkError(RuntimeError):
    """A sink could not write (disk, database, network); the message names the file or URL."""


def resolve_path(path: str | Path, run_dir: str | Path | None) -> Path:
    """`path` inside `run_dir` when relative (the current directory when `run_dir` is None), with its
    parent folders created."""
    out = Path(path).expanduser()
    if not out.is_absolute() and run_dir is not None:
        out = Path(run_dir) / out
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def dumps(record: Any) -> str:
    """Compact one-line JSON of a record (numpy scalars and arrays become numbers and lists, NaN and
    inf become null)."""
    try:
        return json.dumps(record, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):  # numpy values or NaN somewhere: convert, then retry
        return json.dumps(_jsonable(record), separators=(",", ":"), allow_nan=False)


def event_record(event: Event) -> dict[str, Any]:
    """`Event.to_dict` without its deep copy (the record is serialised at once): a JSON-ready dict."""
    record = {name: getattr(event, name) for name in _EVENT_FIELDS}
    record["extra"] = _jsonable(record["extra"])
    return record


def tracks_record(result: FrameResult) -> dict[str, Any]:
    """The tracks of one frame as a JSON-ready dict (one line of tracks.jsonl).

    Keys: ``camera``, ``frame``, ``t`` (stream seconds), ``tracks``: a list of
    ``[x1, y1, x2, y2, track_id, score]`` in source pixels.
    """
    frame = result.frame
    tracks = result.tracks
    rows: list[list[float]] = []
    if tracks is not None and len(tracks):
        arr = np.round(tracks.to_array(), 2)
        rows = arr.tolist()
        for row in rows:
            row[4] = int(row[4])
    return {"camera": frame.stream_id, "frame": frame.index, "t": frame.pts, "tracks": rows}
