"""Dataset layouts: each index reads its official annotation format and reports what is missing."""

from __future__ import annotations

import json

import pytest

from vidlab.data.datasets.generic import VideoFolderIndex, VideoListIndex
from vidlab.data.datasets.hmdb51 import HMDB51Index
from vidlab.data.datasets.kinetics import KineticsIndex
from vidlab.data.datasets.records import UNLABELED, AnnotationError
from vidlab.data.datasets.ssv2 import SSv2Index
from vidlab.data.datasets.ucf101 import UCF101Index


def test_ucf101_official_lists(ucf101_layout, facts):
    root = ucf101_layout(missing=("v_Biking_g09_c01.avi",))
    index = UCF101Index(root, split=1).build()
    assert index.class_names == facts.ucf_classes
    train, test = index.split("train"), index.split("test")
    assert (train.listed, len(train.records), train.missing) == (
        9,
        8,
        ("Biking/v_Biking_g09_c01.avi",),
    )
    assert (test.listed, len(test.records)) == (6, 6)
    # Test lists carry no label: it comes from the folder, even with the official
    # "HandstandPushups/v_HandStandPushups_*" spelling.
    labels = {r.video_id: r.label for r in test.records}
    assert labels["HandstandPushups/v_HandStandPushups_g01_c01.avi"] == 2
    assert labels["Biking/v_Biking_g02_c01.avi"] == 1
    assert all(r.path.is_file() for r in train.records + test.records)
    swapped = UCF101Index(root, split=2).build()  # the fixture swaps the groups for split 2
    assert {r.video_id for r in swapped.split("train").records} == {
        r.video_id for r in test.records
    }
    with pytest.raises(KeyError, match="no split 'val'; available: \\['test', 'train'\\]"):
        index.split("val")


def test_ucf101_errors_name_file_and_line(ucf101_layout, tmp_path):
    root = ucf101_layout()
    listing = root / "trainlist01.txt"
    lines = listing.read_text().splitlines()
    lines[1] = lines[1].replace(" 1", " 3")  # label disagrees with the class folder
    listing.write_text("\n".join(lines))
    with pytest.raises(AnnotationError, match=r"trainlist01.txt:2: label 3 disagrees"):
        UCF101Index(root).build()
    with pytest.raises(ValueError, match="split must be one of \\(1, 2, 3\\), got 4"):
        UCF101Index(root, split=4)
    with pytest.raises(FileNotFoundError, match="classInd.txt not found"):
        UCF101Index(tmp_path / "nowhere").build()


def test_hmdb51_split_files(hmdb51_layout):
    root = hmdb51_layout(missing=("wave_clip_2_[#!]_u_cm_np1_fr_med_2.avi",))
    index = HMDB51Index(root, annotation_dir=root / "splits", split=1).build()
    assert index.class_names == ("brush_hair", "cartwheel", "wave")
    train, test = index.split("train"), index.split("test")
    assert (train.listed, len(train.records)) == (6, 6)  # id 0 (unused) is left out
    assert (test.listed, len(test.records), len(test.missing)) == (3, 2, 1)
    assert sorted({r.label for r in train.records}) == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match="_test_split2.txt"):
        HMDB51Index(root, annotation_dir=root / "splits", split=2).build()


@pytest.mark.parametrize("nested", [True, False])
def test_kinetics_csv_finds_videos_wherever_they_are(kinetics_layout, facts, nested):
    root = kinetics_layout(nested=nested, missing=("3caPS4FHFF8", "zz9Ck0lYhm8V"))
    index = KineticsIndex(root / "videos", annotation_dir=root / "annotations", variant=400).build()
    assert index.name == "kinetics400"
    assert index.class_names == ("abseiling", "air drumming", "zumba")  # sorted train labels
    train, val = index.split("train"), index.split("val")
    assert (train.listed, len(train.records), train.missing) == (
        5,
        4,
        ("3caPS4FHFF8_000036_000046",),
    )
    assert (val.listed, len(val.records)) == (5, 4)
    by_id = {r.video_id: r for r in train.records}
    record = by_id["--nQbRBEz2s_000104_000114"]  # id starting with '-', label with a space
    assert record.label == 1 and record.path.name == "--nQbRBEz2s_000104_000114.mp4"
    test = index.split("test")
    assert test.listed == 0 and "no annotation file" in test.error and "test.csv" in test.error


