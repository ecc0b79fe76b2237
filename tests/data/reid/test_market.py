"""Market-1501 layout: file-name parsing, split listing, relabelling, junk and distractors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidlab.data.reid import MarketFormatError, parse_market_name, read_market


def test_parse_names():
    r = parse_market_name("/x/0001_c1s1_001051_00.jpg")
    assert (r.pid, r.camid, r.seq, r.frame) == (1, 1, 1, 1051)
    assert parse_market_name("-1_c3s2_000151_04.jpg").pid == -1
    assert parse_market_name("0000_c6s4_002202_07.jpg").pid == 0
    # Sequence-prefixed identities of the crop builder have more than four digits.
    assert parse_market_name("20017_c3s2_000451_00.jpg").pid == 20017


@pytest.mark.parametrize(
    "name",
    [
        "0001_c1_001051_00.jpg",
        "a001_c1s1_001051_00.jpg",
        "0001_c1s1_001051.jpg",
        "0001_c0s1_001051_00.jpg",
        "-2_c1s1_000001_00.jpg",
    ],
)
def test_malformed_name_names_file_and_pattern(name):
    with pytest.raises(MarketFormatError) as err:
        parse_market_name(Path("/data/query") / name)
    assert name in str(err.value)
    assert "<pid>_c<cam>s<seq>_<frame>_<idx>.jpg" in str(err.value) or "1-based" in str(err.value)


def test_read_market_splits(market_folder, facts):
    root = market_folder(facts.market_layout(), extra={"query": ["Thumbs.db"]})
    splits = read_market(root)
    # Junk (-1) is dropped from training; the three train ids map to 0, 1, 2 in sorted order.
    assert [r.pid for r in splits.train] == [2, 2, 7, 7, 7, 11, 11]
    assert list(splits.train_labels) == [0, 0, 1, 1, 1, 2, 2]
    assert splits.train_pids == (2, 7, 11)
    assert splits.num_train_ids == 3
    assert [r.pid for r in splits.query] == [3, 5]  # Thumbs.db ignored
    # The gallery keeps distractors and junk; the evaluation handles them.
    assert sorted(r.pid for r in splits.gallery) == [-1, 0, 3, 3, 5, 5]
    assert splits.summary() == {
        "train": {"ids": 3, "images": 7},
        "query": {"ids": 2, "images": 2},
        "gallery": {"ids": 2, "images": 6},
    }


def test_malformed_jpg_in_a_split_is_an_error(market_folder, facts):
    layout = facts.market_layout()
    layout["bounding_box_test"].append("person_3.jpg")
    root = market_folder(layout)
    with pytest.raises(MarketFormatError, match=r"bounding_box_test/person_3\.jpg"):
        read_market(root)


def test_missing_split_folder_is_an_error(market_folder, facts):
    layout = facts.market_layout()
    del layout["query"]
    root = market_folder(layout)
    with pytest.raises(FileNotFoundError, match="query"):
        read_market(root)
    assert read_market(root, require=("train",)).query == ()


def test_real_market_query_crops(real_data):
    from vidlab.data.reid import load_reid_images

    folder = real_data / "reid" / "market1501_query"
    paths = sorted(folder.glob("*.jpg"))
    records = [parse_market_name(p) for p in paths]
    assert [(r.pid, r.camid) for r in records] == [(1, 1), (1, 6)]
    batch = load_reid_images(paths, (256, 128), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert batch.shape == (2, 3, 256, 128)
    # Undoing the normalisation gives RGB values in [0, 1].
    std = batch.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    mean = batch.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    rgb = batch * std + mean
    assert rgb.min() >= -1e-5 and rgb.max() <= 1 + 1e-5 and rgb.std() > 0.05
