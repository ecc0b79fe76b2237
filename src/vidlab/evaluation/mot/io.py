"""Readers, writers and validation for the MOTChallenge text formats (numpy only, no torch).

A MOTChallenge sequence folder holds `seqinfo.ini`, `gt/gt.txt`, `det/det.txt` and optionally
`img1/`. All three text files share one row layout, one box per line, comma (or whitespace)
separated, with 1-based frame numbers and boxes as top-left x, y, width, height in pixels:

============  ====================================================================================
columns       layout
============  ====================================================================================
7             frame, id, x, y, w, h, score
8             frame, id, x, y, w, h, score, class
9             frame, id, x, y, w, h, score, class, visibility           (MOT16/17/20 ground truth)
10            frame, id, x, y, w, h, score, wx, wy, wz   (results, detections, MOT15 ground truth)
============  ====================================================================================

"score" is the detector or tracker confidence in results and detection files and the "consider"
flag in ground truth (0 marks a box that is ignored by the evaluation). In the 10-column layout the
last three columns are world coordinates (or -1), never a class, so `class_id` is -1 there.
"""

from __future__ import annotations

import configparser
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from vidlab.errors import UserError

logger = logging.getLogger(__name__)

MotKind = Literal["gt", "results", "det"]
_KINDS: tuple[str, ...] = ("gt", "results", "det")

MIN_COLUMNS = 7
MAX_COLUMNS = 10
# Column indices of the MOTChallenge row layout.
COL_FRAME, COL_ID, COL_BOX, COL_SCORE, COL_CLASS, COL_VISIBILITY = 0, 1, slice(2, 6), 6, 7, 8
# Files with exactly these column counts carry a class column (and a visibility column for 9).
_CLASS_COLUMN_COUNTS = (8, 9)
_VISIBILITY_COLUMN_COUNT = 9
NO_VALUE = -1  # written in place of columns a file does not have (MOTChallenge convention)
RESULTS_COLUMNS = 10

SEQINFO_SECTION = "Sequence"
SEQINFO_FILE = "seqinfo.ini"
# Entries that make a folder a sequence folder, even when its seqinfo.ini is missing.
SEQUENCE_MARKERS = ("gt", "det", "img1")


class MotFormatError(UserError):
    """A MOTChallenge file does not follow the format; the message names the file and line."""


# --------------------------------------------------------------------------------------------
# seqinfo.ini


@dataclass(frozen=True)
class SeqInfo:
    """The `[Sequence]` section of a MOTChallenge `seqinfo.ini`.

    Attributes:
        name: Sequence name, e.g. "MOT17-02-FRCNN".
        seq_length: Number of frames; frames are numbered 1..seq_length.
        frame_rate: Frames per second.
        im_width: Image width in pixels.
        im_height: Image height in pixels.
        im_dir: Image folder relative to the sequence folder, usually "img1".
        im_ext: Image file extension with its dot, usually ".jpg".
    """

    name: str
    seq_length: int
    frame_rate: float
    im_width: int
    im_height: int
    im_dir: str
    im_ext: str


_SEQINFO_KEYS: dict[str, tuple[str, type]] = {
    "name": ("name", str),
    "seq_length": ("seqLength", int),
    "frame_rate": ("frameRate", float),
    "im_width": ("imWidth", int),
    "im_height": ("imHeight", int),
    "im_dir": ("imDir", str),
    "im_ext": ("imExt", str),
}


