"""`data=mot_det`: MOTChallenge ground truth with the MOT17Det classes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidlab.data.detection.mot import MotDetectionSource, load_mot_sequence
from vidlab.data.detection.records import DetectionDataError


def _sequence(root, name="SEQ-01", rows=None, frames=2):
    folder = root / name
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    for f in range(1, frames + 1):
        cv2.imwrite(str(folder / "img1" / f"{f:06d}.jpg"), np.zeros((60, 80, 3), np.uint8))
    rows = (
        rows
        if rows is not None
        else [
            "1,1,10,10,10,30,1,1,0.9",  # target
            "1,2,30,10,10,30,1,1,0.1",  # pedestrian, barely visible: ignore
            "1,3,50,10,10,30,1,7,1.0",  # static person: ignore
            "1,4,60,10,10,30,0,3,1.0",  # car: neither
            "2,1,12,10,10,30,0,1,1.0",  # pedestrian with consider 0: ignore
            "2,5,70,40,20,30,1,12,1.0",  # reflection, clipped at the border: ignore
        ]
    )
    (folder / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    (folder / "seqinfo.ini").write_text(
        "[Sequence]\nname=SEQ-01\nimDir=img1\nimWidth=80\nimHeight=60\nimExt=.jpg\n"
    )
    return folder


def test_targets_and_ignore_regions(tmp_path):
    first, second = load_mot_sequence(_sequence(tmp_path), min_visibility=0.25)
    np.testing.assert_allclose(first.boxes_xyxy, [[10, 10, 20, 40]])
    np.testing.assert_allclose(first.ignore_xyxy, [[30, 10, 40, 40], [50, 10, 60, 40]])
    assert len(second.boxes_xyxy) == 0
    np.testing.assert_allclose(second.ignore_xyxy, [[12, 10, 22, 40], [70, 40, 80, 60]])


def test_splits_and_errors(tmp_path):
    _sequence(tmp_path)
    source = MotDetectionSource(root=tmp_path, splits={"train": ["SEQ-01"], "test": ["NOPE"]})
    assert len(source.records("train")) == 2
    with pytest.raises(FileNotFoundError, match="NOPE"):
        source.records("test")
    bad = _sequence(tmp_path, "SEQ-02", rows=["1,1,10,10,-4,30,1,1,0.9"])
    with pytest.raises(DetectionDataError, match=r"SEQ-02/gt/gt.txt:1: box width and height must"):
        load_mot_sequence(bad)
    empty = _sequence(tmp_path, "SEQ-03", frames=0)
    with pytest.raises(DetectionDataError, match=r"SEQ-03/img1: no .jpg frames"):
        load_mot_sequence(empty)
