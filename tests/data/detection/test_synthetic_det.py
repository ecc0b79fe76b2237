"""`data=synthetic_det`: rendered synthetic frames with boxes from the generator's ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidlab.data.detection.datamodule import DetectionDataModule
from vidlab.data.detection.synthetic import ANNOTATIONS, SyntheticDetectionSource
from vidlab.data.synthetic.mot import (
    RenderStyle,
    SceneConfig,
    generate_sequence,
    render_sequence_frames,
    visibility,
)

SPLITS = {
    "train": {"seed": 1, "n_sequences": 1},
    "val": {"seed": 2, "n_sequences": 1},
    "test": {"seed": 3, "n_sequences": 1},
}


def _source(cache, **kwargs):
    options = {
        "num_frames": 20,
        "frame_stride": 10,
        "width": 160,
        "height": 96,
        "initial_people": 5,
        "distractors": 2,
        "min_height": 4,
        "style": {
            "background": "varied",
            "occluders": 2,
            "blur_prob": 0.5,
            "brightness": [0.7, 1.3],
        },
    }
    return SyntheticDetectionSource(cache_dir=cache, splits=SPLITS, **{**options, **kwargs})


def test_deterministic_cached_and_split_by_seed(tmp_path):
    a = _source(tmp_path / "a")
    folder = a.build("train")
    b = _source(tmp_path / "b")
    assert (folder / ANNOTATIONS).read_bytes() == (b.build("train") / ANNOTATIONS).read_bytes()
    first = sorted((folder / "images").iterdir())
    assert (
        len(first) == 2
        and first[0].read_bytes() == (b.build("train") / "images" / first[0].name).read_bytes()
    )
    stamp = (folder / ANNOTATIONS).stat().st_mtime_ns
    assert a.records("train") and (folder / ANNOTATIONS).stat().st_mtime_ns == stamp  # cached
    assert a.key("train") != a.key("test")
    train = json.loads((folder / ANNOTATIONS).read_text())
    test = json.loads((a.build("test") / ANNOTATIONS).read_text())
    assert train["annotations"] != test["annotations"]
    assert _source(tmp_path / "a", min_visibility=0.5).key("train") != a.key("train")
    with pytest.raises(ValueError, match="different seeds"):
        SyntheticDetectionSource(
            cache_dir=tmp_path,
            splits={"train": {"seed": 1, "n_sequences": 1}, "test": {"seed": 1, "n_sequences": 1}},
        )


def test_static_and_hidden_people_are_ignore_regions(tmp_path):
    strict = _source(tmp_path, min_visibility=1.01)  # nobody is visible enough: all ignore
    records = strict.records("train")
    assert sum(len(r.boxes_xyxy) for r in records) == 0
    assert sum(len(r.ignore_xyxy) for r in records) > 0
    plain = _source(tmp_path, min_visibility=0.0)
    records = plain.records("train")
    # Only the 2 static people per frame remain ignore regions (when in view).
    assert all(len(r.ignore_xyxy) <= 2 for r in records)
    assert sum(len(r.boxes_xyxy) for r in records) >= 5


def test_occluders_reduce_visibility():
    box = np.array([[10.0, 10.0, 20.0, 40.0]])  # tlwh
    assert visibility(box, 100, 100)[0] == pytest.approx(1.0)
    half = np.array([[10.0, 0.0, 20.0, 100.0]])  # xyxy covering the left half
    assert visibility(box, 100, 100, half)[0] == pytest.approx(0.5)


def test_default_style_renders_the_tracking_frames():
    seq = generate_sequence(5, SceneConfig(num_frames=3, width=96, height=64, initial_people=3))
    plain = [im for _, im in render_sequence_frames(seq)]
    same = [im for _, im in render_sequence_frames(seq, RenderStyle())]
    varied = [im for _, im in render_sequence_frames(seq, RenderStyle(background="varied"))]
    assert all(np.array_equal(p, s) for p, s in zip(plain, same, strict=True))
    assert not np.array_equal(plain[0], varied[0])
    with pytest.raises(ValueError, match="background='sky'"):
        RenderStyle(background="sky")


def test_datamodule_batches(tmp_path):
    dm = DetectionDataModule(
        source=_source(tmp_path), image_size=(64, 96), batch_size=2, augment={"mosaic_prob": 0.5}
    )
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["images"].shape == (2, 3, 64, 96)
    assert 0.0 <= float(batch["images"].min()) and float(batch["images"].max()) <= 1.0
    for target in batch["targets"]:
        assert target["boxes"].shape[1] == 4 and (target["labels"] == 1).all()
    val = next(iter(dm.val_dataloader()))
    assert val["scales"][0] == pytest.approx(0.6)  # 160x96 letterboxed into 96x64
    spec = dm.input_spec()
    assert spec["image_size"] == [64, 96] and spec["resize"] == "letterbox"
    assert dm.data_report()["splits"]["train"]["images"] == 2
