"""CLEAR MOT metrics (Bernardin and Stiefelhagen, 2008), as TrackEval 1.3.0 computes them.

Per frame, ground-truth and tracker boxes with IoU >= 0.5 are matched by a Hungarian assignment
that first keeps the pairs matched in the previous frame (weight 1000) and then maximises IoU.
An id switch is a ground-truth id matched to a different tracker id than the last time it was
matched; a fragmentation is a track that resumes after an interruption. MT / PT / ML count
ground-truth ids tracked for > 80%, >= 20% and < 20% of their boxes.

The assignment needs the previous frame only where a box has two or more candidates; elsewhere
the matches are the candidates themselves, so the Hungarian algorithm runs on those frames only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlab.evaluation.mot.matching import EPS, conflicted_groups, sequential_frame_sums
from vidlab.evaluation.mot.preprocess import SequenceData

CLEAR_THRESHOLD = 0.5  # minimum IoU of a match
CONTINUITY_BONUS = 1000  # weight that keeps last frame's matches (TrackEval's constant)
MT_RATIO = 0.8  # tracked for more than this fraction of its boxes: mostly tracked
ML_RATIO = 0.2  # tracked for less than this fraction: mostly lost


@dataclass(frozen=True)
class ClearCounts:
    """The summable CLEAR counts of one sequence (or of several, summed).

    Attributes:
        tp: Matched ground-truth boxes (CLR_TP).
        fn: Unmatched ground-truth boxes (CLR_FN).
        fp: Unmatched tracker boxes (CLR_FP).
        idsw: Identity switches.
        mt: Mostly tracked ground-truth ids.
        pt: Partially tracked ground-truth ids.
        ml: Mostly lost ground-truth ids.
        frag: Fragmentations.
        frames: Frames evaluated (CLR_Frames; 0 for a sequence without ground truth or tracker
            boxes, as in TrackEval).
        motp_sum: Sum of the IoU of all matches.
        degenerate: The sequence had no ground-truth or no tracker boxes; TrackEval then
            reports every ratio as 0 except MLR = 1.
    """

    tp: int
    fn: int
    fp: int
    idsw: int
    mt: int
    pt: int
    ml: int
    frag: int
    frames: int
    motp_sum: float
    degenerate: bool = False


def clear_counts(data: SequenceData, threshold: float = CLEAR_THRESHOLD) -> ClearCounts:
    """CLEAR counts of one preprocessed sequence.

    Args:
        data: The preprocessed sequence.
        threshold: Minimum IoU of a match.
    """
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        return ClearCounts(
            tp=0, fn=data.num_gt_dets, fp=data.num_tracker_dets, idsw=0, mt=0, pt=0,
            ml=data.num_gt_ids if data.num_tracker_dets == 0 else 0, frag=0, frames=0,
            motp_sum=0.0, degenerate=True,
        )  # fmt: skip
    match = _match(data, threshold)
    frame = data.pair_frame[match]
    gt_id = data.gt_ids[data.pair_gt[match]]
    tr_id = data.tracker_ids[data.pair_tracker[match]]
    sim = data.similarity[match]
    mt, pt, ml = _track_coverage(data, gt_id)
    return ClearCounts(
        tp=int(match.shape[0]),
        fn=data.num_gt_dets - int(match.shape[0]),
        fp=data.num_tracker_dets - int(match.shape[0]),
        idsw=_id_switches(gt_id, tr_id, frame),
        mt=mt,
        pt=pt,
        ml=ml,
        frag=_fragmentations(data, gt_id, frame),
        frames=data.num_frames,
        motp_sum=float(sequential_frame_sums(sim[None, :], frame, data.num_frames)[0]),
    )


def _match(data: SequenceData, threshold: float) -> np.ndarray:
    """All matches as sorted indices into the overlapping pairs (frame, then gt box order)."""
    cand = np.flatnonzero(data.similarity >= threshold - EPS)
    cand_frame = data.pair_frame[cand]
    conflicts = conflicted_groups(
        cand_frame,
        data.pair_gt[cand],
        data.pair_tracker[cand],
        data.num_gt_dets,
        data.num_tracker_dets,
    )
    in_conflict = np.isin(cand_frame, conflicts)
    simple = cand[~in_conflict]
    if not conflicts.size:
        return simple
    solved = _solve_conflicts(data, cand, cand_frame, in_conflict, conflicts)
    return np.sort(np.concatenate([simple, solved]))


def _solve_conflicts(
    data: SequenceData,
    cand: np.ndarray,
    cand_frame: np.ndarray,
    in_conflict: np.ndarray,
    conflicts: np.ndarray,
) -> np.ndarray:
    """Hungarian matching, in frame order, of the frames where candidates compete.

    The score matrix of a frame is TrackEval's: the IoU of candidate pairs (0 elsewhere) plus
    `CONTINUITY_BONUS` for pairs matched in the previous frame with gt and tracker boxes. That
    previous frame is either conflict-free (its matches are its candidates, known up front) or
    was solved just before in this loop.

    Args:
        data: The sequence.
        cand: Candidate pairs (IoU above the threshold) as sorted pair indices.
        cand_frame: Frame of every candidate pair.
        in_conflict: Which candidate pairs lie in conflicted frames.
        conflicts: The conflicted frames, sorted.

    Returns:
        Matched pair indices of the conflicted frames.
    """
    layout = data.layout
    active = np.flatnonzero((layout.n_rows > 0) & (layout.n_cols > 0))
    step = np.searchsorted(active, conflicts)
    prev = np.where(step > 0, active[np.maximum(step - 1, 0)], -1)
    hard, hard_frame = cand[in_conflict], cand_frame[in_conflict]
    hard_flat = data.pair_flat[hard]
    score = layout.dense(hard_flat, data.similarity[hard])
    # Continuity with conflict-free previous frames, for all hard pairs at once.
    id_pair = _id_pair_code(data)
    space = data.num_gt_ids * data.num_tracker_ids
    simple_code = np.sort(cand_frame[~in_conflict] * space + id_pair(cand[~in_conflict]))
    hard_prev = prev[np.searchsorted(conflicts, hard_frame)]
    continues = _contains(simple_code, hard_prev * space + id_pair(hard)) & (hard_prev >= 0)
    score[hard_flat[continues]] += CONTINUITY_BONUS
    bounds = np.searchsorted(hard_frame, conflicts).tolist() + [hard.shape[0]]
    hard_gt, hard_tr = data.gt_ids[data.pair_gt[hard]], data.tracker_ids[data.pair_tracker[hard]]
    last_tracker = np.full(data.num_gt_ids, -1, dtype=np.int64)  # matches of the last solve
    last_gt = np.zeros(0, dtype=np.int64)
    solved: list[np.ndarray] = []
    offsets, n_cols, n_rows = (a.tolist() for a in (layout.offsets, layout.n_cols, layout.n_rows))
    conflict_list = conflicts.tolist()
    for i, (f, p) in enumerate(zip(conflict_list, prev.tolist(), strict=True)):
        if i and p == conflict_list[i - 1]:  # previous frame was solved here: its matches continue
            lo, hi = bounds[i], bounds[i + 1]
            keeps = last_tracker[hard_gt[lo:hi]] == hard_tr[lo:hi]
            score[hard_flat[lo:hi][keeps]] += CONTINUITY_BONUS
        block = score[offsets[f] : offsets[f + 1]].reshape(n_rows[f], n_cols[f])
        r, c = linear_sum_assignment(block, maximize=True)
        ok = block[r, c] > EPS
        r, c = r[ok], c[ok]
        solved.append(offsets[f] + r * n_cols[f] + c)
        last_tracker[last_gt] = -1
        last_gt = data.gt_ids[layout.row_offsets[f] + r]
        last_tracker[last_gt] = data.tracker_ids[layout.col_offsets[f] + c]
    return np.searchsorted(data.pair_flat, np.concatenate(solved))


def _id_pair_code(data: SequenceData):
    """Function mapping pair indices to a unique integer per (gt id, tracker id)."""

    def code(pair: np.ndarray) -> np.ndarray:
        g = data.gt_ids[data.pair_gt[pair]]
        return g * data.num_tracker_ids + data.tracker_ids[data.pair_tracker[pair]]

    return code


def _contains(sorted_codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Elementwise `query in sorted_codes` for a sorted array."""
    if sorted_codes.shape[0] == 0:
        return np.zeros(query.shape[0], dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_codes, query), sorted_codes.shape[0] - 1)
    return sorted_codes[pos] == query


