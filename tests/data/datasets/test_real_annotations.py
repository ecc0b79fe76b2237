"""Official annotation files (VIDLAB_REAL_DATA/annotations), with almost every video missing.

Counts are those of the official files (UCF101 split 1: 9,537 train / 3,783 test videos;
Kinetics-400 validation CSV: 19,906 rows, 400 classes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import hydra
import pytest

from vidlab.data.datasets.kinetics import KineticsIndex
from vidlab.data.datasets.ucf101 import UCF101Index
from vidlab.tasks import check_data

UCF_SPLIT_SIZES = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}
K400_VAL_ROWS = 19906
# The real clips, placed where the layouts expect two of the listed videos.
UCF_VIDEO = ("ucf101_applyeyemakeup_320x240.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi")
K400_VIDEO = ("kinetics_armwrestling_340x256.mp4", "val/abseiling/0wR5jVB-WPk_000417_000427.mp4")


@pytest.mark.parametrize("split", [1, 2, 3])
def test_ucf101_official_splits(real_data, tmp_path, split):
    index = UCF101Index(tmp_path, annotation_dir=real_data / "annotations" / "ucf101", split=split)
    built = index.build()
    assert built.num_classes == 101
    assert built.class_names[36] == "HandstandPushups"
    train, test = built.split("train"), built.split("test")
    assert (train.listed, test.listed) == UCF_SPLIT_SIZES[split]
    assert len(train.records) == len(test.records) == 0  # no video on disk: all reported missing
    assert len(set(train.missing) & set(test.missing)) == 0  # the groups do not overlap


def test_kinetics400_validation_csv(real_data, tmp_path):
    annotations = real_data / "annotations" / "kinetics400"
    index = KineticsIndex(tmp_path, annotation_dir=annotations, label_map="label_map_k400.txt")
    built = index.build()
    assert built.num_classes == 400 and built.class_names[:2] == ("abseiling", "air drumming")
    val = built.split("val")
    assert val.listed == K400_VAL_ROWS and len(val.missing) == K400_VAL_ROWS
    assert built.split("train").error is not None  # only the validation CSV is shared
    without_map = KineticsIndex(tmp_path, annotation_dir=annotations).build()
    assert without_map.class_names == built.class_names  # sorted labels = the official map


def place_real(real_data: Path, root: Path, clip: tuple[str, str]) -> None:
    target = root / clip[1]
    target.parent.mkdir(parents=True)
    shutil.copyfile(real_data / "videos" / clip[0], target)


def test_mostly_missing_dataset_is_reported_not_fatal(real_data, make_cfg, tmp_path):
    root = tmp_path / "k400"
    place_real(real_data, root, K400_VIDEO)
    cfg = make_cfg("train", [
        "data=kinetics400", f"data.root={root}",
        f"data.annotation_dir={real_data / 'annotations' / 'kinetics400'}",
        "data.stage_splits={train: val, val: val, test: val}", "data.num_workers=2",
        "data.batch_size=1", "data.num_frames=4", "data.crop_size=64",
    ])  # fmt: skip
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    batch = datamodule.normalize_batch(next(iter(datamodule.train_dataloader())), train=True)
    assert batch["video"].shape == (1, 3, 4, 64, 64)
    report = datamodule.data_report()
    assert report["videos_used"]["train"] == 1
    val = report["splits"]["val"]
    assert (val["listed"], val["found"], val["missing"]) == (K400_VAL_ROWS, 1, K400_VAL_ROWS - 1)
    missing_lines = Path(report["missing_list"]).read_text().splitlines()
    assert len(missing_lines) == K400_VAL_ROWS - 1 and all(
        m.startswith("val\t") for m in missing_lines
    )


def test_check_on_real_annotations(real_data, make_cfg, tmp_path):
    root = tmp_path / "ucf"
    place_real(real_data, root, UCF_VIDEO)
    cfg = make_cfg("evaluate", ["task=check_data", "data=ucf101", f"data.root={root}",
                                f"data.annotation_dir={real_data / 'annotations' / 'ucf101'}",
                                "check.workers=1"])  # fmt: skip
    with pytest.raises(SystemExit):  # the train split has no video at all
        check_data.run(cfg)
    report = (Path(cfg.paths.output_dir) / "metrics.json").read_text()
    assert '"found": 1' in report and '"missing": 3782' in report
    bad = (Path(cfg.paths.output_dir) / "bad_files.txt").read_text().splitlines()
    assert len(bad) == 9537 + 3782
