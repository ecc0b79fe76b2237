"""The record every detection source produces: one image, its target boxes and its ignore regions.

Boxes are ``xyxy`` in pixels of the image file, float32. Targets are the people a detector must
find; ignore regions (crowds, static or heavily occluded people, distractor classes) are places
where a detection is neither a true nor a false positive (COCO's ``iscrowd`` semantics at
evaluation; masked out of training images, see `vidlab.data.detection.transforms`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidlab.errors import UserError

#: Label of a person in every detector vidlab trains (index 0 is background, as in torchvision
#: and COCO's category ids), so COCO-pretrained heads keep their person row.
PERSON_LABEL = 1
CLASS_NAMES = ("person",)


class DetectionDataError(UserError):
    """A bad detection annotation or image folder (the message names the file and the entry)."""


def as_boxes(values: object) -> np.ndarray:
    """(N, 4) float32 array of ``values`` (an empty input gives shape (0, 4))."""
    return np.asarray(values, np.float32).reshape(-1, 4)


@dataclass(frozen=True)
class DetectionRecord:
    """One annotated image.

    Attributes:
        image: path of the image file.
        width: image width in pixels.
        height: image height in pixels.
        boxes_xyxy: (N, 4) float32 target boxes.
        ignore_xyxy: (M, 4) float32 ignore regions.
        image_id: a unique integer id within the split.
        source: where the record came from (e.g. ``"annotations.json:images[3]"``), for errors.
    """

    image: Path
    width: int
    height: int
    boxes_xyxy: np.ndarray
    ignore_xyxy: np.ndarray
    image_id: int
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("boxes_xyxy", "ignore_xyxy"):
            boxes = getattr(self, name)
            if boxes.dtype != np.float32 or boxes.ndim != 2 or boxes.shape[1] != 4:
                raise ValueError(
                    f"DetectionRecord.{name} must be (N, 4) float32, got "
                    f"{boxes.dtype} {boxes.shape} ({self.source or self.image})"
                )


@dataclass
class SkipCounter:
    """Counts entries a loader dropped (``on_error="skip"``), by reason, with one example each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, example: str) -> None:
        self.counts[reason] += 1
        self.examples.setdefault(reason, example)

    def as_dict(self) -> dict[str, object]:
        return {
            "total": int(sum(self.counts.values())),
            "by_reason": dict(self.counts),
            "examples": dict(self.examples),
        }


def check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error={on_error!r}, expected 'raise' or 'skip'")


def split_summary(records: list[DetectionRecord]) -> dict[str, int]:
    """Images, target boxes and ignore regions of a split (for data reports)."""
    return {
        "images": len(records),
        "boxes": int(sum(len(r.boxes_xyxy) for r in records)),
        "ignore_regions": int(sum(len(r.ignore_xyxy) for r in records)),
    }
