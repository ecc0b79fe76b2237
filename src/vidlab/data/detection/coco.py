"""COCO-format detection annotations: any ``{"images", "annotations", "categories"}`` JSON plus an
image folder (COCO itself, CrowdHuman or other sets converted to COCO JSON, vidlab's synthetic set).

Annotations of the chosen categories (``person`` by default) become targets, ``iscrowd: 1`` ones
ignore regions; other categories are dropped. Every entry is checked: an image file that does not
exist, a box with a non-positive width or height, or one that reaches more than `BOX_TOLERANCE`
pixels outside its image is an error naming the JSON file and the entry (``on_error="raise"``),
or is dropped and counted (``on_error="skip"``: a missing image drops the image, a bad box drops
the box). Boxes within the tolerance are clipped to the image.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.data.detection.records import (
    DetectionDataError,
    DetectionRecord,
    SkipCounter,
    as_boxes,
    check_on_error,
)

log = logging.getLogger(__name__)

#: Pixels a box may reach outside its image before it counts as outside (then clipped).
BOX_TOLERANCE = 1.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DetectionDataError(f"{path}: not a JSON file ({err})") from err
    if not isinstance(data, dict):
        raise DetectionDataError(
            f"{path}: expected a JSON object with 'images', 'annotations' "
            f"and 'categories', got {type(data).__name__}"
        )
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise DetectionDataError(f"{path}: not a COCO annotation file: missing key(s) {missing}")
    return data


def _category_ids(data: dict[str, Any], names: list[str] | None, path: Path) -> set[int]:
    available = {str(c.get("name")): int(c["id"]) for c in data["categories"]}
    if names is None:
        return set(available.values())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise DetectionDataError(
            f"{path}: categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{unknown} not in the file; it has {sorted(available)}"
        )
    return {available[n] for n in names}


def _check_image_dir(image_dir: Path) -> None:
    if not image_dir.is_dir():
        raise FileNotFoundError(f"COCO image folder not found: {image_dir}")
    if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in image_dir.rglob("*")):
        raise DetectionDataError(
            f"{image_dir}: the image folder holds no image ({', '.join(IMAGE_SUFFIXES)})"
        )


def _box_problem(box: Any, width: int, height: int) -> str | None:
    """Why a COCO ``[x, y, w, h]`` box is unusable in a ``width x height`` image, or None."""
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        return f"bbox {box!r} is not [x, y, width, height]"
    x, y, w, h = (float(v) for v in box)
    if not np.isfinite([x, y, w, h]).all():
        return f"bbox {box!r} is not finite"
    if w <= 0 or h <= 0:
        return f"bbox {box!r} has a non-positive width or height"
    tol = BOX_TOLERANCE
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        return f"bbox {box!r} lies outside the {width}x{height} image"
    return None


def load_coco(
    annotations: str | Path,
    images: str | Path,
    *,
    categories: list[str] | None = ("person",),
    on_error: str = "raise",
    skipped: SkipCounter | None = None,
) -> list[DetectionRecord]:
    """Records of a COCO-format annotation file (see the module docstring).

    Args:
        annotations: the JSON file.
        images: the folder the images' ``file_name`` are relative to.
        categories: category names kept as targets (None: all).
        on_error: ``"raise"`` a `DetectionDataError` at the first bad entry, or ``"skip"`` it.
        skipped: a counter that receives the skipped entries (``on_error="skip"``).

    Returns:
        One record per image (images without any box included: they are negatives), in file order.
    """
    check_on_error(on_error)
    path, image_dir = Path(annotations), Path(images)
    data = _read_json(path)
    _check_image_dir(image_dir)
    keep = _category_ids(data, None if categories is None else list(categories), path)
    skipped = skipped if skipped is not None else SkipCounter()

    def bad(reason: str, where: str, message: str) -> None:
        if on_error == "raise":
            raise DetectionDataError(f"{path}: {where}: {message}")
        skipped.add(reason, f"{where}: {message}")

    infos: dict[int, dict[str, Any]] = {}
    listed: set[int] = set()
    for i, info in enumerate(data["images"]):
        where = f"images[{i}] (id {info.get('id')}, file_name {info.get('file_name')!r})"
        try:
            image_id, width, height = int(info["id"]), int(info["width"]), int(info["height"])
            file_name = str(info["file_name"])
        except (KeyError, TypeError, ValueError):
            raise DetectionDataError(
                f"{path}: {where}: expected integer 'id', 'width', 'height' and a 'file_name'"
            ) from None
        if image_id in listed:
            raise DetectionDataError(f"{path}: {where}: duplicate image id {image_id}")
        listed.add(image_id)
        if not (image_dir / file_name).is_file():
            bad("missing_image", where, f"no such file {image_dir / file_name}")
            continue
        infos[image_id] = {
            "file": image_dir / file_name,
            "width": width,
            "height": height,
            "boxes": [],
            "ignore": [],
            "where": where,
        }
    for j, ann in enumerate(data["annotations"]):
        where = f"annotations[{j}] (id {ann.get('id')}, image_id {ann.get('image_id')})"
        if int(ann.get("category_id", -1)) not in keep:
            continue
        image_id = int(ann.get("image_id", -1))
        info = infos.get(image_id)
        if info is None:
            if image_id not in listed:
                bad("unknown_image", where, f"image_id {image_id} is not in 'images'")
            continue  # its image was skipped
        problem = _box_problem(ann.get("bbox"), info["width"], info["height"])
        if problem:
            bad("bad_box", where, problem)
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        box = [
            max(0.0, x),
            max(0.0, y),
            min(float(info["width"]), x + w),
            min(float(info["height"]), y + h),
        ]
        (info["ignore"] if ann.get("iscrowd", 0) or ann.get("ignore", 0) else info["boxes"]).append(
            box
        )
    records = [
        DetectionRecord(
            image=info["file"],
            width=info["width"],
            height=info["height"],
            boxes_xyxy=as_boxes(info["boxes"]),
            ignore_xyxy=as_boxes(info["ignore"]),
            image_id=image_id,
            source=f"{path}:{info['where']}",
        )
        for image_id, info in infos.items()
    ]
    if skipped.counts:
        log.warning("%s: skipped %s", path, dict(skipped.counts))
    return records


def write_coco(
    path: str | Path, records: list[dict[str, Any]], categories: tuple[str, ...] = ("person",)
) -> Path:
    """Write a COCO annotation file.

    Args:
        path: output JSON file.
        records: per image ``{"file_name", "width", "height", "boxes": [[x1, y1, x2, y2], ...],
            "ignore": [...], "extra": [{...}, ...] (optional, per box)}``.
        categories: category names (ids 1, 2, ...); every box gets category 1.
    """
    images, annotations = [], []
    for image_id, rec in enumerate(records, start=1):
        images.append(
            {
                "id": image_id,
                "file_name": rec["file_name"],
                "width": int(rec["width"]),
                "height": int(rec["height"]),
            }
        )
        extras = rec.get("extra") or [{}] * len(rec["boxes"])
        rows = [(b, 0, e) for b, e in zip(rec["boxes"], extras, strict=True)]
        rows += [(b, 1, {}) for b in rec.get("ignore", [])]
        for (x1, y1, x2, y2), crowd, extra in rows:
            w, h = float(x2) - float(x1), float(y2) - float(y1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "bbox": [round(float(x1), 3), round(float(y1), 3), round(w, 3), round(h, 3)],
                    "area": round(w * h, 3),
                    "iscrowd": crowd,
                    **extra,
                }
            )
    payload = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for i, n in enumerate(categories, start=1)],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)
    return path


class CocoDetectionSource:
    """COCO-format splits: ``{"train": {"annotations": json, "images": folder}, ...}``.

    Args:
        splits: per split the annotation file and image folder.
        categories: category names kept as targets.
        on_error: ``"raise"`` or ``"skip"`` bad entries (see `vidlab.data.detection.coco`).
    """

    def __init__(
        self,
        *,
        splits: Mapping[str, Mapping[str, str]],
        categories: Sequence[str] | None = ("person",),
        on_error: str = "raise",
    ) -> None:
        self.splits = {
            str(k): {"annotations": str(v["annotations"]), "images": str(v["images"])}
            for k, v in splits.items()
        }
        self.categories = None if categories is None else [str(c) for c in categories]
        check_on_error(on_error)
        self.on_error = on_error
        self.skipped = {split: SkipCounter() for split in self.splits}

    def records(self, split: str) -> list[DetectionRecord]:
        if split not in self.splits:
            raise KeyError(f"coco has no split {split!r}; configured: {sorted(self.splits)}")
        paths = self.splits[split]
        return load_coco(
            paths["annotations"],
            paths["images"],
            categories=self.categories,
            on_error=self.on_error,
            skipped=self.skipped[split],
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": "coco",
            "splits": self.splits,
            "categories": self.categories,
            "skipped": {k: v.as_dict() for k, v in self.skipped.items()},
        }
