"""Generic layouts: a list file of ``path label`` per split, or one folder per class.

`VideoListIndex` (``data=video_csv``) reads, per split, a text file of ``<path> <label>`` lines
(whitespace separated; paths may contain spaces, the label is the last field) or a ``.csv``
file of ``path,label`` rows with an optional header. Paths are relative to the root (absolute
paths are kept). Labels are class indices or class names; names are numbered in sorted order
unless a classes file (one name per line) fixes the order.

`VideoFolderIndex` (``data=video_folder``) reads ``<root>/<split>/<class>/<video>``; classes are
the sorted union of the class folders of all splits.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

from vidlab.data.datasets.records import (
    VIDEO_EXTENSIONS,
    AnnotationError,
    DatasetIndex,
    SplitIndex,
    VideoIndex,
    VideoRecord,
    annotation_lines,
    require_file,
    split_found_missing,
)

LIST_FORMAT = "'<path> <label>' lines, or 'path,label' CSV rows"
HEADER_FIELDS = ("path", "label")


class VideoListIndex(VideoIndex):
    """Splits listed in text or CSV files.

    Args:
        root: folder the listed paths are relative to.
        annotation_dir: folder of the list files (default: root).
        files: split name -> list file name in annotation_dir.
        classes_file: file of class names (one per line) in annotation_dir, or None.
        name: dataset name used in reports.
    """

    def __init__(
        self,
        root: str | Path,
        annotation_dir: str | Path | None = None,
        files: Mapping[str, str] | None = None,
        classes_file: str | None = None,
        name: str = "video_csv",
    ) -> None:
        self.root = Path(root)
        self.annotation_dir = Path(annotation_dir) if annotation_dir else self.root
        self.files = dict(files or {"train": "train.csv", "val": "val.csv", "test": "test.csv"})
        self.classes_file = classes_file
        self.name = name

    def build(self) -> DatasetIndex:
        rows, errors = {}, {}
        for split, filename in self.files.items():
            path = self.annotation_dir / filename
            if path.is_file():
                rows[split] = (path, list(read_video_list(path)))
            else:
                errors[split] = f"list file not found: {path}"
        classes = self._class_names(rows)
        splits = {split: SplitIndex(split, error=error) for split, error in errors.items()}
        for split, (path, items) in rows.items():
            entries = [
                (rel, _label_index(path, n, label, classes), self._resolve(rel))
                for n, rel, label in items
            ]
            splits[split] = SplitIndex(split, *split_found_missing(entries), annotation=str(path))
        return DatasetIndex(self.name, self.root, tuple(classes), splits)

    def _resolve(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.root / path

    def _class_names(self, rows: Mapping[str, tuple[Path, list]]) -> list[str]:
        if self.classes_file:
            path = require_file(self.annotation_dir / self.classes_file, "classes file")
            return [text for _, text in annotation_lines(path)]
        labels = [(path, n, label) for path, items in rows.values() for n, _, label in items]
        numeric = [label.isdigit() for _, _, label in labels]
        if all(numeric):
            count = max((int(label) for _, _, label in labels), default=-1) + 1
            return [str(i) for i in range(count)]
        if any(numeric):
            path, n, label = labels[numeric.index(True)]
            raise AnnotationError(
                path,
                n,
                f"numeric label {label!r} among class-name labels",
                "all labels numeric or all names (or set classes_file)",
            )
        return sorted({label for _, _, label in labels})


def read_video_list(path: Path) -> Iterable[tuple[int, str, str]]:
    """(line number, path, label) of each entry of a list file (.csv or whitespace separated)."""
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            for number, row in enumerate(csv.reader(f), start=1):
                if not row or not "".join(row).strip():
                    continue
                if number == 1 and tuple(c.strip().lower() for c in row[:2]) == HEADER_FIELDS:
                    continue
                if len(row) < 2:
                    raise AnnotationError(path, number, f"got {row!r}", LIST_FORMAT)
                yield number, row[0].strip(), row[1].strip()
        return
    for number, text in annotation_lines(path):
        parts = text.rsplit(maxsplit=1)
        if len(parts) != 2:
            raise AnnotationError(path, number, f"got {text!r}", LIST_FORMAT)
        yield number, parts[0], parts[1]


def _label_index(path: Path, line: int, label: str, classes: list[str]) -> int:
    if label.isdigit():
        index = int(label)
        if index >= len(classes):
            raise AnnotationError(
                path,
                line,
                f"label {index} but only {len(classes)} classes",
                f"a class index in 0..{len(classes) - 1}",
            )
        return index
    if label not in classes:
        raise AnnotationError(
            path, line, f"unknown class {label!r}", "a name from the classes file"
        )
    return classes.index(label)


class VideoFolderIndex(VideoIndex):
    """``<root>/<split>/<class>/<video>`` layout.

    Args:
        root: folder holding one folder per split.
        annotation_dir: unused (the layout has no annotation files); kept for a uniform config.
        split_dirs: split name -> folder name under root.
        extensions: video file extensions to include.
        name: dataset name used in reports.
    """

    def __init__(
        self,
        root: str | Path,
        annotation_dir: str | Path | None = None,
        split_dirs: Mapping[str, str] | None = None,
        extensions: Iterable[str] = VIDEO_EXTENSIONS,
        name: str = "video_folder",
    ) -> None:
        self.root = Path(root)
        self.split_dirs = dict(split_dirs or {"train": "train", "val": "val", "test": "test"})
        self.extensions = tuple(e.lower() for e in extensions)
        self.name = name

    def build(self) -> DatasetIndex:
        """Index the layout.

        Raises:
            FileNotFoundError: `root` is not a folder, or holds none of the split folders.
        """
        layout = "<root>/<split>/<class>/<video>"
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: video folder root not found; expected {layout}")
        present = {s: self.root / d for s, d in self.split_dirs.items() if (self.root / d).is_dir()}
        if not present:
            raise FileNotFoundError(
                f"{self.root}: none of the split folders {sorted(set(self.split_dirs.values()))} "
                f"exists; expected {layout}"
            )
        classes = sorted({c.name for d in present.values() for c in d.iterdir() if c.is_dir()})
        splits = {}
        for split, folder in self.split_dirs.items():
            if split not in present:
                splits[split] = SplitIndex(
                    split, error=f"split folder not found: {self.root / folder}"
                )
                continue
            records = [
                VideoRecord(path=f, label=label, video_id=f"{name}/{f.name}")
                for label, name in enumerate(classes)
                for f in sorted((present[split] / name).glob("*"))
                if f.is_file() and f.suffix.lower() in self.extensions
            ]
            splits[split] = SplitIndex(split, tuple(records), annotation=str(present[split]))
        return DatasetIndex(self.name, self.root, tuple(classes), splits)
