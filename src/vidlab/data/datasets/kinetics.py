"""Kinetics-400 / 600 / 700 (Kay et al., 2017; Carreira et al., 2018, 2019).

Annotations: the official CSV files, one row per clip,
``label,youtube_id,time_start,time_end,split[,is_cc]`` (test files of the later releases have no
label column). Three naming conventions are in use and all are found by default: the DeepMind
archive (``train.csv``, ``validate.csv``, ``test.csv``), the CVDF mirror (``val.csv``) and the
ActivityNet crawler (``kinetics-400_train.csv``, ...).

Videos: ``<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>``, in ``<split>/<label>/``, in
``<label>/`` or flat: the root is scanned once and files are matched by name, wherever they are.
Files named just ``<youtube_id>.<ext>`` are matched too.

Public copies always lack some videos (taken down from YouTube): they are counted per split and
listed, and only the videos found are used. Class names come from `label_map` when given (one
name per line, line i = class i), else from the sorted labels of the train CSV, which is the
order of the official label maps.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from vidlab.data.datasets.records import (
    UNLABELED,
    AnnotationError,
    DatasetIndex,
    SplitIndex,
    VideoIndex,
    annotation_lines,
    first_existing,
    require_file,
    scan_videos,
    split_found_missing,
)

VARIANTS = (400, 600, 700)
REQUIRED_COLUMNS = ("youtube_id", "time_start", "time_end")
CSV_FORMAT = "'label,youtube_id,time_start,time_end,split[,is_cc]' with a header row"


def default_annotation_files(variant: int) -> dict[str, list[str]]:
    """Candidate annotation file names per split, official naming first."""
    crawler, compact = f"kinetics-{variant}", f"kinetics{variant}"
    return {
        "train": ["train.csv", f"{crawler}_train.csv", f"{compact}_train.csv"],
        "val": ["validate.csv", "val.csv", f"{crawler}_val.csv", f"{compact}_val.csv"],
        "test": ["test.csv", f"{crawler}_test.csv", f"{compact}_test.csv"],
    }


class KineticsIndex(VideoIndex):
    """Kinetics from its official CSV annotations.

    Args:
        root: folder under which the videos are (any depth).
        annotation_dir: folder of the CSV files (default: root).
        variant: 400, 600 or 700 (names the dataset and checks the class count).
        annotation_files: split -> candidate file names in annotation_dir (first existing wins);
            default: `default_annotation_files(variant)`.
        label_map: file of class names, one per line, relative to annotation_dir; None to use
            the sorted train labels.
    """

    def __init__(
        self,
        root: str | Path,
        annotation_dir: str | Path | None = None,
        variant: int = 400,
        annotation_files: Mapping[str, Sequence[str]] | None = None,
        label_map: str | None = None,
    ) -> None:
        if int(variant) not in VARIANTS:
            raise ValueError(f"Kinetics variant must be one of {VARIANTS}, got {variant!r}")
        self.root = Path(root)
        self.annotation_dir = Path(annotation_dir) if annotation_dir else self.root
        self.variant = int(variant)
        self.name = f"kinetics{self.variant}"
        files = annotation_files or default_annotation_files(self.variant)
        self.annotation_files = {split: list(names) for split, names in files.items()}
        self.label_map = label_map

    def build(self) -> DatasetIndex:
        rows = {split: self._read_split(split) for split in self.annotation_files}
        classes = self._class_names(rows)
        lookup = scan_videos(self.root) if self.root.is_dir() else {}
        ids = {name: i for i, name in enumerate(classes)}
        splits = {}
        for split, (path, split_rows) in rows.items():
            if path is None:
                looked = ", ".join(self.annotation_files[split])
                splits[split] = SplitIndex(
                    split,
                    error=f"no annotation file in {self.annotation_dir} (looked for {looked})",
                )
                continue
            entries = [_entry(path, row, ids, lookup) for row in split_rows]
            splits[split] = SplitIndex(split, *split_found_missing(entries), annotation=str(path))
        return DatasetIndex(self.name, self.root, tuple(classes), splits)

    def _read_split(self, split: str) -> tuple[Path | None, list[tuple[int, dict[str, str]]]]:
        path = first_existing(self.annotation_dir, self.annotation_files[split])
        return (path, read_kinetics_csv(path)) if path is not None else (None, [])

    def _class_names(self, rows: Mapping[str, tuple]) -> list[str]:
        if self.label_map:
            path = require_file(self.annotation_dir / self.label_map, "Kinetics label map")
            return [text for _, text in annotation_lines(path)]
        labeled = {
            split: r for split, (_, r) in rows.items() if any("label" in row for _, row in r)
        }
        source = [labeled["train"]] if "train" in labeled else list(labeled.values())
        names = sorted({row["label"] for r in source for _, row in r if row.get("label")})
        if not names:
            raise FileNotFoundError(
                f"no labeled Kinetics CSV in {self.annotation_dir} (looked "
                f"for {self.annotation_files}) and no label_map given"
            )
        return names


def _entry(
    path: Path,
    numbered_row: tuple[int, dict[str, str]],
    ids: Mapping[str, int],
    lookup: Mapping[str, Path],
) -> tuple[str, int, Path | None]:
    """(video id, label, file or None) of one CSV row."""
    number, row = numbered_row
    try:
        start, end = int(float(row["time_start"])), int(float(row["time_end"]))
    except ValueError as err:
        raise AnnotationError(path, number, f"non-numeric time in {row}", CSV_FORMAT) from err
    video_id = f"{row['youtube_id']}_{start:06d}_{end:06d}"
    label = UNLABELED
    if row.get("label"):
        if row["label"] not in ids:
            raise AnnotationError(
                path,
                number,
                f"label {row['label']!r} is not one of the {len(ids)} classes",
                "a class of the label map",
            )
        label = ids[row["label"]]
    return video_id, label, lookup.get(video_id) or lookup.get(row["youtube_id"])


def read_kinetics_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of an official Kinetics CSV; checks the header."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise AnnotationError(
                path, 1, f"header {reader.fieldnames} lacks {missing}", CSV_FORMAT
            )
        return [(reader.line_num, row) for row in reader]