def _id_switches(gt_id: np.ndarray, tr_id: np.ndarray, frame: np.ndarray) -> int:
    """Matches whose tracker id differs from the previous match of the same gt id."""
    order = np.lexsort((frame, gt_id))
    g, t = gt_id[order], tr_id[order]
    return int(np.sum((g[1:] == g[:-1]) & (t[1:] != t[:-1])))


def _fragmentations(data: SequenceData, gt_id: np.ndarray, frame: np.ndarray) -> int:
    """Sum over gt ids of (number of tracked stretches - 1).

    A stretch starts when a gt id is matched in a frame but was not matched in the previous
    frame that had both gt and tracker boxes (TrackEval's notion of "previous timestep").
    """
    active = (data.layout.n_rows > 0) & (data.layout.n_cols > 0)
    step = np.cumsum(active) - 1  # index among active frames
    order = np.lexsort((frame, gt_id))
    g, s = gt_id[order], step[frame[order]]
    starts = np.ones(g.shape[0], dtype=bool)
    starts[1:] = ~((g[1:] == g[:-1]) & (s[1:] == s[:-1] + 1))
    per_id = np.bincount(g[starts], minlength=data.num_gt_ids)
    return int(np.sum(per_id[per_id > 0] - 1))


def _track_coverage(data: SequenceData, matched_gt_id: np.ndarray) -> tuple[int, int, int]:
    """(MT, PT, ML) from the fraction of each gt id's boxes that are matched."""
    count = np.bincount(data.gt_ids, minlength=data.num_gt_ids).astype(float)
    matched = np.bincount(matched_gt_id, minlength=data.num_gt_ids).astype(float)
    present = count > 0
    ratio = matched[present] / count[present]
    mt = int(np.sum(ratio > MT_RATIO))
    pt = int(np.sum(ratio >= ML_RATIO)) - mt
    return mt, pt, data.num_gt_ids - mt - pt


