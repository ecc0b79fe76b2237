"""COCO-format detection annotations: good files load, bad entries are one-line errors naming the
file and the entry, or counted skips."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidlab.data.detection.coco import CocoDetectionSource, load_coco
from vidlab.data.detection.records import DetectionDataError, SkipCounter
from vidlab.errors import UserError


def _write(tmp_path: Path, images=None, annotations=None, n_files=2) -> tuple[Path, Path]:
    image_dir = tmp_path / "images"
    image_dir.mkdir(exist_ok=True)
    for k in range(1, n_files + 1):
        cv2.imwrite(str(image_dir / f"{k}.jpg"), np.zeros((40, 60, 3), np.uint8))
    images = (
        images
        if images is not None
        else [{"id": k, "file_name": f"{k}.jpg", "width": 60, "height": 40} for k in (1, 2)]
    )
    annotations = (
        annotations
        if annotations is not None
        else [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 20], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [30, 2, 20, 30], "iscrowd": 1},
            {"id": 3, "image_id": 2, "category_id": 3, "bbox": [1, 1, 5, 5], "iscrowd": 0},
            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [-0.5, 0, 10, 40.5], "iscrowd": 0},
        ]
    )
    ann = tmp_path / "ann.json"
    ann.write_text(
        json.dumps(
            {
                "images": images,
                "annotations": annotations,
                "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
            }
        )
    )
    return ann, image_dir


def test_targets_ignore_regions_and_category_filter(tmp_path):
    ann, image_dir = _write(tmp_path)
    first, second = load_coco(ann, image_dir)
    np.testing.assert_allclose(first.boxes_xyxy, [[5, 5, 15, 25]])
    np.testing.assert_allclose(first.ignore_xyxy, [[30, 2, 50, 32]])  # iscrowd -> ignore
    # The car is dropped; a box within the 1 px tolerance is clipped to the image.
    np.testing.assert_allclose(second.boxes_xyxy, [[0, 0, 9.5, 40]])
    assert len(second.ignore_xyxy) == 0 and (second.width, second.height) == (60, 40)
    cars = load_coco(ann, image_dir, categories=["car"])
    assert [len(r.boxes_xyxy) for r in cars] == [0, 1]


BAD = {
    "missing image": (
        {
            "images": [
                {"id": 1, "file_name": "1.jpg", "width": 60, "height": 40},
                {"id": 2, "file_name": "gone.jpg", "width": 60, "height": 40},
            ]
        },
        r"ann\.json: images\[1\] \(id 2, file_name 'gone\.jpg'\): no such file",
    ),
    "box outside": (
        {"annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [50, 5, 30, 10]}]},
        r"ann\.json: annotations\[0\] \(id 7, image_id 1\): bbox \[50, 5, 30, 10\] "
        r"lies outside the 60x40 image",
    ),
    "negative size": (
        {"annotations": [{"id": 8, "image_id": 2, "category_id": 1, "bbox": [5, 5, -3, 10]}]},
        r"annotations\[0\] \(id 8, image_id 2\): bbox \[5, 5, -3, 10\] has a "
        r"non-positive width or height",
    ),
    "unknown image": (
        {"annotations": [{"id": 9, "image_id": 5, "category_id": 1, "bbox": [5, 5, 3, 10]}]},
        r"annotations\[0\] \(id 9, image_id 5\): image_id 5 is not in 'images'",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_entries_raise_one_line_errors_or_are_counted(tmp_path, case):
    change, message = BAD[case]
    ann, image_dir = _write(tmp_path, **change)
    with pytest.raises(DetectionDataError, match=message) as err:
        load_coco(ann, image_dir)
    assert isinstance(err.value, UserError) and "\n" not in str(err.value)
    skipped = SkipCounter()
    records = load_coco(ann, image_dir, on_error="skip", skipped=skipped)
    assert skipped.as_dict()["total"] == 1
    if case == "missing image":  # the image is dropped, the others keep their boxes
        assert [r.image.name for r in records] == ["1.jpg"] and len(records[0].boxes_xyxy) == 1
    else:  # the bad box is dropped
        assert len(records) == 2 and all(len(r.boxes_xyxy) == 0 for r in records)


def test_empty_image_folder_unknown_category_and_junk(tmp_path):
    ann, image_dir = _write(tmp_path, n_files=0)
    with pytest.raises(DetectionDataError, match=r"images: the image folder holds no image"):
        load_coco(ann, image_dir)
    ann, image_dir = _write(tmp_path)
    with pytest.raises(
        DetectionDataError,
        match=r"category \['pedestrian'\] not in the file; it "
        r"has \['car', 'person'\]",
    ):
        load_coco(ann, image_dir, categories=["pedestrian"])
    ann.write_text("{not json")
    with pytest.raises(DetectionDataError, match=r"ann\.json: not a JSON file"):
        load_coco(ann, image_dir)
    ann.write_text(json.dumps({"images": []}))
    with pytest.raises(
        DetectionDataError, match=r"missing key\(s\) \['annotations', 'categories'\]"
    ):
        load_coco(ann, image_dir)


def test_source_reports_skips_per_split(tmp_path):
    ann, image_dir = _write(tmp_path, **{k: v for k, v in BAD["box outside"][0].items()})
    source = CocoDetectionSource(
        splits={"train": {"annotations": str(ann), "images": str(image_dir)}}, on_error="skip"
    )
    assert len(source.records("train")) == 2
    assert source.describe()["skipped"]["train"]["by_reason"] == {"bad_box": 1}
    with pytest.raises(KeyError, match="no split 'val'"):
        source.records("val")
