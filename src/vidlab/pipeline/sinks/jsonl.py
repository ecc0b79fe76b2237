"""Events (and optionally every frame's tracks) as JSON Lines, one record per line.

A frame's lines are written in one call and flushed to the operating system as soon as the frame
arrives, so a crash of the process loses at most the lines being written (and `read_jsonl` skips a
truncated last line); nothing is buffered in the sink.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import IO

from vidlab.pipeline.sinks.base import (
    SinkError,
    dumps,
    event_record,
    resolve_path,
    tracks_record,
)
from vidlab.pipeline.types import FrameResult

log = logging.getLogger(__name__)

__all__ = ["JsonlSink", "read_jsonl"]


class JsonlSink:
    """Write `Event.to_dict` records to ``events_path`` and, when asked, per-frame tracks.

    Args:
        events_path: the events file (relative paths are inside `run_dir`).
        tracks_path: the per-frame tracks file (`base.tracks_record` lines), or None for none.
        skip_empty_frames: write no tracks line for frames without tracks.
        fsync: also ``os.fsync`` after every frame (survives a power loss, at a large cost).
        run_dir: the run directory (passed by `build_sinks`).
    """

    needs_image = False

    def __init__(
        self,
        events_path: str | Path = "events.jsonl",
        tracks_path: str | Path | None = None,
        *,
        skip_empty_frames: bool = True,
        fsync: bool = False,
        run_dir: str | Path | None = None,
    ) -> None:
        self.events_path = resolve_path(events_path, run_dir)
        self.tracks_path = None if tracks_path is None else resolve_path(tracks_path, run_dir)
        self.skip_empty_frames = skip_empty_frames
        self.fsync = fsync
        self.events_written = 0
        self.frames_written = 0
        self._events = self._open(self.events_path)
        self._tracks = None if self.tracks_path is None else self._open(self.tracks_path)
        self._closed = False

    @staticmethod
    def _open(path: Path) -> IO[str]:
        try:
            # Line buffering: every newline flushes the line to the OS.
            return open(path, "a", buffering=1, encoding="utf-8")
        except OSError as err:
            raise SinkError(f"cannot open {path} for writing: {err}") from err

    def _write(self, handle: IO[str], path: Path, line: str) -> None:
        try:
            handle.write(line + "\n")
            if self.fsync:
                os.fsync(handle.fileno())
        except OSError as err:
            raise SinkError(f"cannot write to {path}: {err}") from err

    def write(self, result: FrameResult) -> None:
        """Append the frame's events (and its tracks line when a tracks file is configured)."""
        if self._closed:
            raise SinkError(f"write to {self.events_path} after close()")
        if result.events:  # one write (and one flush) per frame
            lines = "\n".join(dumps(event_record(e)) for e in result.events)
            self._write(self._events, self.events_path, lines)
            self.events_written += len(result.events)
        if self._tracks is not None:
            empty = result.tracks is None or len(result.tracks) == 0
            if not (empty and self.skip_empty_frames):
                self._write(self._tracks, self.tracks_path, dumps(tracks_record(result)))
                self.frames_written += 1

    def close(self) -> None:
        """Close the files (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        for handle in (self._events, self._tracks):
            if handle is not None:
                handle.close()
        log.info("wrote %d events to %s", self.events_written, self.events_path)


def read_jsonl(path: str | Path) -> list[dict]:
    """Every record of a JSON Lines file; a truncated last line (a crash mid-write) is skipped.

    Raises:
        SinkError: a line other than the last is not valid JSON (names the file and line).
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):  # no newline after it: the write was cut short
                log.warning("%s:%d: skipping a truncated last line", path, number)
                continue
            raise SinkError(f"{path}:{number}: not a JSON record ({err.msg})") from err
    return records