def read_seqinfo(path: str | Path) -> SeqInfo:
    """Read a `seqinfo.ini` file, or the one inside a sequence folder.

    Args:
        path: The ini file, or the sequence folder that holds `seqinfo.ini`.

    Returns:
        The parsed `SeqInfo`.

    Raises:
        FileNotFoundError: The file does not exist.
        MotFormatError: The `[Sequence]` section, a key, or a numeric value is missing or invalid.
    """
    path = Path(path)
    if path.is_dir():
        path = path / SEQINFO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such seqinfo.ini file")
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep the camelCase keys as written
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as err:
        raise MotFormatError(f"{path}: not a valid ini file ({err})") from err
    except UnicodeDecodeError as err:
        raise MotFormatError(
            f"{path}: byte 0x{err.object[err.start]:02x} at offset {err.start} is not UTF-8, "
            f"expected a UTF-8 or ASCII ini file"
        ) from None
    if SEQINFO_SECTION not in parser:
        raise MotFormatError(f"{path}: expected a [{SEQINFO_SECTION}] section")
    section = parser[SEQINFO_SECTION]
    values: dict[str, object] = {}
    for field, (key, cast) in _SEQINFO_KEYS.items():
        if key not in section:
            raise MotFormatError(f"{path}: [{SEQINFO_SECTION}] has no {key!r} key")
        raw = section[key].strip()
        try:
            values[field] = cast(raw)
        except ValueError as err:
            raise MotFormatError(f"{path}: {key}={raw!r} is not a valid {cast.__name__}") from err
    info = SeqInfo(**values)  # type: ignore[arg-type]
    if info.seq_length < 1:
        raise MotFormatError(f"{path}: seqLength={info.seq_length}, expected a positive integer")
    return info


