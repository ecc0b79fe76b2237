"""The default store: tracks, downsampled per-frame boxes and events in one embedded SQLite file.

Engineers keep tracks and events, not raw video. The store is written by one sink (one writer) in
WAL mode, so readers (a notebook, a dashboard) can query it while the pipeline runs, and a crash or a
SIGKILL of the pipeline loses only what was not yet committed: every committed transaction is in the
write-ahead log, which SQLite replays on the next open.

Tables (schema version `SCHEMA_VERSION`, recorded in ``schema_version``):

- ``tracks``: one row per (camera, track_id): first / last frame and stream time, class id (from the
  best-overlapping detection when the track first appears, NULL when unknown), number of frames
  seen, the sum of scores, the path length of the box centre in source pixels, first and last box.
- ``boxes``: per-frame boxes of each track, downsampled (every `box_every`-th observation of a track
  and at least `box_min_interval_s` stream seconds apart).
- ``events``: every `Event` field, ``extra`` as JSON text.

Writes are batched: rows wait in bounded buffers and are committed in one transaction every
`commit_every_frames` frames or `commit_interval_s` wall seconds, whichever comes first (and at once
when `max_pending_rows` is reached). The tracks' running summaries are kept in memory only for
tracks seen within `track_timeout_s` stream seconds (at most `max_active_tracks`); a track that
comes back later merges into its row, since rows are updated with sums, minima and maxima.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.errors import UserError
from vidlab.pipeline.sinks.base import SinkError, dumps, resolve_path
from vidlab.pipeline.types import Event, FrameResult

log = logging.getLogger(__name__)

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "StoreReader", "open_store"]

#: Version of the table layout below; a store written with another version is refused.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tracks (
    camera TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    first_frame INTEGER NOT NULL,
    last_frame INTEGER NOT NULL,
    first_time REAL NOT NULL,
    last_time REAL NOT NULL,
    class_id INTEGER,
    frames INTEGER NOT NULL,
    score_sum REAL NOT NULL,
    distance_px REAL NOT NULL,
    first_box TEXT NOT NULL,
    last_box TEXT NOT NULL,
    PRIMARY KEY (camera, track_id)
);
CREATE INDEX IF NOT EXISTS tracks_camera_time ON tracks (camera, last_time);
CREATE TABLE IF NOT EXISTS boxes (
    camera TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    t REAL NOT NULL,
    x1 REAL NOT NULL,
    y1 REAL NOT NULL,
    x2 REAL NOT NULL,
    y2 REAL NOT NULL,
    score REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS boxes_camera_time ON boxes (camera, t);
CREATE INDEX IF NOT EXISTS boxes_track ON boxes (camera, track_id, t);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    camera TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    item TEXT NOT NULL,
    t_start REAL NOT NULL,
    t_end REAL NOT NULL,
    frame_start INTEGER NOT NULL,
    frame_end INTEGER NOT NULL,
    confidence REAL NOT NULL,
    label TEXT NOT NULL,
    snapshot TEXT,
    extra TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_camera_time ON events (camera, t_start);
CREATE INDEX IF NOT EXISTS events_track ON events (camera, track_id);
"""

_EVENT_COLUMNS = (
    "type",
    "camera",
    "track_id",
    "item",
    "t_start",
    "t_end",
    "frame_start",
    "frame_end",
    "confidence",
    "label",
    "snapshot",
    "extra",
)
_INSERT_EVENT = f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
_INSERT_BOX = "INSERT INTO boxes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Rows carry the increments since the last commit: a track's row accumulates over commits (and over
# evictions from memory), so the store never needs the whole history in memory.
_UPSERT_TRACK = """
INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (camera, track_id) DO UPDATE SET
    first_frame = min(first_frame, excluded.first_frame),
    last_frame = max(last_frame, excluded.last_frame),
    first_time = min(first_time, excluded.first_time),
    last_time = max(last_time, excluded.last_time),
    class_id = coalesce(class_id, excluded.class_id),
    frames = frames + excluded.frames,
    score_sum = score_sum + excluded.score_sum,
    distance_px = distance_px + excluded.distance_px,
    first_box = CASE WHEN excluded.first_time < first_time THEN excluded.first_box ELSE first_box END,
    last_box = CASE WHEN excluded.last_time >= last_time THEN excluded.last_box ELSE last_box END
"""


