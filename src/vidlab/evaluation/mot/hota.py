"""HOTA (Luiten et al., IJCV 2021), as TrackEval 1.3.0 computes it.

1. A global alignment score between every ground-truth id and tracker id is accumulated over all
   frames from IoU-normalised similarities (the "potential matches").
2. Per frame, boxes are matched by a Hungarian assignment maximising alignment x IoU.
3. For each localisation threshold alpha in 0.05, 0.10, ..., 0.95 the matches with IoU >= alpha
   are true positives; association scores come from how often each (gt id, tracker id) pair is
   matched relative to the lengths of both tracks.

Step 2 runs the Hungarian algorithm only in frames where some box overlaps two or more others;
elsewhere every overlapping pair is matched. The alpha loop is vectorised over all matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlab.evaluation.mot.matching import (
    EPS,
    conflicted_groups,
    frame_col_sums,
    frame_row_sums,
    sequential_frame_sums,
)
from vidlab.evaluation.mot.preprocess import SequenceData

# Localisation thresholds, exactly TrackEval's array (computed the same way, same float values).
HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)
LOCA_FLOOR = 1e-10  # TrackEval's guard in LocA = max(1e-10, sum) / max(1e-10, TP)
DENSE_ID_PAIRS = 1 << 22  # above this many (gt id, tracker id) pairs, association sums go sparse


@dataclass(frozen=True)
class HotaCounts:
    """Per-alpha HOTA statistics of one sequence (or of several, combined).

    All arrays have shape (A,) = (len(HOTA_ALPHAS),) = (19,).

    Attributes:
        tp: True positives (HOTA_TP) per alpha.
        fn: False negatives (HOTA_FN) per alpha.
        fp: False positives (HOTA_FP) per alpha.
        ass_a: Association accuracy AssA per alpha (a TP-weighted mean over matches).
        ass_re: Association recall AssRe per alpha.
        ass_pr: Association precision AssPr per alpha.
        loc_a: Localisation accuracy LocA per alpha (mean IoU of the matches; 1 if none).
    """

    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray
    ass_a: np.ndarray
    ass_re: np.ndarray
    ass_pr: np.ndarray
    loc_a: np.ndarray


def hota_counts(data: SequenceData) -> HotaCounts:
    """HOTA statistics of one preprocessed sequence."""
    num_alphas = HOTA_ALPHAS.shape[0]
    zeros = np.zeros(num_alphas)
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        # Every box is a miss or a false positive; LocA of an empty match set is 1.
        return HotaCounts(
            tp=zeros, fn=np.full(num_alphas, float(data.num_gt_dets)),
            fp=np.full(num_alphas, float(data.num_tracker_dets)),
            ass_a=zeros, ass_re=zeros, ass_pr=zeros, loc_a=np.ones(num_alphas),
        )  # fmt: skip
    gt_count = np.bincount(data.gt_ids, minlength=data.num_gt_ids).astype(float)
    tr_count = np.bincount(data.tracker_ids, minlength=data.num_tracker_ids).astype(float)
    alignment = _global_alignment(data, gt_count, tr_count)
    match = _match(data, alignment)
    sim = data.similarity[match]
    # (A, M): which matches count as true positives at each alpha.
    is_tp = sim[None, :] >= (HOTA_ALPHAS - EPS)[:, None]
    tp = is_tp.sum(axis=1).astype(float)
    frame = data.pair_frame[match]
    loc_sum = sequential_frame_sums(np.where(is_tp, sim[None, :], 0.0), frame, data.num_frames)
    gt_id, tr_id = data.gt_ids[data.pair_gt[match]], data.tracker_ids[data.pair_tracker[match]]
    ass_a, ass_re, ass_pr = _association(gt_id, tr_id, is_tp, gt_count, tr_count, tp)
    return HotaCounts(
        tp=tp,
        fn=data.num_gt_dets - tp,
        fp=data.num_tracker_dets - tp,
        ass_a=ass_a,
        ass_re=ass_re,
        ass_pr=ass_pr,
        loc_a=np.maximum(LOCA_FLOOR, loc_sum) / np.maximum(LOCA_FLOOR, tp),
    )


def _global_alignment(data: SequenceData, gt_count: np.ndarray, tr_count: np.ndarray) -> np.ndarray:
    """(G, T) alignment between ids: accumulated normalised similarity over the track union.

    Per frame, each pair's similarity is divided by (its row sum + its column sum - itself),
    summed over frames per (gt id, tracker id), and the total is turned into a Jaccard score.
    Sums and accumulation order are numpy's per-frame ones, so the result is bit-identical to
    TrackEval's, which keeps its Hungarian assignments identical too.
    """
    layout, gt_box, tr_box, s = data.layout, data.pair_gt, data.pair_tracker, data.similarity
    row_sum = frame_row_sums(layout, gt_box, tr_box, s)  # (Ng,)
    col_sum = frame_col_sums(layout, gt_box, tr_box, s)  # (Nt,)
    denom = col_sum[tr_box] + row_sum[gt_box] - s
    keep = denom > EPS
    g, t = data.gt_ids[gt_box], data.tracker_ids[tr_box]
    num_t = data.num_tracker_ids
    potential = np.bincount(
        (g * num_t + t)[keep], weights=s[keep] / denom[keep], minlength=data.num_gt_ids * num_t
    ).reshape(data.num_gt_ids, num_t)
    return potential / (gt_count[:, None] + tr_count[None, :] - potential)


def _match(data: SequenceData, alignment: np.ndarray) -> np.ndarray:
    """Pairs (indices into the overlapping pairs) maximising alignment x IoU per frame.

    Returns:
        Sorted pair indices: frame-major, then gt box, the order TrackEval's matches come in.
    """
    layout = data.layout
    score = alignment[data.gt_ids[data.pair_gt], data.tracker_ids[data.pair_tracker]]
    score = score * data.similarity
    cand = np.flatnonzero(score > 0)
    cand_frame = data.pair_frame[cand]
    conflicts = conflicted_groups(
        cand_frame,
        data.pair_gt[cand],
        data.pair_tracker[cand],
        data.num_gt_dets,
        data.num_tracker_dets,
    )
    chosen = [cand[~np.isin(cand_frame, conflicts)]]
    if conflicts.size:
        dense = layout.dense(data.pair_flat[cand], score[cand])
        offsets, n_cols = layout.offsets.tolist(), layout.n_cols.tolist()
        n_rows = layout.n_rows.tolist()
        solved = []
        for f in conflicts.tolist():
            block = dense[offsets[f] : offsets[f + 1]].reshape(n_rows[f], n_cols[f])
            r, c = linear_sum_assignment(block, maximize=True)
            solved.append(offsets[f] + r * n_cols[f] + c)
        flat = np.concatenate(solved)
        flat = flat[dense[flat] > 0]  # positive scores are overlapping pairs
        chosen.append(np.searchsorted(data.pair_flat, flat))
    return np.sort(np.concatenate(chosen))


def _association(
    gt_id: np.ndarray,
    tr_id: np.ndarray,
    is_tp: np.ndarray,
    gt_count: np.ndarray,
    tr_count: np.ndarray,
    tp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(AssA, AssRe, AssPr) per alpha from how often each (gt id, tracker id) pair matched.

    With at most `DENSE_ID_PAIRS` id pairs the sums run over the dense (G, T) matrices exactly as
    TrackEval writes them (bit-identical results); beyond that only matched pairs are summed,
    which changes nothing but the rounding of the last bit.
    """
    num_gt, num_tr = gt_count.shape[0], tr_count.shape[0]
    key = gt_id * num_tr + tr_id
    if num_gt * num_tr <= DENSE_ID_PAIRS:
        gc, tc = gt_count[:, None], tr_count[None, :]
        shape, index = (num_gt, num_tr), key
    else:
        unique_key, index = np.unique(key, return_inverse=True)
        gc, tc = gt_count[unique_key // num_tr], tr_count[unique_key % num_tr]
        shape = unique_key.shape
    size = int(np.prod(shape))
    out = np.zeros((3, is_tp.shape[0]))
    for a in range(is_tp.shape[0]):
        count = np.bincount(index[is_tp[a]], minlength=size).astype(float).reshape(shape)
        denom = np.maximum(1, tp[a])
        out[0, a] = np.sum(count * (count / np.maximum(1, gc + tc - count))) / denom
        out[1, a] = np.sum(count * (count / np.maximum(1, gc))) / denom
        out[2, a] = np.sum(count * (count / np.maximum(1, tc))) / denom
    return out[0], out[1], out[2]


def combine_hota(counts: list[HotaCounts]) -> HotaCounts:
    """Combine sequences as TrackEval does: sum TP/FN/FP, TP-weighted means of the rest."""
    tp = _seq_sum([c.tp for c in counts])

    def weighted(values: list[np.ndarray]) -> np.ndarray:
        return _seq_sum([v * c.tp for v, c in zip(values, counts, strict=True)])

    loc_weighted = weighted([c.loc_a for c in counts])
    return HotaCounts(
        tp=tp,
        fn=_seq_sum([c.fn for c in counts]),
        fp=_seq_sum([c.fp for c in counts]),
        ass_a=weighted([c.ass_a for c in counts]) / np.maximum(1.0, tp),
        ass_re=weighted([c.ass_re for c in counts]) / np.maximum(1.0, tp),
        ass_pr=weighted([c.ass_pr for c in counts]) / np.maximum(1.0, tp),
        loc_a=np.maximum(LOCA_FLOOR, loc_weighted) / np.maximum(LOCA_FLOOR, tp),
    )


def _seq_sum(arrays: list[np.ndarray]) -> np.ndarray:
    """Left-to-right sum, the order of Python's sum() over sequences in TrackEval."""
    total: np.ndarray | int = 0
    for a in arrays:
        total = total + a
    return np.asarray(total, dtype=float)


def hota_fields(c: HotaCounts) -> dict[str, np.ndarray | float]:
    """TrackEval's HOTA fields: per-alpha arrays and the alpha-0 scalars."""
    det_re = c.tp / np.maximum(1, c.tp + c.fn)
    det_pr = c.tp / np.maximum(1, c.tp + c.fp)
    det_a = c.tp / np.maximum(1, c.tp + c.fn + c.fp)
    hota = np.sqrt(det_a * c.ass_a)
    return {
        "HOTA": hota, "DetA": det_a, "AssA": c.ass_a, "DetRe": det_re, "DetPr": det_pr,
        "AssRe": c.ass_re, "AssPr": c.ass_pr, "LocA": c.loc_a, "OWTA": np.sqrt(det_re * c.ass_a),
        "HOTA_TP": c.tp, "HOTA_FN": c.fn, "HOTA_FP": c.fp,
        "HOTA(0)": float(hota[0]), "LocA(0)": float(c.loc_a[0]),
        "HOTALocA(0)": float(hota[0] * c.loc_a[0]),
    }  # fmt: skip