def test_kinetics_label_map_and_youtube_id_file_names(kinetics_layout):
    root = kinetics_layout(nested=False)
    for path in (root / "videos").glob("2cPLjY5AWXU_*.mp4"):
        path.rename(path.with_name("2cPLjY5AWXU.mp4"))  # some copies use the bare id
    (root / "annotations" / "labels.txt").write_text("zumba\nabseiling\nair drumming\n")
    index = KineticsIndex(root / "videos", root / "annotations", label_map="labels.txt").build()
    assert index.class_names == ("zumba", "abseiling", "air drumming")
    records = {r.video_id: r for r in index.split("train").records}
    assert records["2cPLjY5AWXU_000001_000011"].path.name == "2cPLjY5AWXU.mp4"
    assert records["zz9Ck0lYhm8_000005_000015"].label == 0


def test_kinetics_bad_rows(kinetics_layout):
    root = kinetics_layout()
    val_csv = root / "annotations" / "kinetics-400_val.csv"
    val_csv.write_text(val_csv.read_text() + "unknown class,abc,1,11,val,0\n")  # not a train label
    with pytest.raises(AnnotationError, match=r"kinetics-400_val.csv:7: label 'unknown class'"):
        KineticsIndex(root / "videos", root / "annotations").build()
    csv_path = root / "annotations" / "kinetics-400_train.csv"
    csv_path.write_text("label,id\nx,y\n")
    with pytest.raises(AnnotationError, match="lacks \\['youtube_id', 'time_start', 'time_end'\\]"):
        KineticsIndex(root / "videos", root / "annotations").build()


def test_ssv2_templates_and_unlabeled_test(ssv2_layout, facts):
    root = ssv2_layout()
    index = SSv2Index(root / "videos", annotation_dir=root / "labels").build()
    assert index.class_names == tuple(
        t.replace("[", "").replace("]", "") for t in facts.ssv2_templates
    )
    train = index.split("train")
    assert len(train.records) == 6 and sorted(r.label for r in train.records) == [0, 0, 1, 1, 2, 2]
    assert all(r.path.suffix == ".webm" for r in train.records)
    test = index.split("test")
    assert len(test.records) == 2 and not test.labeled
    assert {r.label for r in test.records} == {UNLABELED}
    entries = json.loads((root / "labels" / "something-something-v2-train.json").read_text())
    entries[0]["template"] = "Juggling [something]"
    (root / "labels" / "something-something-v2-train.json").write_text(json.dumps(entries))
    with pytest.raises(AnnotationError, match="entry 0 .*'Juggling \\[something\\]' is not in"):
        SSv2Index(root / "videos", annotation_dir=root / "labels").build()


def test_video_list_text_and_csv(tmp_path, video_library, folder_layout):
    root = folder_layout()
    (root / "train.txt").write_text("train/jump/jump_0.mp4 jump\ntrain/run/run 0.mp4 run\n")
    (root / "train/run/run_0.mp4").rename(root / "train/run/run 0.mp4")  # a space in the path
    (root / "val.csv").write_text("path,label\nval/run/run_0.mp4,run\nval/jump/gone.mp4,jump\n")
    index = VideoListIndex(
        root, files={"train": "train.txt", "val": "val.csv", "test": "t.csv"}
    ).build()
    assert index.class_names == ("jump", "run")
    assert [(r.video_id, r.label) for r in index.split("train").records] == [
        ("train/jump/jump_0.mp4", 0), ("train/run/run 0.mp4", 1)]  # fmt: skip
    val = index.split("val")
    assert (len(val.records), val.missing) == (1, ("val/jump/gone.mp4",))
    assert "not found" in index.split("test").error
    (root / "ints.txt").write_text("train/jump/jump_0.mp4 0\ntrain/run/run 0.mp4 4\n")
    numeric = VideoListIndex(root, files={"train": "ints.txt"}).build()
    assert numeric.num_classes == 5
    (root / "classes.txt").write_text("run\njump\n")
    named = VideoListIndex(root, files={"train": "train.txt"}, classes_file="classes.txt").build()
    assert [r.label for r in named.split("train").records] == [1, 0]
    (root / "mixed.txt").write_text("train/jump/jump_0.mp4 0\ntrain/run/run 0.mp4 run\n")
    with pytest.raises(AnnotationError, match="mixed.txt:1: numeric label '0' among class-name"):
        VideoListIndex(root, files={"train": "mixed.txt"}).build()
    (root / "bad.txt").write_text("just_a_path.mp4\n")
    with pytest.raises(AnnotationError, match="bad.txt:1: got 'just_a_path.mp4'"):
        VideoListIndex(root, files={"train": "bad.txt"}).build()


def test_video_folder(folder_layout):
    root = folder_layout({"train": ["h264.mp4", "mpeg4.avi"], "val": ["h264.mp4"]})
    (root / "train" / "jump" / "notes.txt").write_text("not a video")
    index = VideoFolderIndex(root).build()
    assert index.class_names == ("jump", "run")
    train = index.split("train")
    assert len(train.records) == 4 and [r.label for r in train.records] == [0, 0, 1, 1]
    assert "split folder not found" in index.split("test").error