@dataclass(slots=True)
class _Track:
    """The in-memory summary of one active track; `frames`, `score_sum` and `distance` count only
    what is not yet committed."""

    first_frame: int
    first_time: float
    first_box: tuple[float, ...]
    class_id: int | None
    last_frame: int
    last_time: float
    last_box: tuple[float, ...]
    frames: int = 0
    score_sum: float = 0.0
    distance: float = 0.0
    observations: int = 0
    last_stored_time: float = float("-inf")
    dirty: bool = True


def _best_class(box: np.ndarray, detections: Any) -> int | None:
    """Class id of the detection that overlaps `box` (4,) most (IoU >= 0.5), else None."""
    if detections is None or len(detections) == 0:
        return None
    xyxy = detections.xyxy
    ix1 = np.maximum(xyxy[:, 0], box[0])
    iy1 = np.maximum(xyxy[:, 1], box[1])
    ix2 = np.minimum(xyxy[:, 2], box[2])
    iy2 = np.minimum(xyxy[:, 3], box[3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    union = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]) + area - inter
    iou = inter / np.maximum(union, 1e-9)
    best = int(np.argmax(iou))
    return int(detections.class_id[best]) if iou[best] >= 0.5 else None


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        if not path.is_file():
            raise FileNotFoundError(f"no SQLite store at {path}")
        uri = path.resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False)
    return sqlite3.connect(path, check_same_thread=False, isolation_level=None)