def find_sequences(root: str | Path, *, allow_missing: bool = False) -> list[Path]:
    """List the sequence folders (those holding `seqinfo.ini`) directly under `root`, sorted by name.

    A subfolder that looks like a sequence (it holds `gt/`, `det/` or `img1/`) but has no
    `seqinfo.ini` cannot be read: it is an error, or with `allow_missing` a logged, skipped folder.

    Args:
        root: Folder of MOTChallenge sequence folders.
        allow_missing: Skip (with a warning) sequence folders without `seqinfo.ini`.

    Raises:
        FileNotFoundError: `root` is not a directory, or a sequence folder has no `seqinfo.ini`
            (and `allow_missing` is false).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory of MOTChallenge sequence folders")
    found, unreadable = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (folder / SEQINFO_FILE).is_file():
            found.append(folder)
        elif any((folder / marker).exists() for marker in SEQUENCE_MARKERS):
            unreadable.append(folder)
    if unreadable:
        listed = ", ".join(str(folder / SEQINFO_FILE) for folder in unreadable)
        if not allow_missing:
            raise FileNotFoundError(
                f"{len(unreadable)} sequence folder(s) under {root} have no {SEQINFO_FILE}: "
                f"{listed}; expected one per sequence (or set allow_missing=true to skip them)"
            )
        logger.warning(
            "skipping %d sequence folder(s) without %s (allow_missing=true): %s",
            len(unreadable), SEQINFO_FILE, listed,
        )  # fmt: skip
    return found


# --------------------------------------------------------------------------------------------
# MotTable


@dataclass(frozen=True)
class MotTable:
    """The rows of one MOTChallenge text file, sorted by frame then id.

    Attributes:
        frame: (N,) int64, 1-based frame numbers.
        track_id: (N,) int64 track or ground-truth ids (-1 for detections).
        tlwh: (N, 4) float64 boxes: top-left x, y, width, height in pixels.
        score: (N,) float64 confidence (detections, results) or the "consider" flag (ground truth).
        class_id: (N,) int64 class, -1 where the file has no class column.
        visibility: (N,) float64 visibility ratio in [0, 1], -1 where the file has no such column.
    """

    frame: np.ndarray
    track_id: np.ndarray
    tlwh: np.ndarray
    score: np.ndarray
    class_id: np.ndarray
    visibility: np.ndarray

    def __post_init__(self) -> None:
        specs = {
            "frame": np.int64,
            "track_id": np.int64,
            "tlwh": np.float64,
            "score": np.float64,
            "class_id": np.int64,
            "visibility": np.float64,
        }
        for name, dtype in specs.items():
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))
        n = self.frame.shape[0]
        for name in specs:
            expected = (n, 4) if name == "tlwh" else (n,)
            if getattr(self, name).shape != expected:
                raise ValueError(
                    f"MotTable.{name} has shape {getattr(self, name).shape}, expected {expected}"
                )
        if n > 1 and not _is_sorted(self.frame, self.track_id):
            raise ValueError(
                "MotTable rows must be sorted by frame then id; build it with MotTable.from_arrays"
            )

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    @classmethod
    def empty(cls) -> MotTable:
        """A table with no rows."""
        return cls.from_arrays(np.zeros(0), np.zeros(0), np.zeros((0, 4)))

    @classmethod
    def from_arrays(
        cls,
        frame: np.ndarray,
        track_id: np.ndarray,
        tlwh: np.ndarray,
        score: np.ndarray | None = None,
        class_id: np.ndarray | None = None,
        visibility: np.ndarray | None = None,
    ) -> MotTable:
        """Build a table from unsorted columns, sorting rows by (frame, id).

        Args:
            frame: (N,) 1-based frame numbers.
            track_id: (N,) ids.
            tlwh: (N, 4) boxes in pixels.
            score: (N,) scores; 1 when omitted.
            class_id: (N,) classes; -1 when omitted.
            visibility: (N,) visibilities; -1 when omitted.
        """
        frame = np.asarray(frame, dtype=np.int64).reshape(-1)
        n = frame.shape[0]
        track_id = np.asarray(track_id, dtype=np.int64).reshape(-1)
        tlwh = np.asarray(tlwh, dtype=np.float64).reshape(n, 4)
        score = np.ones(n) if score is None else np.asarray(score, dtype=np.float64)
        class_id = np.full(n, NO_VALUE, np.int64) if class_id is None else class_id
        visibility = np.full(n, float(NO_VALUE)) if visibility is None else visibility
        if _is_sorted(frame, track_id):
            order = slice(None)
        else:
            order = np.lexsort((track_id, frame))  # stable: ties keep their input order
        return cls(
            frame=frame[order],
            track_id=track_id[order],
            tlwh=tlwh[order],
            score=np.asarray(score, dtype=np.float64)[order],
            class_id=np.asarray(class_id, dtype=np.int64)[order],
            visibility=np.asarray(visibility, dtype=np.float64)[order],
        )

    def at_frame(self, frame: int) -> MotTable:
        """The rows of one 1-based frame (an empty table when the frame has none)."""
        lo, hi = np.searchsorted(self.frame, [frame, frame + 1])
        return self.take(slice(int(lo), int(hi)))

    def take(self, index: slice | np.ndarray) -> MotTable:
        """The rows selected by a slice, boolean mask or sorted index array (order is kept)."""
        return MotTable(
            frame=self.frame[index],
            track_id=self.track_id[index],
            tlwh=self.tlwh[index],
            score=self.score[index],
            class_id=self.class_id[index],
            visibility=self.visibility[index],
        )

    def frame_bounds(self, num_frames: int) -> np.ndarray:
        """Row offsets of each frame: rows of frame f are `bounds[f - 1]:bounds[f]`.

        Args:
            num_frames: Number of frames of the sequence.

        Returns:
            (num_frames + 1,) int64 offsets into the rows.
        """
        return np.searchsorted(self.frame, np.arange(1, num_frames + 2)).astype(np.int64)


def _is_sorted(frame: np.ndarray, track_id: np.ndarray) -> bool:
    """Whether rows are sorted by frame, then id (non-decreasing)."""
    dframe = np.diff(frame)
    if np.any(dframe < 0):
        return False
    same = dframe == 0
    return not np.any(np.diff(track_id)[same] < 0)


# --------------------------------------------------------------------------------------------
# Reading


def read_mot_txt(path: str | Path, *, kind: MotKind, num_frames: int | None = None) -> MotTable:
    """Read and validate one MOTChallenge text file.

    Blank lines are skipped and a trailing delimiter on a line is tolerated. An empty file gives an
    empty table.

    Args:
        path: The text file.
        kind: "gt" (ground truth), "results" (tracker output) or "det" (detections).
        num_frames: Sequence length; frame numbers above it are an error. None skips that check.

    Returns:
        The rows, sorted by frame then id.

    Raises:
        FileNotFoundError: The file does not exist.
        MotFormatError: The message names the file, the 1-based line and what was expected, for a
            column count outside 7..10 or differing from the first line, a non-numeric field, NaN
            or inf, a negative width or height, a frame number below 1 or above `num_frames`, a
            non-integer frame or id, a negative id (gt, results), and the same id twice in one
            frame (gt, results).
    """
    if kind not in _KINDS:
        raise ValueError(f"kind={kind!r}, expected one of {_KINDS}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such MOTChallenge {kind} file")
    rows = _parse_rows(path)
    if rows.shape[0] == 0:
        return MotTable.empty()
    _validate_rows(rows, path, kind=kind, num_frames=num_frames)
    return _table_from_rows(rows)


def _parse_rows(path: Path) -> np.ndarray:
    """Parse the file into an (N, C) float64 array, one row per non-blank line."""
    lines = _read_lines(path)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return np.zeros((0, MIN_COLUMNS))
    delimiter = "," if "," in first else None
    try:
        # numpy's C parser; blank lines are skipped. Any irregularity falls to the careful path.
        rows = np.loadtxt(lines, delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        rows = _parse_rows_slowly(lines, delimiter, path)
    if not MIN_COLUMNS <= rows.shape[1] <= MAX_COLUMNS:
        raise MotFormatError(
            f"{path}:{_line_number(path, 0)}: {rows.shape[1]} columns, expected "
            f"{MIN_COLUMNS} to {MAX_COLUMNS} (frame, id, x, y, w, h, score, ...)"
        )
    return rows


def _read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 (or ASCII) text file.

    Raises:
        MotFormatError: UTF-16 text, NUL bytes, or bytes that are not UTF-8; the message names
            the line.
    """
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise MotFormatError(
            f"{path}: UTF-16 text (byte-order mark or NUL bytes), expected UTF-8 or ASCII "
            f"MOTChallenge text; convert it, e.g. iconv -f UTF-16 -t UTF-8"
        )
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        lineno = data.count(b"\n", 0, err.start) + 1
        raise MotFormatError(
            f"{path}:{lineno}: byte 0x{data[err.start]:02x} is not UTF-8, expected UTF-8 or "
            f"ASCII MOTChallenge text"
        ) from None


