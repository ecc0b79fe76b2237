"""Helpers for the MOT evaluation tests: tiny hand-made tables and synthetic MOTChallenge folders.

The synthetic generator writes sequences the way MOTChallenge ships them (seqinfo.ini, gt/gt.txt,
rows in arbitrary order) plus a tracker's results made from the ground truth with misses, false
positives, duplicate boxes, box jitter and id switches, so that parity tests exercise every code
path of the preprocessing and the metrics (distractor removal, Hungarian conflicts, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from vidlab.evaluation.mot import MotTable, SeqInfo, evaluate_tables

# Classes a tracker also "sees" (people of every kind) and the other MOTChallenge classes.
PERSON_CLASSES = (1, 1, 1, 1, 1, 1, 2, 7, 8, 12)
OTHER_CLASSES = (3, 4, 5, 6, 9, 10, 11, 13)
IMAGE_SIZE = (960.0, 540.0)


def table(rows: Sequence[Sequence[float]]) -> MotTable:
    """MotTable from rows `(frame, id, x, y, w, h[, score[, class[, visibility]]])`."""
    if len(rows) == 0:
        return MotTable.empty()
    arr = np.asarray(rows, dtype=float)
    n, c = arr.shape
    return MotTable.from_arrays(
        frame=arr[:, 0],
        track_id=arr[:, 1],
        tlwh=arr[:, 2:6],
        score=arr[:, 6] if c > 6 else np.ones(n),
        class_id=arr[:, 7] if c > 7 else np.full(n, 1),
        visibility=arr[:, 8] if c > 8 else np.ones(n),
    )


def seq_info(name: str, num_frames: int) -> SeqInfo:
    return SeqInfo(name, num_frames, 30.0, int(IMAGE_SIZE[0]), int(IMAGE_SIZE[1]), "img1", ".jpg")


@pytest.fixture
def score_one() -> Callable[..., dict[str, Any]]:
    """`score_one(gt_rows, result_rows, num_frames)` -> the field dict of that one sequence."""

    def _score(gt_rows, result_rows, num_frames: int, benchmark: str = "MOT17") -> dict[str, Any]:
        out = evaluate_tables(
            {"seq": (seq_info("seq", num_frames), table(gt_rows))},
            {"seq": table(result_rows)},
            benchmark=benchmark,
        )
        return out["sequences"]["seq"]

    return _score


# --------------------------------------------------------------------------------------------
# Synthetic MOTChallenge data


@dataclass(frozen=True)
class SyntheticSequence:
    """One generated sequence: MOTChallenge gt rows (9 or 10 columns) and results rows (10)."""

    name: str
    num_frames: int
    gt: np.ndarray
    results: np.ndarray


def synthetic_gt(
    rng: np.random.Generator, num_frames: int, num_tracks: int, *, mot15: bool = False
) -> np.ndarray:
    """Ground truth of people walking in straight lines, some of other classes or zero-marked.

    Returns:
        (N, 9) rows `frame, id, x, y, w, h, consider, class, visibility`, or for `mot15`
        (N, 10) rows `frame, id, x, y, w, h, consider, wx, wy, wz`, in shuffled order.
    """
    width, height = IMAGE_SIZE
    rows = []
    for track_id in range(1, num_tracks + 1):
        start = int(rng.integers(1, num_frames + 1))
        end = int(min(num_frames, start + rng.integers(3, num_frames)))
        frames = np.arange(start, end + 1)
        w = rng.uniform(25, 90)
        h = w * rng.uniform(1.8, 2.8)
        x = rng.uniform(-w / 2, width - w / 2) + rng.normal(0, 3) * (frames - start)
        y = rng.uniform(0, height - h) + rng.normal(0, 1) * (frames - start)
        cls = rng.choice(PERSON_CLASSES) if rng.random() < 0.85 else rng.choice(OTHER_CLASSES)
        consider = np.where(rng.random(frames.size) < 0.08, 0, 1)
        if not mot15 and cls != 1:
            consider = np.zeros(frames.size)  # MOTChallenge marks non-pedestrians 0
        box = np.stack([x, y, np.full(frames.size, w), np.full(frames.size, h)], axis=1)
        box = np.round(box + rng.normal(0, 0.5, box.shape), 2)
        if mot15:
            extra = np.stack([rng.normal(0, 5, frames.size), rng.normal(0, 5, frames.size),
                              np.zeros(frames.size)], axis=1)  # fmt: skip
        else:
            extra = np.stack([np.full(frames.size, cls), rng.uniform(0, 1, frames.size)], axis=1)
        rows.append(np.column_stack([frames, np.full(frames.size, track_id), box, consider, extra]))
    gt = np.concatenate(rows)
    return gt[rng.permutation(gt.shape[0])]


def synthetic_results(
    rng: np.random.Generator,
    gt: np.ndarray,
    num_frames: int,
    *,
    miss: float = 0.1,
    false_positives: float = 0.6,
    duplicates: float = 0.05,
    jitter: float = 0.08,
    switch: float = 0.02,
    mot15: bool = False,
) -> np.ndarray:
    """A tracker's output derived from `gt`: (M, 10) rows `frame, id, x, y, w, h, conf, -1, -1, -1`.

    Args:
        rng: Random generator.
        gt: Ground-truth rows from `synthetic_gt`.
        num_frames: Sequence length.
        miss: Probability that a person's box is missed in a frame.
        false_positives: Mean number of spurious boxes per frame.
        duplicates: Probability of a second, shifted box (new id) on a detected person.
        jitter: Box noise, as a fraction of the box width and height.
        switch: Probability per box that the track takes a new id from then on.
        mot15: Whether `gt` has the MOT15 layout (every class is a person).
    """
    people = gt if mot15 else gt[np.isin(gt[:, 7], PERSON_CLASSES)]
    people = people[np.lexsort((people[:, 0], people[:, 1]))]  # by id, then frame
    people = people[rng.random(people.shape[0]) >= miss]
    next_id = [1000]
    ids = np.empty(people.shape[0])
    current: dict[float, float] = {}
    for i, gid in enumerate(people[:, 1]):
        if gid not in current or rng.random() < switch:
            current[gid] = next_id[0]
            next_id[0] += 1
        ids[i] = current[gid]
    boxes = people[:, 2:6].copy()
    boxes[:, :2] += rng.normal(0, jitter, (boxes.shape[0], 2)) * boxes[:, 2:4]
    boxes[:, 2:] *= np.exp(rng.normal(0, jitter, (boxes.shape[0], 2)))
    out = [np.column_stack([people[:, 0], ids, boxes])]
    dup = rng.random(people.shape[0]) < duplicates
    shift = rng.uniform(0.05, 0.3, (dup.sum(), 1)) * boxes[dup, 2:4]  # IoU about 0.35 to 0.9
    shifted = boxes[dup] + np.column_stack([shift, np.zeros((dup.sum(), 2))])
    out.append(np.column_stack([people[dup, 0], np.arange(dup.sum()) + 50_000, shifted]))
    n_fp = rng.poisson(false_positives * num_frames)
    fp_box = np.column_stack([rng.uniform(0, IMAGE_SIZE[0], n_fp), rng.uniform(0, IMAGE_SIZE[1], n_fp),
                              rng.uniform(20, 80, (n_fp, 1)) * [1.0, 2.3]])  # fmt: skip
    out.append(
        np.column_stack([rng.integers(1, num_frames + 1, n_fp), np.arange(n_fp) + 90_000, fp_box])
    )
    res = np.concatenate(out)
    conf = np.round(rng.uniform(0.3, 1.0, res.shape[0]), 3)
    res = np.column_stack([res[:, :2], np.round(res[:, 2:6], 3), conf, -np.ones((res.shape[0], 3))])
    return res[np.lexsort((res[:, 1], res[:, 0]))]


def make_synthetic(
    seed: int, num_sequences: int = 3, *, mot15: bool = False, **noise: float
) -> list[SyntheticSequence]:
    """Several sequences of different lengths and crowd sizes from one seed."""
    rng = np.random.default_rng(seed)
    seqs = []
    for i in range(num_sequences):
        num_frames = int(rng.integers(20, 70))
        gt = synthetic_gt(rng, num_frames, int(rng.integers(4, 25)), mot15=mot15)
        res = synthetic_results(rng, gt, num_frames, mot15=mot15, **noise)
        seqs.append(SyntheticSequence(f"SYN{seed:03d}-{i:02d}", num_frames, gt, res))
    return seqs


def write_txt(path: Path, rows: np.ndarray) -> None:
    """Write MOTChallenge rows, integers without decimals like the official files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(f"{v:g}" if float(v).is_integer() else repr(float(v)) for v in row)
             for row in rows]  # fmt: skip
    path.write_text("".join(line + "\n" for line in lines))


