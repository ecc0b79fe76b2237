"""Evaluate tracker output against MOTChallenge ground truth: tables or folders in, result dict out.

Use through `vidlab.evaluation.mot.evaluate_folder` / `evaluate_tables`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vidlab.evaluation.mot.aggregate import SequenceCounts, results_dict, sequence_counts
from vidlab.evaluation.mot.io import MotTable, SeqInfo, find_sequences, read_mot_txt, read_seqinfo
from vidlab.evaluation.mot.preprocess import BENCHMARKS, preprocess_sequence

logger = logging.getLogger(__name__)

GT_RELATIVE_PATH = Path("gt") / "gt.txt"
RESULTS_SUFFIX = ".txt"


def evaluate_tables(
    gt: dict[str, tuple[SeqInfo, MotTable]],
    results: dict[str, MotTable],
    *,
    benchmark: str = "MOT17",
) -> dict[str, Any]:
    """Score tracker tables against ground-truth tables, per sequence and combined.

    Args:
        gt: Sequence name -> (its `SeqInfo`, its ground-truth table).
        results: Sequence name -> tracker output table; needed for every sequence of `gt`
            (extra sequences are ignored, as TrackEval ignores extra files).
        benchmark: "MOT15", "MOT16", "MOT17" or "MOT20" (selects the preprocessing).

    Returns:
        `{"sequences": {seq: {field: value}}, "COMBINED": {field: value}}`.

    Raises:
        ValueError: No sequences, or results missing for some sequence.
    """
    _check_benchmark(benchmark)
    missing = sorted(set(gt) - set(results))
    if missing:
        raise ValueError(f"no results for sequences {missing}; expected one table per gt sequence")
    counts: dict[str, SequenceCounts] = {}
    for name in sorted(gt):
        info, gt_table = gt[name]
        data = preprocess_sequence(
            name, info.seq_length, gt_table, results[name], benchmark=benchmark
        )
        counts[name] = sequence_counts(data)
    return results_dict(counts)


def evaluate_folder(
    gt_root: str | Path,
    results_dir: str | Path,
    *,
    sequences: list[str] | None = None,
    benchmark: str = "MOT17",
) -> dict[str, Any]:
    """Score `results_dir/<seq>.txt` against `gt_root/<seq>/gt/gt.txt` for each sequence.

    Args:
        gt_root: Folder of MOTChallenge sequence folders (each with `seqinfo.ini` and `gt/gt.txt`).
        results_dir: Folder of MOTChallenge results files, one `<seq>.txt` per sequence.
        sequences: Names of the sequences to evaluate; every sequence folder of `gt_root` if None.
        benchmark: "MOT15", "MOT16", "MOT17" or "MOT20".

    Returns:
        `{"sequences": {seq: {field: value}}, "COMBINED": {field: value}}`.

    Raises:
        FileNotFoundError: A folder, `seqinfo.ini`, ground-truth or results file is missing.
        MotFormatError: A file is malformed (the message names the file and line).
    """
    _check_benchmark(benchmark)
    gt_root, results_dir = Path(gt_root), Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{results_dir}: results folder does not exist")
    names = (
        sorted(sequences) if sequences is not None else [p.name for p in find_sequences(gt_root)]
    )
    if not names:
        raise ValueError(f"{gt_root}: no sequence folders (with seqinfo.ini) to evaluate")
    counts: dict[str, SequenceCounts] = {}
    for name in names:
        info = read_seqinfo(gt_root / name)
        gt_path = gt_root / name / GT_RELATIVE_PATH
        res_path = results_dir / f"{name}{RESULTS_SUFFIX}"
        gt = read_mot_txt(gt_path, kind="gt", num_frames=info.seq_length)
        res = read_mot_txt(res_path, kind="results", num_frames=info.seq_length)
        data = preprocess_sequence(
            name, info.seq_length, gt, res, benchmark=benchmark,
            gt_source=str(gt_path), results_source=str(res_path),
        )  # fmt: skip
        counts[name] = sequence_counts(data)
        logger.debug("evaluated %s: %d gt boxes, %d tracker boxes", name, len(gt), len(res))
    return results_dict(counts)


def _check_benchmark(benchmark: str) -> None:
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark={benchmark!r}, expected one of {BENCHMARKS}")