def clear_fields(c: ClearCounts) -> dict[str, float | int]:
    """TrackEval's CLEAR fields (fractions) from counts; also used for the combination."""
    tp, fn, fp, idsw = c.tp, c.fn, c.fp, c.idsw
    fields: dict[str, float | int] = {
        "CLR_TP": tp, "CLR_FN": fn, "CLR_FP": fp, "IDSW": idsw, "MT": c.mt, "PT": c.pt,
        "ML": c.ml, "Frag": c.frag, "CLR_Frames": c.frames, "MOTP_sum": c.motp_sum,
    }  # fmt: skip
    if c.degenerate:  # TrackEval returns before computing ratios: all 0 except MLR
        ratios = ("MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "sMOTA", "CLR_F1",
                  "FP_per_frame", "MOTAL")  # fmt: skip
        return fields | dict.fromkeys(ratios, 0.0) | {"MLR": 1.0}
    num_ids = max(1.0, c.mt + c.ml + c.pt)
    gt_dets = max(1.0, tp + fn)
    safe_log_idsw = np.log10(idsw) if idsw > 0 else idsw
    return fields | {
        "MOTA": (tp - fp - idsw) / gt_dets,
        "MOTP": c.motp_sum / max(1.0, tp),
        "MODA": (tp - fp) / gt_dets,
        "CLR_Re": tp / gt_dets,
        "CLR_Pr": tp / max(1.0, tp + fp),
        "MTR": c.mt / num_ids,
        "PTR": c.pt / num_ids,
        "MLR": c.ml / num_ids,
        "sMOTA": (c.motp_sum - fp - idsw) / gt_dets,
        "CLR_F1": tp / max(1.0, tp + 0.5 * fn + 0.5 * fp),
        "FP_per_frame": fp / max(1.0, c.frames),
        "MOTAL": float((tp - fp - safe_log_idsw) / gt_dets),
    }


def sum_clear(counts: list[ClearCounts]) -> ClearCounts:
    """Sum counts over sequences (TrackEval's `combine_sequences` sums exactly these fields)."""
    motp = 0
    for c in counts:  # left to right, as Python's sum() in TrackEval
        motp = motp + c.motp_sum
    return ClearCounts(
        tp=sum(c.tp for c in counts),
        fn=sum(c.fn for c in counts),
        fp=sum(c.fp for c in counts),
        idsw=sum(c.idsw for c in counts),
        mt=sum(c.mt for c in counts),
        pt=sum(c.pt for c in counts),
        ml=sum(c.ml for c in counts),
        frag=sum(c.frag for c in counts),
        frames=sum(c.frames for c in counts),
        motp_sum=float(motp),
    )