def _check_version(conn: sqlite3.Connection, path: Path) -> int | None:
    """The store's schema version (None for a new, empty file); refuses another version."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if row is None:
        return None
    found = conn.execute("SELECT version FROM schema_version").fetchone()
    if found is not None and found[0] != SCHEMA_VERSION:
        raise UserError(
            f"{path} is a vidlab store of schema version {found[0]}; this vidlab reads and writes "
            f"version {SCHEMA_VERSION} (write to a new file)"
        )
    return None if found is None else int(found[0])


class SQLiteStore:
    """Sink writing tracks, downsampled boxes and events to a SQLite file (see the module doc).

    Args:
        path: the database file (relative paths are inside `run_dir`); an existing store of the
            same schema version is appended to.
        store_tracks: keep the ``tracks`` table.
        box_every: store every k-th observation of each track in ``boxes`` (0: no boxes).
        box_min_interval_s: and at least this many stream seconds after the track's previous box.
        commit_every_frames: commit after this many frames ...
        commit_interval_s: ... or this many wall-clock seconds since the last commit.
        max_pending_rows: commit at once when this many event and box rows wait (bounds memory).
        track_timeout_s: forget a track's in-memory summary this many stream seconds after it was
            last seen (its row stays; if it comes back its row is updated).
        max_active_tracks: at most this many in-memory summaries (least recently seen go first).
        retention_s: delete rows whose time is older than the camera's latest time minus this
            (None: keep everything).
        max_events: keep only the newest this many events (None: no cap).
        max_boxes: keep only the newest this many boxes (None: no cap).
        retention_every: apply retention every this many commits.
        synchronous: SQLite's ``synchronous`` pragma; ``NORMAL`` in WAL mode survives a crash of
            the process (a power loss may lose the last commits), ``FULL`` survives both.
        run_dir: the run directory (passed by `build_sinks`).
    """

    needs_image = False

    def __init__(
        self,
        path: str | Path = "store.sqlite",
        *,
        store_tracks: bool = True,
        box_every: int = 1,
        box_min_interval_s: float = 0.0,
        commit_every_frames: int = 50,
        commit_interval_s: float = 1.0,
        max_pending_rows: int = 20_000,
        track_timeout_s: float = 60.0,
        max_active_tracks: int = 10_000,
        retention_s: float | None = None,
        max_events: int | None = None,
        max_boxes: int | None = None,
        retention_every: int = 20,
        synchronous: str = "NORMAL",
        run_dir: str | Path | None = None,
    ) -> None:
        if box_every < 0 or commit_every_frames < 1 or max_pending_rows < 1:
            raise UserError(
                f"SQLiteStore: box_every must be >= 0 (got {box_every}), commit_every_frames >= 1 "
                f"(got {commit_every_frames}) and max_pending_rows >= 1 (got {max_pending_rows})"
            )
        if max_active_tracks < 1 or retention_every < 1:
            raise UserError(
                f"SQLiteStore: max_active_tracks (got {max_active_tracks}) and retention_every "
                f"(got {retention_every}) must be >= 1"
            )
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise UserError(
                f"SQLiteStore: synchronous must be OFF, NORMAL, FULL or EXTRA, got {synchronous!r}"
            )
        self.path = resolve_path(path, run_dir)
        self.store_tracks = store_tracks
        self.box_every = box_every
        self.box_min_interval_s = box_min_interval_s
        self.commit_every_frames = commit_every_frames
        self.commit_interval_s = commit_interval_s
        self.max_pending_rows = max_pending_rows
        self.track_timeout_s = track_timeout_s
        self.max_active_tracks = max_active_tracks
        self.retention_s = retention_s
        self.max_events = max_events
        self.max_boxes = max_boxes
        self.retention_every = retention_every

        self.events_committed = 0  # events in committed transactions, over the store's lifetime
        self.boxes_committed = 0
        self.commits = 0
        self._events: list[tuple] = []
        self._boxes: list[tuple] = []
        self._tracks: OrderedDict[tuple[str, int], _Track] = OrderedDict()
        self._evicted: list[tuple] = []  # upsert rows of summaries dropped from memory
        self._latest_time: dict[str, float] = {}
        self._frames_since_commit = 0
        self._last_commit = time.monotonic()
        self._closed = False
        self._conn = self._open(synchronous.upper())

    # ---- connection -------------------------------------------------------------------------

    def _open(self, synchronous: str) -> sqlite3.Connection:
        try:
            conn = _connect(self.path)
            _check_version(conn, self.path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("%s: journal mode is %s, not WAL", self.path, mode)
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.executescript(_SCHEMA)
            if conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
                conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION, time.time())
                )
        except sqlite3.Error as err:
            raise SinkError(f"cannot open the SQLite store {self.path}: {err}") from err
        return conn

    # ---- writing ----------------------------------------------------------------------------

    def write(self, result: FrameResult) -> None:
        """Buffer the frame's events, boxes and track summaries; commit when a batch is due."""
        if self._closed:
            raise SinkError(f"write to the SQLite store {self.path} after close()")
        frame = result.frame
        camera = frame.stream_id
        self._latest_time[camera] = max(self._latest_time.get(camera, frame.pts), frame.pts)
        for event in result.events:
            self._events.append(_event_row(event))
        if result.tracks is not None and len(result.tracks):
            self._add_tracks(result, camera)
        self._frames_since_commit += 1
        pending = len(self._events) + len(self._boxes) + len(self._evicted)
        if (
            self._frames_since_commit >= self.commit_every_frames
            or pending >= self.max_pending_rows
            or time.monotonic() - self._last_commit >= self.commit_interval_s
        ):
            self.flush()

    def _add_tracks(self, result: FrameResult, camera: str) -> None:
        frame = result.frame
        tracks = result.tracks
        t = frame.pts
        boxes = tracks.xyxy.tolist()
        ids = tracks.track_id.tolist()
        scores = tracks.score.tolist()
        active = self._tracks
        for box, tid, score in zip(boxes, ids, scores, strict=True):
            key = (camera, tid)
            state = active.get(key)
            if state is None:
                cls = _best_class(np.asarray(box), result.detections)
                state = _Track(frame.index, t, tuple(box), cls, frame.index, t, tuple(box))
                active[key] = state
                if len(active) > self.max_active_tracks:
                    self._evict(*active.popitem(last=False))
            else:
                active.move_to_end(key)
                # Path length of the box centre (source pixels).
                lb = state.last_box
                dx = (box[0] + box[2] - lb[0] - lb[2]) * 0.5
                dy = (box[1] + box[3] - lb[1] - lb[3]) * 0.5
                state.distance += (dx * dx + dy * dy) ** 0.5
                state.last_frame, state.last_time, state.last_box = frame.index, t, tuple(box)
            state.frames += 1
            state.score_sum += score
            state.dirty = True
            if (
                self.box_every
                and state.observations % self.box_every == 0
                and t - state.last_stored_time >= self.box_min_interval_s
            ):
                self._boxes.append((camera, tid, frame.index, t, *box, score))
                state.last_stored_time = t
            state.observations += 1

    def _track_row(self, key: tuple[str, int], s: _Track) -> tuple:
        return (
            key[0],
            key[1],
            s.first_frame,
            s.last_frame,
            s.first_time,
            s.last_time,
            s.class_id,
            s.frames,
            s.score_sum,
            s.distance,
            json.dumps([round(v, 2) for v in s.first_box]),
            json.dumps([round(v, 2) for v in s.last_box]),
        )

    def _evict(self, key: tuple[str, int], state: _Track) -> None:
        if state.dirty and self.store_tracks:
            self._evicted.append(self._track_row(key, state))

    def _expire_tracks(self) -> None:
        """Drop the summaries of tracks not seen for `track_timeout_s` stream seconds."""
        stale = [
            key
            for key, s in self._tracks.items()
            if s.last_time < self._latest_time.get(key[0], s.last_time) - self.track_timeout_s
        ]
        for key in stale:
            self._evict(key, self._tracks.pop(key))

    def flush(self) -> None:
        """Commit every pending row in one transaction (and apply retention when due)."""
        self._expire_tracks()
        track_rows = list(self._evicted)
        dirty = [(k, s) for k, s in self._tracks.items() if s.dirty] if self.store_tracks else []
        track_rows += [self._track_row(k, s) for k, s in dirty]
        conn = self._conn
        try:
            conn.execute("BEGIN")
            if self._events:
                conn.executemany(_INSERT_EVENT, self._events)
            if self._boxes:
                conn.executemany(_INSERT_BOX, self._boxes)
            if track_rows:
                conn.executemany(_UPSERT_TRACK, track_rows)
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise SinkError(f"cannot commit to the SQLite store {self.path}: {err}") from err
        self.events_committed += len(self._events)
        self.boxes_committed += len(self._boxes)
        self._events.clear()
        self._boxes.clear()
        self._evicted.clear()
        for _, s in dirty:
            s.frames, s.score_sum, s.distance, s.dirty = 0, 0.0, 0.0, False
        self.commits += 1
        self._frames_since_commit = 0
        self._last_commit = time.monotonic()
        if self.commits % self.retention_every == 0:
            self.apply_retention()

    def apply_retention(self) -> None:
        """Delete rows older than `retention_s` per camera and beyond the `max_events` /
        `max_boxes` caps (one transaction)."""
        if self.retention_s is None and self.max_events is None and self.max_boxes is None:
            return
        conn = self._conn
        try:
            conn.execute("BEGIN")
            if self.retention_s is not None:
                for camera, latest in self._latest_time.items():
                    cutoff = latest - self.retention_s
                    conn.execute(
                        "DELETE FROM events WHERE camera = ? AND t_end < ?", (camera, cutoff)
                    )
                    conn.execute("DELETE FROM boxes WHERE camera = ? AND t < ?", (camera, cutoff))
                    conn.execute(
                        "DELETE FROM tracks WHERE camera = ? AND last_time < ?", (camera, cutoff)
                    )
            if self.max_events is not None:
                conn.execute(
                    "DELETE FROM events WHERE id <= "
                    "(SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (self.max_events,),
                )
            if self.max_boxes is not None:
                conn.execute(
                    "DELETE FROM boxes WHERE rowid <= "
                    "(SELECT rowid FROM boxes ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
                    (self.max_boxes,),
                )
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise SinkError(
                f"cannot apply retention to the SQLite store {self.path}: {err}"
            ) from err

    def close(self) -> None:
        """Commit what is pending (every active track's summary included) and close the file; a
        second call does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            for key in list(self._tracks):
                self._evict(key, self._tracks.pop(key))
            self.flush()
            self.apply_retention()
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as err:
            raise SinkError(f"cannot close the SQLite store {self.path}: {err}") from err
        finally:
            self._conn.close()
        log.info("wrote %d events to %s", self.events_committed, self.path)


def _event_row(event: Event) -> tuple:
    return (
        event.type,
        event.camera,
        int(event.track_id),
        event.item,
        float(event.t_start),
        float(event.t_end),
        int(event.frame_start),
        int(event.frame_end),
        float(event.confidence),
        event.label,
        event.snapshot,
        dumps(event.extra),
    )


# ---- reading ----------------------------------------------------------------------------------


class StoreReader:
    """Read-only access to a store (safe while the pipeline writes to it).

    Use `open_store`. Each query returns plain Python lists; the ``*_frame`` methods return pandas
    DataFrames for notebooks.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._conn = _connect(self.path, read_only=True)
            self.schema_version = _check_version(self._conn, self.path)
        except sqlite3.Error as err:
            raise SinkError(f"cannot read the SQLite store {self.path}: {err}") from err
        if self.schema_version is None:
            raise UserError(f"{self.path} is not a vidlab store (no schema_version table)")

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        self._conn.row_factory = sqlite3.Row
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise SinkError(f"cannot query the SQLite store {self.path}: {err}") from err

    @staticmethod
    def _where(camera: str | None, column: str, since: float | None, until: float | None):
        clauses, params = [], []
        if camera is not None:
            clauses.append("camera = ?")
            params.append(camera)
        if since is not None:
            clauses.append(f"{column} >= ?")
            params.append(since)
        if until is not None:
            clauses.append(f"{column} <= ?")
            params.append(until)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def events(
        self,
        camera: str | None = None,
        since: float | None = None,
        until: float | None = None,
        type: str | None = None,  # noqa: A002 - the Event field's name
    ) -> list[Event]:
        """Events (in insertion order), optionally of one camera, type and `t_start` range."""
        where, params = self._where(camera, "t_start", since, until)
        if type is not None:
            where += (" AND " if where else " WHERE ") + "type = ?"
            params += (type,)
        rows = self._query(f"SELECT * FROM events{where} ORDER BY id", params)
        out = []
        for row in rows:
            data = {k: row[k] for k in _EVENT_COLUMNS}
            data["extra"] = json.loads(data["extra"])
            out.append(Event(**data))
        return out

    def event_ids(self) -> list[int]:
        """The row ids of the stored events, ascending."""
        return [r[0] for r in self._query("SELECT id FROM events ORDER BY id")]

    def tracks(self, camera: str | None = None) -> list[dict[str, Any]]:
        """One dict per track (the table's columns, boxes decoded, plus ``mean_score``)."""
        where, params = self._where(camera, "last_time", None, None)
        out = []
        for row in self._query(f"SELECT * FROM tracks{where} ORDER BY camera, track_id", params):
            rec = dict(row)
            rec["first_box"] = json.loads(rec["first_box"])
            rec["last_box"] = json.loads(rec["last_box"])
            rec["mean_score"] = rec["score_sum"] / rec["frames"] if rec["frames"] else 0.0
            out.append(rec)
        return out

    def boxes(
        self,
        camera: str | None = None,
        track_id: int | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[dict[str, Any]]:
        """Stored boxes ordered by camera, track and time."""
        where, params = self._where(camera, "t", since, until)
        if track_id is not None:
            where += (" AND " if where else " WHERE ") + "track_id = ?"
            params += (int(track_id),)
        rows = self._query(f"SELECT * FROM boxes{where} ORDER BY camera, track_id, t", params)
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {
            t: self._query(f"SELECT count(*) FROM {t}")[0][0] for t in ("tracks", "boxes", "events")
        }

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` ("ok" for a sound file)."""
        return self._query("PRAGMA integrity_check")[0][0]

    def events_frame(self, **filters: Any):
        """`events` as a pandas DataFrame (one column per Event field)."""
        import pandas as pd

        columns = list(Event.__dataclass_fields__)
        return pd.DataFrame([e.to_dict() for e in self.events(**filters)], columns=columns)

    def tracks_frame(self, camera: str | None = None):
        """`tracks` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.tracks(camera))

    def boxes_frame(self, **filters: Any):
        """`boxes` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.boxes(**filters))


def open_store(path: str | Path) -> StoreReader:
    """Open a store written by `SQLiteStore` for reading.

    Raises:
        FileNotFoundError: no file at `path`.
        UserError: the file is not a vidlab store or has another schema version.
    """
    return StoreReader(path)
