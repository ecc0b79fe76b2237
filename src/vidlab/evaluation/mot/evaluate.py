"""Evaluate tracker output against MOTChallenge ground truth: tables or folders in, result dict out.

Use through `vidlab.evaluation.mot.evaluate_folder` / `evaluate_tables`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vidlab.evaluation.mot.aggregate import SequenceCounts, results_dict, sequence_counts
from vidlab.evaluation.mot.io import (
    SEQINFO_FILE,
    SEQUENCE_MARKERS,
    MotFormatError,
    MotTable,
    SeqInfo,
    read_mot_txt,
    read_seqinfo,
)
from vidlab.evaluation.mot.preprocess import BENCHMARKS, preprocess_sequence

logger = logging.getLogger(__name__)

GT_RELATIVE_PATH = Path("gt") / "gt.txt"
RESULTS_SUFFIX = ".txt"
SKIPPED = "skipped"  # key of the sequences skipped under allow_missing in the results dict


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
    allow_missing: bool = False,
) -> dict[str, Any]:
    """Score `results_dir/<seq>.txt` against `gt_root/<seq>/gt/gt.txt` for each sequence.

    A sequence is evaluated or reported, never dropped silently: every listed sequence, and
    without `sequences` every sequence folder of `gt_root` (with or without `seqinfo.ini`) and
    every `<seq>.txt` of `results_dir`, must have its `seqinfo.ini`, ground truth and results.

    Args:
        gt_root: Folder of MOTChallenge sequence folders (each with `seqinfo.ini` and `gt/gt.txt`).
        results_dir: Folder of MOTChallenge results files, one `<seq>.txt` per sequence.
        sequences: Names of the sequences to evaluate; every sequence folder of `gt_root` if None.
        benchmark: "MOT15", "MOT16", "MOT17" or "MOT20".
        allow_missing: Skip sequences whose `seqinfo.ini`, ground truth or results file is
            missing, with a warning; they are listed under "skipped" in the returned dict.

    Returns:
        `{"sequences": {seq: {field: value}}, "COMBINED": {field: value}}`, plus
        `"skipped": {seq: reason}` when `allow_missing` skipped some.

    Raises:
        FileNotFoundError: `gt_root` or `results_dir` is not a folder, or a sequence's
            `seqinfo.ini`, ground-truth or results file is missing (unless `allow_missing`); the
            message lists every such sequence and file.
        MotFormatError: No sequence is left to evaluate, or a file is malformed (the message
            names the file and line).
    """
    _check_benchmark(benchmark)
    gt_root, results_dir = Path(gt_root), Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"{results_dir}: results folder does not exist")
    names = sorted(sequences) if sequences is not None else _all_sequences(gt_root, results_dir)
    if not names:
        raise MotFormatError(f"{gt_root}: no sequence folders (with seqinfo.ini) to evaluate")
    missing = {name: why for name in names if (why := _missing_file(gt_root, results_dir, name))}
    if missing and not allow_missing:
        raise FileNotFoundError(
            f"cannot evaluate {len(missing)} of {len(names)} sequence(s): "
            + "; ".join(f"{name}: {why}" for name, why in missing.items())
            + " (set allow_missing=true to skip them)"
        )
    for name, why in missing.items():
        logger.warning("skipping sequence %s (allow_missing=true): %s", name, why)
    names = [name for name in names if name not in missing]
    if not names:
        raise MotFormatError(f"{gt_root}: none of the sequences can be evaluated: {missing}")
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
    scores = results_dict(counts)
    if missing:
        scores[SKIPPED] = missing
    return scores


def _all_sequences(gt_root: Path, results_dir: Path) -> list[str]:
    """Every sequence folder of `gt_root` (readable or not) and every results file's sequence."""
    if not gt_root.is_dir():
        raise FileNotFoundError(f"{gt_root}: not a directory of MOTChallenge sequence folders")
    markers = (SEQINFO_FILE, *SEQUENCE_MARKERS)
    folders = [
        p.name for p in gt_root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and any((p / m).exists() for m in markers)
    ]  # fmt: skip
    results = [p.stem for p in results_dir.glob(f"*{RESULTS_SUFFIX}") if p.is_file()]
    return sorted(set(folders) | set(results))


def _missing_file(gt_root: Path, results_dir: Path, name: str) -> str | None:
    """What is missing to evaluate sequence `name` (the path and what it should be), or None."""
    expected = {
        gt_root / name / SEQINFO_FILE: "its seqinfo.ini",
        gt_root / name / GT_RELATIVE_PATH: "its ground truth",
        results_dir / f"{name}{RESULTS_SUFFIX}": "its results file",
    }
    for path, what in expected.items():
        if not path.is_file():
            return f"{path} does not exist, expected {what}"
    return None


def _check_benchmark(benchmark: str) -> None:
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark={benchmark!r}, expected one of {BENCHMARKS}")
