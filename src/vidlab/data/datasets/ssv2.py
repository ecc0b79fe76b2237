"""Something-Something v2 (Goyal et al., 2017): 220,847 clips of 174 template actions.

Layout (the official download):

    <root>/<id>.webm
    <annotation_dir>/something-something-v2-labels.json       {"<template>": "<class index>"}
    <annotation_dir>/something-something-v2-train.json        [{"id", "label", "template",
    <annotation_dir>/something-something-v2-validation.json     "placeholders"}, ...]
    <annotation_dir>/something-something-v2-test.json         [{"id"}, ...] (labels withheld)

A clip's class is its template with the square brackets removed ("Putting [something] on a
surface" -> "Putting something on a surface"), looked up in the labels file. Videos are matched
by id whatever their extension (copies transcoded to .mp4 work too). The labels depend on
direction (left/right), so configs switch horizontal flipping off.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from vidlab.data.datasets.records import (
    UNLABELED,
    AnnotationError,
    DatasetIndex,
    SplitIndex,
    VideoIndex,
    require_file,
    scan_videos,
    split_found_missing,
)

DEFAULT_FILES = {
    "labels": "something-something-v2-labels.json",
    "train": "something-something-v2-train.json",
    "validation": "something-something-v2-validation.json",
    "test": "something-something-v2-test.json",
}


def template_to_class(template: str) -> str:
    """The class name of a template: square brackets removed."""
    return template.replace("[", "").replace("]", "")


class SSv2Index(VideoIndex):
    """Something-Something v2 from its official JSON files.

    Args:
        root: folder of the videos (any depth).
        annotation_dir: folder of the JSON files (default: root).
        files: file names for "labels" and each split (default: the official names).
    """

    name = "ssv2"

    def __init__(
        self,
        root: str | Path,
        annotation_dir: str | Path | None = None,
        files: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.annotation_dir = Path(annotation_dir) if annotation_dir else self.root
        self.files = dict(files or DEFAULT_FILES)
        if "labels" not in self.files:
            raise ValueError(f"files must name the 'labels' file, got {self.files}")

    def build(self) -> DatasetIndex:
        classes = self._read_labels()
        ids = {name: i for i, name in enumerate(classes)}
        lookup = scan_videos(self.root) if self.root.is_dir() else {}
        splits = {}
        for split, filename in self.files.items():
            if split == "labels":
                continue
            path = self.annotation_dir / filename
            if not path.is_file():
                splits[split] = SplitIndex(split, error=f"annotation file not found: {path}")
                continue
            entries = [(vid, label, lookup.get(vid)) for vid, label in _read_split(path, ids)]
            splits[split] = SplitIndex(split, *split_found_missing(entries), annotation=str(path))
        return DatasetIndex(self.name, self.root, tuple(classes), splits)

    def _read_labels(self) -> list[str]:
        path = require_file(self.annotation_dir / self.files["labels"], "SSv2 labels file")
        mapping = _load_json(path, dict, '{"<template>": "<class index>", ...}')
        try:
            by_index = sorted((int(index), name) for name, index in mapping.items())
        except ValueError as err:
            raise AnnotationError(
                path, None, f"non-integer class index: {err}", '{"<template>": "<class index>"}'
            ) from err
        if [i for i, _ in by_index] != list(range(len(by_index))):
            raise AnnotationError(
                path, None, "class indices are not 0..N-1", "consecutive class indices from 0"
            )
        return [name for _, name in by_index]


def _read_split(path: Path, ids: Mapping[str, int]) -> list[tuple[str, int]]:
    """(video id, label) of each entry; label -1 for entries without a template (test)."""
    expected = '[{"id": "...", "template": "...", ...}, ...]'
    entries = _load_json(path, list, expected)
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry:
            raise AnnotationError(path, None, f"entry {i} has no 'id': {entry!r}", expected)
        label = UNLABELED
        if "template" in entry:
            name = template_to_class(entry["template"])
            if name not in ids:
                raise AnnotationError(
                    path,
                    None,
                    f"entry {i} (id {entry['id']}): template "
                    f"{entry['template']!r} is not in the labels file",
                    expected,
                )
            label = ids[name]
        out.append((str(entry["id"]), label))
    return out


def _load_json(path: Path, kind: type, expected: str):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise AnnotationError(path, err.lineno, f"invalid JSON: {err.msg}", expected) from err
    if not isinstance(data, kind):
        raise AnnotationError(path, None, f"top level is a {type(data).__name__}", expected)
    return data
