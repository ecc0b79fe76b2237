"""MOTChallenge readers, writers and validation: vidlab.evaluation.mot.io."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from vidlab.evaluation.mot.io import (
    MotFormatError,
    MotTable,
    find_sequences,
    read_mot_txt,
    read_seqinfo,
    write_mot_txt,
)

GT_LINES = [
    "2,1,10,20,30,60,1,1,0.5",
    "1,2,50,20,30,60,1,7,1",
    "1,1,12,20,30,60,0,1,0.25",
]


def write(tmp_path: Path, lines: list[str], name: str = "gt.txt") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_gt_columns_and_sorts_rows_by_frame_then_id(tmp_path: Path) -> None:
    table = read_mot_txt(write(tmp_path, GT_LINES), kind="gt", num_frames=2)
    assert len(table) == 3
    np.testing.assert_array_equal(table.frame, [1, 1, 2])
    np.testing.assert_array_equal(table.track_id, [1, 2, 1])
    np.testing.assert_array_equal(table.tlwh[0], [12, 20, 30, 60])
    np.testing.assert_array_equal(table.score, [0, 1, 1])  # the "consider" flag for gt
    np.testing.assert_array_equal(table.class_id, [1, 7, 1])
    np.testing.assert_array_equal(table.visibility, [0.25, 1, 0.5])
    assert table.frame.dtype == np.int64 and table.tlwh.dtype == np.float64


def test_ten_column_layout_has_no_class_or_visibility(tmp_path: Path) -> None:
    # MOT15 gt and all results files: the last three columns are world coordinates.
    path = write(tmp_path, ["1,3,1.5,2.5,10,20,0.9,4.2,-1,-1"], "res.txt")
    table = read_mot_txt(path, kind="results")
    assert table.class_id.tolist() == [-1] and table.visibility.tolist() == [-1.0]
    assert table.score.tolist() == [0.9]


def test_whitespace_blank_lines_and_trailing_delimiter(tmp_path: Path) -> None:
    spaced = read_mot_txt(write(tmp_path, ["1 1 0 0 5 5 1", "", "2 1 1 1 5 5 1"]), kind="results")
    assert spaced.frame.tolist() == [1, 2]
    trailing = read_mot_txt(write(tmp_path, ["1,1,0,0,5,5,1,", "2,1,0,0,5,5,1,"]), kind="results")
    assert trailing.tlwh.shape == (2, 4)
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"1, 1, 0, 0, 5, 5, 1\r\n2, 1, 1, 1, 5, 5, 1\r\n")
    assert read_mot_txt(crlf, kind="results").tlwh[1].tolist() == [1, 1, 5, 5]


def test_empty_file_gives_empty_table(tmp_path: Path) -> None:
    table = read_mot_txt(write(tmp_path, [""]), kind="results", num_frames=10)
    assert len(table) == 0 and table.tlwh.shape == (0, 4)


def test_write_then_read_round_trips_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 50
    original = MotTable.from_arrays(
        frame=rng.integers(1, 20, n),
        track_id=rng.permutation(n),
        tlwh=rng.uniform(0, 500, (n, 4)),
        score=rng.uniform(0, 1, n),
    )
    path = tmp_path / "out" / "seq.txt"
    write_mot_txt(path, original)
    assert all(len(line.split(",")) == 10 for line in path.read_text().splitlines())
    back = read_mot_txt(path, kind="results", num_frames=20)
    for field in ("frame", "track_id", "tlwh", "score"):
        np.testing.assert_array_equal(getattr(back, field), getattr(original, field))


def test_at_frame_returns_that_frames_rows(tmp_path: Path) -> None:
    table = read_mot_txt(write(tmp_path, GT_LINES), kind="gt")
    assert table.at_frame(1).track_id.tolist() == [1, 2]
    assert table.at_frame(2).track_id.tolist() == [1]
    assert len(table.at_frame(3)) == 0


def test_table_rejects_unsorted_rows_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="sorted"):
        MotTable(np.array([2, 1]), np.array([1, 1]), np.zeros((2, 4)), np.ones(2),
                 np.ones(2), np.ones(2))  # fmt: skip
    with pytest.raises(ValueError, match=r"tlwh has shape \(2, 3\)"):
        MotTable(np.array([1, 2]), np.array([1, 1]), np.zeros((2, 3)), np.ones(2),
                 np.ones(2), np.ones(2))  # fmt: skip


BAD_FILES = [
    # (lines, kind, num_frames, bad line, phrase in the message)
    (["1,1,0,0,5,5,1,1,1", "2,1,0,0,5,5,1,1,1", "3,1,0,0,5,5,1,1"], "gt", None, 3, "8 columns"),
    (["1,1,0,0,5,5"], "results", None, 1, "6 columns"),
    (["1,1,0,0,5,5,1", "2,1,0,abc,5,5,1"], "results", None, 2, "'abc' is not a number"),
    (["1,1,0,0,5,5,1", "2,1,0,nan,5,5,1"], "results", None, 2, "NaN or inf"),
    (["1,1,0,0,5,5,1", "2,1,0,0,inf,5,1"], "det", None, 2, "NaN or inf"),
    (["1,1,0,0,5,5,1", "2,1,0,0,-5,5,1"], "results", None, 2, "negative width or height"),
    (["0,1,0,0,5,5,1"], "results", None, 1, "frame number below 1"),
    (["1,1,0,0,5,5,1", "4,1,0,0,5,5,1"], "results", 3, 2, "above the sequence length 3"),
    (["1.5,1,0,0,5,5,1"], "results", None, 1, "frame number is not an integer"),
    (
        ["1,1,0,0,5,5,1,1,1", "1,2,0,0,5,5,1,1,1", "1,1,9,9,5,5,1,1,1"],
        "gt",
        None,
        3,
        "id already used",
    ),
    (["1,-3,0,0,5,5,1"], "results", None, 1, "negative id"),
    # A blank line does not shift the reported line number.
    (["1,1,0,0,5,5,1", "", "2,1,0,0,-1,5,1"], "results", None, 3, "negative width"),
]


@pytest.mark.parametrize(("lines", "kind", "num_frames", "line", "phrase"), BAD_FILES)
def test_malformed_files_name_file_and_line(
    tmp_path: Path, lines: list[str], kind: str, num_frames: int | None, line: int, phrase: str
) -> None:
    path = write(tmp_path, lines, "bad.txt")
    with pytest.raises(MotFormatError) as info:
        read_mot_txt(path, kind=kind, num_frames=num_frames)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert phrase in message


def test_detections_may_repeat_the_placeholder_id(tmp_path: Path) -> None:
    path = write(tmp_path, ["1,-1,0,0,5,5,0.9,-1,-1,-1", "1,-1,9,9,5,5,0.8,-1,-1,-1"], "det.txt")
    assert read_mot_txt(path, kind="det").track_id.tolist() == [-1, -1]


def test_missing_file_and_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_mot_txt(tmp_path / "nope.txt", kind="gt")
    with pytest.raises(ValueError, match="kind='tracks'"):
        read_mot_txt(write(tmp_path, GT_LINES), kind="tracks")  # type: ignore[arg-type]


def make_seq(root: Path, name: str, body: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "seqinfo.ini").write_text(body)
    return folder


SEQINFO = "[Sequence]\nname=S\nimDir=img1\nframeRate=25\nseqLength=71\nimWidth=640\nimHeight=480\nimExt=.jpg\n"


def test_read_seqinfo_from_file_or_folder(tmp_path: Path) -> None:
    folder = make_seq(tmp_path, "S", SEQINFO)
    info = read_seqinfo(folder)
    assert (info.name, info.seq_length, info.frame_rate) == ("S", 71, 25.0)
    assert (info.im_width, info.im_height, info.im_dir, info.im_ext) == (640, 480, "img1", ".jpg")
    assert read_seqinfo(folder / "seqinfo.ini") == info


def test_read_seqinfo_errors(tmp_path: Path) -> None:
    missing_key = make_seq(tmp_path, "A", SEQINFO.replace("seqLength=71\n", ""))
    with pytest.raises(MotFormatError, match=re.escape("has no 'seqLength' key")):
        read_seqinfo(missing_key)
    bad_value = make_seq(tmp_path, "B", SEQINFO.replace("seqLength=71", "seqLength=many"))
    with pytest.raises(MotFormatError, match="seqLength='many' is not a valid int"):
        read_seqinfo(bad_value)
    with pytest.raises(FileNotFoundError):
        read_seqinfo(tmp_path / "C")


def test_find_sequences_lists_only_sequence_folders_sorted(tmp_path: Path) -> None:
    make_seq(tmp_path, "MOT17-04-FRCNN", SEQINFO)
    make_seq(tmp_path, "MOT17-02-FRCNN", SEQINFO)
    (tmp_path / "not-a-sequence").mkdir()
    assert [p.name for p in find_sequences(tmp_path)] == ["MOT17-02-FRCNN", "MOT17-04-FRCNN"]
    with pytest.raises(FileNotFoundError):
        find_sequences(tmp_path / "absent")


def test_find_sequences_rejects_a_sequence_folder_without_seqinfo(tmp_path: Path, caplog) -> None:
    make_seq(tmp_path, "MOT17-02-FRCNN", SEQINFO)
    (tmp_path / "MOT17-05-FRCNN" / "gt").mkdir(parents=True)  # gt/ but no seqinfo.ini
    with pytest.raises(FileNotFoundError) as info:
        find_sequences(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "MOT17-05-FRCNN" / "seqinfo.ini") in message
    assert "allow_missing=true" in message
    # Opting in skips it loudly: a warning that names and counts it.
    with caplog.at_level("WARNING"):
        found = find_sequences(tmp_path, allow_missing=True)
    assert [p.name for p in found] == ["MOT17-02-FRCNN"]
    assert "skipping 1 sequence folder(s)" in caplog.text and "MOT17-05-FRCNN" in caplog.text


ENCODING_CASES = [
    # (file bytes, bad line or None, phrase)
    ("1,1,0,0,5,5,1\n".encode("utf-16"), None, "UTF-16 text"),
    ("1,1,0,0,5,5,1\n".encode("utf-16-le"), None, "UTF-16 text"),
    (b"1,1,0,0,5,5,1\n2,1,0,0,5,5,1 \xe9t\xe9\n", 2, "byte 0xe9 is not UTF-8"),
]


@pytest.mark.parametrize(("data", "line", "phrase"), ENCODING_CASES)
def test_non_utf8_files_name_file_line_and_encoding(
    tmp_path: Path, data: bytes, line: int | None, phrase: str
) -> None:
    path = tmp_path / "res.txt"
    path.write_bytes(data)
    with pytest.raises(MotFormatError) as info:
        read_mot_txt(path, kind="results")
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:" if line else f"{path}:"), message
    assert phrase in message and "expected UTF-8" in message
    assert "\n" not in message


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "res.txt"
    path.write_bytes("1,1,0,0,5,5,1\n".encode("utf-8-sig"))
    assert read_mot_txt(path, kind="results").frame.tolist() == [1]


def test_seqinfo_that_is_not_utf8_is_a_format_error(tmp_path: Path) -> None:
    folder = tmp_path / "S"
    folder.mkdir()
    (folder / "seqinfo.ini").write_bytes(SEQINFO.encode("utf-8").replace(b"name=S", b"name=\xe9"))
    with pytest.raises(MotFormatError, match="is not UTF-8"):
        read_seqinfo(folder)
