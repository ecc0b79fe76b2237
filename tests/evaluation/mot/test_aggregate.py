"""Combination over sequences and the public entry points: aggregate.py, evaluate_tables/folder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vidlab.evaluation.mot import evaluate_folder, evaluate_tables

BOX = (0.0, 0.0, 10.0, 20.0)
FAR = (300.0, 300.0, 10.0, 20.0)


def two_sequences(motkit) -> tuple[dict, dict]:
    """ "perfect": 2 people x 3 frames tracked perfectly (6 TP).
    "split": 1 person x 5 frames; ids 5, 5, (miss + a far FP), 6, 6 -> 4 TP, 1 FN, 1 FP, 1 IDSW."""
    perfect_gt = [(f, g, *(BOX if g == 1 else FAR), 1, 1, 1) for f in (1, 2, 3) for g in (1, 2)]
    perfect_res = [(f, t, *(BOX if t == 7 else FAR), 1) for f in (1, 2, 3) for t in (7, 9)]
    split_gt = [(f, 1, *BOX, 1, 1, 1) for f in range(1, 6)]
    split_res = [
        (1, 5, *BOX, 1),
        (2, 5, *BOX, 1),
        (3, 9, *FAR, 1),
        (4, 6, *BOX, 1),
        (5, 6, *BOX, 1),
    ]
    gt = {
        "perfect": (motkit.seq_info("perfect", 3), motkit.table(perfect_gt)),
        "split": (motkit.seq_info("split", 5), motkit.table(split_gt)),
    }
    res = {"perfect": motkit.table(perfect_res), "split": motkit.table(split_res)}
    return gt, res


def test_combined_sums_counts_then_recomputes_ratios(motkit) -> None:
    gt, res = two_sequences(motkit)
    out = evaluate_tables(gt, res)
    c = out["COMBINED"]
    assert (c["CLR_TP"], c["CLR_FN"], c["CLR_FP"], c["IDSW"]) == (10, 1, 1, 1)
    assert c["MOTA"] == pytest.approx((10 - 1 - 1) / 11)  # not the mean of 1.0 and 0.4
    per_seq = [out["sequences"][s]["MOTA"] for s in ("perfect", "split")]
    assert per_seq == pytest.approx([1.0, 0.4])
    assert c["IDF1"] == pytest.approx((6 + 2) / (8 + 0.5 * 3 + 0.5 * 3))
    # HOTA: TP/FN/FP summed per alpha, AssA a TP-weighted mean (1.0 over 6 TP, 0.4 over 4 TP).
    ass_a = (1.0 * 6 + 0.4 * 4) / 10
    det_a = 10 / (10 + 1 + 1)
    assert c["AssA"] == pytest.approx(ass_a)
    assert c["HOTA"] == pytest.approx(math.sqrt(det_a * ass_a))
    assert (c["GT_IDs"], c["IDs"], c["CLR_Frames"]) == (3, 5, 8)
    assert c["HOTA_TP_per_alpha"] == [10.0] * 19


def test_combination_keeps_no_trace_of_empty_sequence_conventions(motkit) -> None:
    gt, res = two_sequences(motkit)
    gt["empty"] = (motkit.seq_info("empty", 2), motkit.table([]))
    res["empty"] = motkit.table([(1, 1, *BOX, 1), (2, 1, *BOX, 1), (2, 2, *FAR, 1)])
    out = evaluate_tables(gt, res)
    assert out["sequences"]["empty"]["MOTA"] == 0.0  # TrackEval's per-sequence convention
    assert out["COMBINED"]["MOTA"] == pytest.approx((10 - 4 - 1) / 11)  # 3 more FP
    # An evaluated sequence without ground truth contributes no frames (TrackEval).
    assert out["COMBINED"]["FP_per_frame"] == pytest.approx(4 / 8)


def test_results_missing_for_a_sequence(motkit) -> None:
    gt, res = two_sequences(motkit)
    del res["split"]
    with pytest.raises(ValueError, match=r"no results for sequences \['split'\]"):
        evaluate_tables(gt, res)


def test_evaluate_folder_matches_evaluate_tables_and_is_json_ready(tmp_path: Path, motkit) -> None:
    seqs = motkit.make_synthetic(5, 2)
    gt_root, res_dir = motkit.write_folder(tmp_path, seqs)
    from_folder = evaluate_folder(gt_root, res_dir)
    tables = {}
    for s in seqs:
        info = motkit.seq_info(s.name, s.num_frames)
        tables[s.name] = (info, motkit.table(s.gt))
    from_tables = evaluate_tables(tables, {s.name: motkit.table(s.results[:, :7]) for s in seqs})
    assert json.loads(json.dumps(from_folder)) == from_folder
    motkit.assert_same_results(from_folder, from_tables, tol=0.0)
    only = evaluate_folder(gt_root, res_dir, sequences=[seqs[1].name])
    assert list(only["sequences"]) == [seqs[1].name]
    assert only["sequences"][seqs[1].name] == from_folder["sequences"][seqs[1].name]


def test_one_sequence_combined_equals_the_sequence(tmp_path: Path, motkit) -> None:
    gt_root, res_dir = motkit.write_folder(tmp_path, motkit.make_synthetic(6, 1))
    out = evaluate_folder(gt_root, res_dir)
    (seq,) = out["sequences"].values()
    for field, value in seq.items():
        np.testing.assert_allclose(out["COMBINED"][field], value, rtol=1e-12, atol=1e-12)


def test_evaluate_folder_errors(tmp_path: Path, motkit) -> None:
    gt_root, res_dir = motkit.write_folder(tmp_path, motkit.make_synthetic(7, 1))
    with pytest.raises(FileNotFoundError, match="results folder does not exist"):
        evaluate_folder(gt_root, tmp_path / "nothing")
    with pytest.raises(ValueError, match="benchmark='MOT99'"):
        evaluate_folder(gt_root, res_dir, benchmark="MOT99")
    for f in res_dir.iterdir():
        f.unlink()
    with pytest.raises(FileNotFoundError, match=r"SYN007-00\.txt"):
        evaluate_folder(gt_root, res_dir)
