"""What a dataset layout turns into: per-split lists of videos on disk, plus what is missing.

An index object (one per layout: `UCF101Index`, `KineticsIndex`, ...) reads the annotation files
and checks which listed videos exist; `build()` returns a `DatasetIndex`. Index objects do not
decode anything and do not import torch, so the dataset check can use them in a light process.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from vidlab.errors import UserError

# Extensions of video files the layouts look for (lower case).
VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")
UNLABELED = -1


class AnnotationError(UserError):
    """An annotation file is malformed; the message names the file, the line and what was expected."""

    def __init__(self, path: str | Path, line: int | None, problem: str, expected: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        self._fields = (path, line, problem, expected)
        super().__init__(f"{where}: {problem}; expected {expected}")

    def __reduce__(self) -> tuple:
        return (type(self), self._fields)


@dataclass(frozen=True)
class VideoRecord:
    """One video of a split.

    Attributes:
        path: the video file (exists when the index was built).
        label: class index, or -1 (UNLABELED) for splits whose labels are withheld.
        video_id: the name the annotation uses for it (relative path, YouTube id, SSv2 id).
    """

    path: Path
    label: int
    video_id: str


@dataclass(frozen=True)
class SplitIndex:
    """The videos of one split.

    Attributes:
        name: split name ("train", "val", "test", "validation", ...).
        records: videos listed by the annotation and found on disk, in annotation order.
        missing: ids of listed videos that are not on disk.
        annotation: the annotation file(s) read, or None.
        error: why the split could not be read (e.g. its annotation file is absent), or None.
    """

    name: str
    records: tuple[VideoRecord, ...] = ()
    missing: tuple[str, ...] = ()
    annotation: str | None = None
    error: str | None = None

    @property
    def listed(self) -> int:
        return len(self.records) + len(self.missing)

    @property
    def labeled(self) -> bool:
        """True when every found video has a label."""
        return all(r.label != UNLABELED for r in self.records)


@dataclass(frozen=True)
class DatasetIndex:
    """A dataset layout read from disk.

    Attributes:
        name: dataset name ("ucf101", ...).
        root: the video root directory.
        class_names: class names; label i is class_names[i].
        splits: split name -> SplitIndex.
    """

    name: str
    root: Path
    class_names: tuple[str, ...]
    splits: Mapping[str, SplitIndex] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "splits", MappingProxyType(dict(self.splits)))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> SplitIndex:
        """The split called `name`; KeyError lists the available ones."""
        if name not in self.splits:
            raise KeyError(f"{self.name} has no split {name!r}; available: {sorted(self.splits)}")
        return self.splits[name]


class VideoIndex(ABC):
    """A dataset layout: reads annotations and checks which videos exist."""

    name: str = "videos"

    @abstractmethod
    def build(self) -> DatasetIndex:
        """Read the annotations and check the files; does not decode anything."""


def annotation_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped text) of the non-blank lines of a text file.

    Handles CRLF line ends (the official UCF101 and HMDB51 files use them) and a UTF-8 BOM.
    """
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            text = line.strip()
            if text:
                yield number, text


def require_file(path: Path, what: str) -> Path:
    """`path` if it is a file, else FileNotFoundError naming what it should have been."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def first_existing(directory: Path, names: Iterable[str]) -> Path | None:
    """The first of `names` that exists as a file in `directory`, or None."""
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def scan_videos(root: Path, extensions: Iterable[str] = VIDEO_EXTENSIONS) -> dict[str, Path]:
    """Map file stem -> path for every video file under `root` (recursively, links followed).

    One directory walk serves hundreds of thousands of lookups (Kinetics, SSv2), and finds files
    whether they sit in `<split>/<label>/`, in `<label>/` or flat. When a stem occurs twice the
    first one in sorted walk order wins.
    """
    wanted = tuple(e.lower() for e in extensions)
    found: dict[str, Path] = {}
    for directory, subdirs, files in os.walk(root, followlinks=True):
        subdirs.sort()
        for name in sorted(files):
            stem, ext = os.path.splitext(name)
            if ext.lower() in wanted and stem not in found:
                found[stem] = Path(directory) / name
    return found


def split_found_missing(
    entries: Iterable[tuple[str, int, Path | None]],
) -> tuple[tuple[VideoRecord, ...], tuple[str, ...]]:
    """Partition (video_id, label, path or None) entries into found records and missing ids."""
    records, missing = [], []
    for video_id, label, path in entries:
        if path is not None and path.is_file():
            records.append(VideoRecord(path=path, label=label, video_id=video_id))
        else:
            missing.append(video_id)
    return tuple(records), tuple(missing)