def _parse_rows_slowly(lines: list[str], delimiter: str | None, path: Path) -> np.ndarray:
    """Line-by-line parser that tolerates trailing delimiters and names the first bad line."""
    values: list[list[float]] = []
    num_columns = None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.strip().split(delimiter)]
        if delimiter is not None and fields[-1] == "":
            fields = fields[:-1]  # one trailing delimiter, as some tools write
        if num_columns is None:
            num_columns = len(fields)
        if len(fields) != num_columns or not MIN_COLUMNS <= len(fields) <= MAX_COLUMNS:
            raise MotFormatError(
                f"{path}:{lineno}: {len(fields)} columns, expected "
                f"{num_columns if MIN_COLUMNS <= num_columns <= MAX_COLUMNS else '7 to 10'} "
                f"like the first line (frame, id, x, y, w, h, score, ...): {line.strip()!r}"
            )
        try:
            values.append([float(f) for f in fields])
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            raise MotFormatError(
                f"{path}:{lineno}: field {bad!r} is not a number: {line.strip()!r}"
            ) from None
    return np.asarray(values, dtype=np.float64).reshape(len(values), num_columns or MIN_COLUMNS)


def _is_float(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _line_number(path: Path, row: int) -> int:
    """1-based file line of the `row`-th (0-based) non-blank line of a file."""
    seen = -1
    for lineno, line in enumerate(_read_lines(path), start=1):
        if line.strip():
            seen += 1
            if seen == row:
                return lineno
    raise IndexError(f"{path}: row {row} is beyond the end of the file")


def _validate_rows(rows: np.ndarray, path: Path, *, kind: MotKind, num_frames: int | None) -> None:
    """Vectorised checks of parsed rows; the first failing row is reported with its line."""

    def fail(mask: np.ndarray, what: str) -> None:
        row = int(np.flatnonzero(mask)[0])
        lineno = _line_number(path, row)
        line = _read_lines(path)[lineno - 1].strip()
        raise MotFormatError(f"{path}:{lineno}: {what}: {line!r}")

    finite = np.isfinite(rows)
    if not finite.all():
        fail(~finite.all(axis=1), "NaN or inf value, expected finite numbers")
    frame, ids, sizes = rows[:, COL_FRAME], rows[:, COL_ID], rows[:, 4:6]
    if np.any(frame != np.round(frame)):
        fail(frame != np.round(frame), "frame number is not an integer")
    if np.any(frame < 1):
        fail(frame < 1, "frame number below 1, expected 1-based frames")
    if num_frames is not None and np.any(frame > num_frames):
        fail(frame > num_frames, f"frame number above the sequence length {num_frames}")
    if np.any(sizes < 0):
        fail((sizes < 0).any(axis=1), "negative width or height")
    if np.any(ids != np.round(ids)):
        fail(ids != np.round(ids), "id is not an integer")
    if kind != "det":
        if np.any(ids < 0):
            fail(ids < 0, f"negative id, expected ids >= 0 in a {kind} file")
        _check_unique_ids(rows, fail, kind)


def _check_unique_ids(rows: np.ndarray, fail, kind: str) -> None:
    """Fail on the second occurrence of an id within one frame."""
    frame = rows[:, COL_FRAME].astype(np.int64)
    ids = rows[:, COL_ID].astype(np.int64)
    order = np.lexsort((ids, frame))
    dup_sorted = (np.diff(frame[order]) == 0) & (np.diff(ids[order]) == 0)
    if dup_sorted.any():
        dup_rows = order[1:][dup_sorted]
        mask = np.zeros(rows.shape[0], dtype=bool)
        mask[dup_rows.min()] = True  # the earliest line that repeats an id
        fail(mask, f"id already used in this frame, expected unique ids per frame in a {kind} file")


def _table_from_rows(rows: np.ndarray) -> MotTable:
    """Build the sorted table from validated (N, C) rows."""
    n, num_columns = rows.shape
    has_class = num_columns in _CLASS_COLUMN_COUNTS
    return MotTable.from_arrays(
        frame=rows[:, COL_FRAME],
        track_id=rows[:, COL_ID],
        tlwh=rows[:, COL_BOX],
        score=rows[:, COL_SCORE],
        class_id=rows[:, COL_CLASS] if has_class else np.full(n, NO_VALUE),
        visibility=(
            rows[:, COL_VISIBILITY]
            if num_columns == _VISIBILITY_COLUMN_COUNT
            else np.full(n, float(NO_VALUE))
        ),
    )


# --------------------------------------------------------------------------------------------
# Writing


def write_mot_txt(path: str | Path, table: MotTable) -> None:
    """Write a table in the 10-column MOTChallenge results format.

    Each line is `frame,id,x,y,w,h,score,-1,-1,-1`. Floats are written in their shortest
    round-trip form, so reading the file back gives the same values bit for bit.

    Args:
        path: Output file; its parent folder is created if needed.
        table: The rows to write (already sorted by frame then id).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tail = ",".join([str(NO_VALUE)] * (RESULTS_COLUMNS - MIN_COLUMNS))
    lines = [
        f"{f},{i},{x!r},{y!r},{w!r},{h!r},{s!r},{tail}\n"
        for f, i, (x, y, w, h), s in zip(
            table.frame.tolist(),
            table.track_id.tolist(),
            table.tlwh.tolist(),
            table.score.tolist(),
            strict=True,
        )
    ]
    path.write_text("".join(lines), encoding="utf-8")
    logger.debug("wrote %d rows to %s", len(lines), path)