def write_folder(root: Path, seqs: Sequence[SyntheticSequence]) -> tuple[Path, Path]:
    """Lay sequences out as `root/gt/<seq>/{seqinfo.ini,gt/gt.txt}` and `root/results/<seq>.txt`.

    Returns:
        (ground-truth root, results folder).
    """
    gt_root, res_dir = root / "gt", root / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    for s in seqs:
        folder = gt_root / s.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname={s.name}\nimDir=img1\nframeRate=30\nseqLength={s.num_frames}\n"
            f"imWidth={int(IMAGE_SIZE[0])}\nimHeight={int(IMAGE_SIZE[1])}\nimExt=.jpg\n"
        )
        write_txt(folder / "gt" / "gt.txt", s.gt)
        write_txt(res_dir / f"{s.name}.txt", s.results)
    return gt_root, res_dir


def assert_same_results(ours: dict[str, Any], ref: dict[str, Any], tol: float = 1e-9) -> None:
    """Every field of every sequence and of the combination agrees within `tol`."""
    assert sorted(ours["sequences"]) == sorted(ref["sequences"])
    pairs = [(s, ours["sequences"][s], ref["sequences"][s]) for s in ref["sequences"]]
    pairs.append(("COMBINED", ours["COMBINED"], ref["COMBINED"]))
    for name, mine, theirs in pairs:
        assert set(mine) == set(theirs), f"{name}: field sets differ: {set(mine) ^ set(theirs)}"
        for field, expected in theirs.items():
            got = np.asarray(mine[field], dtype=float)
            want = np.asarray(expected, dtype=float)
            assert got.shape == want.shape, f"{name}/{field}: shape {got.shape} != {want.shape}"
            err = float(np.max(np.abs(got - want))) if got.size else 0.0
            assert err <= tol, f"{name}/{field}: ours {mine[field]} vs TrackEval {expected}"


@pytest.fixture(scope="session")
def motkit() -> SimpleNamespace:
    """The helpers of this conftest, for tests (conftest modules are not importable here)."""
    return SimpleNamespace(
        table=table,
        seq_info=seq_info,
        synthetic_gt=synthetic_gt,
        synthetic_results=synthetic_results,
        make_synthetic=make_synthetic,
        write_txt=write_txt,
        write_folder=write_folder,
        assert_same_results=assert_same_results,
    )


@pytest.fixture(scope="session")
def trackeval_folder() -> Callable[..., dict[str, Any]]:
    """TrackEval 1.3.0 run in process on a folder (skips the test if it is not installed)."""
    pytest.importorskip("trackeval", reason="trackeval==1.3.0 (a test dependency) is not installed")
    from vidlab.evaluation.mot.reference import trackeval_evaluate_folder

    return trackeval_evaluate_folder
