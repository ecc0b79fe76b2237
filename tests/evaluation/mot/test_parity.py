"""Parity with TrackEval 1.3.0 itself, run in process on the same folders: every field of every
sequence and of the combination within 1e-9 (and bit-identical where the files are ordered the
way MOTChallenge ships them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlab.evaluation.mot import evaluate_folder, read_seqinfo

pytestmark = pytest.mark.integration

TOLERANCE = 1e-9


@pytest.mark.parametrize(
    ("seed", "benchmark"),
    [(0, "MOT17"), (1, "MOT17"), (2, "MOT20"), (3, "MOT16"), (4, "MOT15"), (5, "MOT15")],
)
def test_parity_on_generated_sequences(tmp_path: Path, motkit, trackeval_folder, seed, benchmark):
    seqs = motkit.make_synthetic(seed, 3, mot15=benchmark == "MOT15")
    gt_root, res_dir = motkit.write_folder(tmp_path, seqs)
    ours = evaluate_folder(gt_root, res_dir, benchmark=benchmark)
    theirs = trackeval_folder(gt_root, res_dir, benchmark=benchmark)
    motkit.assert_same_results(ours, theirs, tol=TOLERANCE)
    c = theirs["COMBINED"]
    # The data exercise what they should: switches, fragmentations, misses and false positives.
    assert c["IDSW"] > 0 and c["Frag"] > 0 and c["CLR_FN"] > 0 and c["CLR_FP"] > 0


def test_parity_under_heavy_noise(tmp_path: Path, motkit, trackeval_folder) -> None:
    # Many duplicates and false positives: most frames need a Hungarian solve in every metric.
    seqs = motkit.make_synthetic(11, 2, miss=0.3, false_positives=4.0, duplicates=0.5, switch=0.1)
    gt_root, res_dir = motkit.write_folder(tmp_path, seqs)
    motkit.assert_same_results(
        evaluate_folder(gt_root, res_dir), trackeval_folder(gt_root, res_dir), tol=TOLERANCE
    )


def test_bit_identical_when_rows_are_in_canonical_order(tmp_path: Path, motkit, trackeval_folder):
    # Ground truth sorted by id then frame (as MOTChallenge ships it), results by frame then id:
    # within each frame both tools see the boxes in the same order, so every floating-point
    # operation happens in the same order and the results agree exactly.
    seqs = motkit.make_synthetic(21, 3)
    canonical = [
        type(s)(s.name, s.num_frames, s.gt[np.lexsort((s.gt[:, 0], s.gt[:, 1]))], s.results)
        for s in seqs
    ]
    gt_root, res_dir = motkit.write_folder(tmp_path, canonical)
    motkit.assert_same_results(
        evaluate_folder(gt_root, res_dir), trackeval_folder(gt_root, res_dir), tol=0.0
    )


def test_parity_on_edge_cases(tmp_path: Path, motkit, trackeval_folder) -> None:
    rng = np.random.default_rng(0)
    base = motkit.make_synthetic(31, 1)[0]
    gt, res, n = base.gt, base.results, base.num_frames
    ped = gt[:, 7] == 1
    seqs = [
        ("EDGE-no-results", gt, res[:0]),
        ("EDGE-no-gt", gt[:0], res),
        ("EDGE-no-pedestrians", gt[~ped], res),  # gt only of other classes: all removed
        ("EDGE-all-zero-marked", np.column_stack([gt[:, :6], 0 * gt[:, 6], gt[:, 7:]]), res),
        ("EDGE-results-between-gt", gt[gt[:, 0] % 2 == 0], res[res[:, 0] % 2 == 1]),
        ("EDGE-both-empty", gt[:0], res[:0]),
        ("EDGE-one-box", gt[ped][:1], res[rng.permutation(len(res))][:1]),
    ]
    synthetic = [type(base)(name, n, g, r) for name, g, r in seqs]
    gt_root, res_dir = motkit.write_folder(tmp_path, synthetic)
    motkit.assert_same_results(
        evaluate_folder(gt_root, res_dir), trackeval_folder(gt_root, res_dir), tol=TOLERANCE
    )


def test_parity_on_mot17_mpntrack(real_data: Path, motkit, trackeval_folder) -> None:
    gt_root = real_data / "MOT17" / "train"
    res_dir = real_data / "MOT17" / "results" / "MPNTrack"
    ours = evaluate_folder(gt_root, res_dir)
    theirs = trackeval_folder(gt_root, res_dir)
    assert len(ours["sequences"]) == 7
    motkit.assert_same_results(ours, theirs, tol=TOLERANCE)
    # The official files are in canonical order: the agreement is exact.
    motkit.assert_same_results(ours, theirs, tol=0.0)


def test_parity_on_mot15_ground_truth(real_data: Path, tmp_path: Path, motkit, trackeval_folder):
    gt_root = real_data / "MOT15" / "train"
    res_dir = tmp_path / "results"
    rng = np.random.default_rng(15)
    for folder in sorted(gt_root.iterdir()):
        gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",", ndmin=2)
        num_frames = read_seqinfo(folder).seq_length
        res = motkit.synthetic_results(rng, gt, num_frames, mot15=True)
        motkit.write_txt(res_dir / f"{folder.name}.txt", res)
    ours = evaluate_folder(gt_root, res_dir, benchmark="MOT15")
    theirs = trackeval_folder(gt_root, res_dir, benchmark="MOT15")
    assert len(ours["sequences"]) == 5
    motkit.assert_same_results(ours, theirs, tol=TOLERANCE)
