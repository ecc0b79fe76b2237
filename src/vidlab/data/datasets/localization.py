"""Temporal action localization datasets: annotations read from their official files, videos from a
root folder (reading only; nothing is downloaded or converted).

- `ActivityNetAnnotations` (``data=activitynet``): the ActivityNet v1.3 JSON (``database`` with
  ``subset`` and ``annotations`` per video); video files ``<root>/<id>.<ext>`` or
  ``<root>/v_<id>.<ext>`` (the name the official downloader uses).
- `Thumos14Annotations` (``data=thumos14``): the folder of per-class files ``<Class>_<val|test>.txt``
  (20 classes) and ``Ambiguous_<split>.txt``; videos ``<root>/<video id>.mp4``.

Both give the ground truth as a `SegmentTable` (the evaluation's input; THUMOS14's ambiguous
segments included) and the videos as `UntrimmedRecord`s; a video whose file is missing has
``path=None`` and is listed by `missing_videos`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.evaluation.localization.io import (
    THUMOS14_CLASSES,
    read_activitynet_ground_truth,
    read_thumos14_ground_truth,
)
from vidlab.evaluation.localization.metrics import SegmentTable

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov")


@dataclass(frozen=True)
class UntrimmedRecord:
    """One untrimmed video: its id, file (None when absent), segments (N, 2) s and labels."""

    video_id: str
    path: Path | None
    segments: np.ndarray
    labels: list[str]


class _LocalizationAnnotations:
    """Shared part: ground truth -> per-video records with their files under `root`."""

    name = "localization"
    prefixes: tuple[str, ...] = ("",)

    def __init__(self, *, root: str | Path | None, annotations: str | Path, subset: str | None):
        self.root = Path(root) if root else None
        self.annotations = Path(annotations)
        self.subset = subset
        self._gt: SegmentTable | None = None

    def _read(self) -> SegmentTable:
        raise NotImplementedError

    def ground_truth(self, split: str | None = None) -> SegmentTable:
        """The subset's segments (read once; `split` is ignored: the subset is configured)."""
        if self._gt is None:
            self._gt = self._read()
        return self._gt

    @property
    def class_names(self) -> list[str]:
        return self.ground_truth().classes()

    def video_path(self, video_id: str) -> Path | None:
        """The file of `video_id` under `root` (first existing name), or None."""
        if self.root is None:
            return None
        for prefix in self.prefixes:
            for ext in VIDEO_EXTENSIONS:
                candidate = self.root / f"{prefix}{video_id}{ext}"
                if candidate.is_file():
                    return candidate
        return None

    def records(self) -> list[UntrimmedRecord]:
        """Every video of the subset that has ground truth, in file order."""
        gt = self.ground_truth()
        out = []
        for video in dict.fromkeys(gt.videos.tolist()):
            rows = np.flatnonzero(gt.videos == video)
            out.append(
                UntrimmedRecord(
                    video, self.video_path(video), gt.segments[rows], gt.labels[rows].tolist()
                )
            )
        return out

    def localization_videos(self, split: str | None = None) -> list[Path]:
        """The subset's video files found under `root` (`split` ignored); missing ones warned."""
        records = self.records()
        missing = [r.video_id for r in records if r.path is None]
        if missing:
            log.warning(
                "%s: %d of %d videos of the subset not found under %s (e.g. %s)",
                self.name, len(missing), len(records), self.root, missing[0],
            )  # fmt: skip
        return [r.path for r in records if r.path is not None]

    def missing_videos(self) -> list[str]:
        return [r.video_id for r in self.records() if r.path is None]

    def describe(self) -> dict[str, Any]:
        records = self.records()
        return {
            "name": self.name,
            "annotations": str(self.annotations),
            "root": None if self.root is None else str(self.root),
            "subset": self.subset,
            "videos": len(records),
            "videos_found": sum(r.path is not None for r in records),
            "segments": int(sum(len(r.labels) for r in records)),
            "classes": len(self.class_names),
        }


class ActivityNetAnnotations(_LocalizationAnnotations):
    """ActivityNet v1.3 (`data=activitynet`). Args: root (video folder, optional), annotations
    (the JSON), subset (``training`` / ``validation`` / ``testing``; None: all)."""

    name = "activitynet"
    prefixes = ("", "v_")

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        annotations: str | Path,
        subset: str | None = "validation",
    ) -> None:
        super().__init__(root=root, annotations=annotations, subset=subset)

    def _read(self) -> SegmentTable:
        return read_activitynet_ground_truth(self.annotations, self.subset)


class Thumos14Annotations(_LocalizationAnnotations):
    """THUMOS14 (`data=thumos14`). Args: root (video folder, optional), annotations (the folder
    of per-class files), subset (``val``/``validation`` or ``test``)."""

    name = "thumos14"

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        annotations: str | Path,
        subset: str = "test",
        classes: list[str] | tuple[str, ...] = THUMOS14_CLASSES,
    ) -> None:
        super().__init__(root=root, annotations=annotations, subset=subset)
        self.classes = tuple(classes)

    def _read(self) -> SegmentTable:
        return read_thumos14_ground_truth(self.annotations, self.subset or "test", self.classes)
