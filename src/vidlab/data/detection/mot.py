"""MOTChallenge sequences as detection data, with the MOT17Det protocol's classes.

A sequence folder holds ``seqinfo.ini`` (optional: image size and extension), ``img1/*.jpg`` and
``gt/gt.txt`` (``frame, id, x, y, w, h, consider, class, visibility``). Pedestrians (class 1) with
the consider flag set and visibility >= ``min_visibility`` are targets; the distractor classes
(person on vehicle 2, static person 7, distractor 8, reflection 12), ignored pedestrians
(consider 0) and pedestrians below the visibility limit are ignore regions; other classes
(vehicles, occluders) are neither. Frames without any row are negatives.
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlab.data.detection.records import DetectionDataError, DetectionRecord, as_boxes

PEDESTRIAN = 1
#: MOT17Det classes whose boxes are ignore regions.
DISTRACTOR_CLASSES = (2, 7, 8, 12)
_GT_COLUMNS = 9


def _seqinfo(folder: Path) -> dict[str, str]:
    path = folder / "seqinfo.ini"
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.read(path)
    return dict(parser["Sequence"]) if parser.has_section("Sequence") else {}


def _read_gt(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"ground truth not found: {path} (mot_det needs gt/gt.txt)")
    rows = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.replace(" ", "").split(",")]
        except ValueError:
            raise DetectionDataError(
                f"{path}:{line_no}: not comma-separated numbers: {line.strip()!r}"
            ) from None
        if len(values) < _GT_COLUMNS:
            raise DetectionDataError(
                f"{path}:{line_no}: expected {_GT_COLUMNS} columns (frame, "
                "id, x, y, w, h, consider, class, visibility), got "
                f"{len(values)}"
            )
        if values[4] <= 0 or values[5] <= 0:
            raise DetectionDataError(
                f"{path}:{line_no}: box width and height must be positive, "
                f"got {values[4]:g} x {values[5]:g}"
            )
        rows.append(values[:_GT_COLUMNS])
    return np.asarray(rows, np.float64).reshape(-1, _GT_COLUMNS)


def load_mot_sequence(
    folder: str | Path, *, min_visibility: float = 0.25, frame_stride: int = 1, first_id: int = 1
) -> list[DetectionRecord]:
    """The frames of one sequence (every ``frame_stride``-th) as records (see the module docs)."""
    folder = Path(folder)
    info = _seqinfo(folder)
    image_dir = folder / info.get("imdir", "img1")
    ext = info.get("imext", ".jpg")
    frames = sorted(image_dir.glob(f"*{ext}")) if image_dir.is_dir() else []
    if not frames:
        raise DetectionDataError(f"{image_dir}: no {ext} frames (mot_det needs img1/ frames)")
    gt = _read_gt(folder / "gt" / "gt.txt")
    if "imwidth" in info and "imheight" in info:
        width, height = int(info["imwidth"]), int(info["imheight"])
    else:
        probe = cv2.imread(str(frames[0]))
        if probe is None:
            raise DetectionDataError(f"{frames[0]}: not a readable image")
        height, width = probe.shape[:2]
    cls, consider, vis = gt[:, 7].astype(int), gt[:, 6] > 0, gt[:, 8]
    target = (cls == PEDESTRIAN) & consider & (vis >= min_visibility)
    ignore = np.isin(cls, DISTRACTOR_CLASSES) | ((cls == PEDESTRIAN) & ~target)
    xyxy = np.concatenate([gt[:, 2:4], gt[:, 2:4] + gt[:, 4:6]], axis=1)
    xyxy = np.clip(xyxy, 0, [width, height, width, height])
    records = []
    for k, path in enumerate(frames[::frame_stride]):
        try:
            frame = int(path.stem)
        except ValueError:
            raise DetectionDataError(
                f"{path}: frame files must be named by their number (000001.jpg)"
            ) from None
        rows = gt[:, 0] == frame
        records.append(
            DetectionRecord(
                image=path,
                width=width,
                height=height,
                boxes_xyxy=as_boxes(xyxy[rows & target]),
                ignore_xyxy=as_boxes(xyxy[rows & ignore]),
                image_id=first_id + k,
                source=f"{folder.name} frame {frame}",
            )
        )
    return records


class MotDetectionSource:
    """MOTChallenge sequences under ``root``, a list of sequence names per split.

    Args:
        root: folder of sequence folders (e.g. ``MOT17/train``).
        splits: ``{"train": [names], "val": [names], "test": [names]}``.
        min_visibility: targets need at least this visibility (gt column 9).
        frame_stride: keep every n-th frame per split, ``{"train": 1, "val": 5, ...}`` or one int.
    """

    def __init__(
        self,
        *,
        root: str | Path,
        splits: Mapping[str, Sequence[str]],
        min_visibility: float = 0.25,
        frame_stride: int | Mapping[str, int] = 1,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"mot_det root not found: {self.root}")
        self.splits = {str(k): [str(n) for n in v] for k, v in splits.items()}
        self.min_visibility = float(min_visibility)
        self.frame_stride = frame_stride

    def _stride(self, split: str) -> int:
        if isinstance(self.frame_stride, int):
            return self.frame_stride
        return int(self.frame_stride.get(split, 1))

    def records(self, split: str) -> list[DetectionRecord]:
        if split not in self.splits:
            raise KeyError(f"mot_det has no split {split!r}; configured: {sorted(self.splits)}")
        records: list[DetectionRecord] = []
        for name in self.splits[split]:
            folder = self.root / name
            if not folder.is_dir():
                raise FileNotFoundError(f"mot_det {split} sequence not found: {folder}")
            records += load_mot_sequence(
                folder,
                min_visibility=self.min_visibility,
                frame_stride=self._stride(split),
                first_id=len(records) + 1,
            )
        return records

    def describe(self) -> dict[str, Any]:
        return {
            "name": "mot_det",
            "root": str(self.root),
            "splits": self.splits,
            "min_visibility": self.min_visibility,
        }
