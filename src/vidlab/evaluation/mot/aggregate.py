"""Per-sequence counts of all MOT metrics, their combination over sequences, and the result dict.

Sequences are combined the way TrackEval combines them: counts are summed (in sorted sequence
order, left to right, like Python's `sum` in TrackEval) and every ratio is recomputed from the
sums; HOTA's association and localisation scores are TP-weighted means per alpha. Per-sequence
MOTA and friends are never averaged.

Result fields use TrackEval's names and scales (fractions, not percentages). Each per-alpha HOTA
array `F` appears twice: `F` is its mean over the 19 alphas (the number TrackEval's summaries
report) and `F_per_alpha` is the list itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidlab.evaluation.mot.clear import ClearCounts, clear_counts, clear_fields, sum_clear
from vidlab.evaluation.mot.hota import HotaCounts, combine_hota, hota_counts, hota_fields
from vidlab.evaluation.mot.identity import (
    IdentityCounts,
    identity_counts,
    identity_fields,
    sum_identity,
)
from vidlab.evaluation.mot.preprocess import SequenceData

PER_ALPHA_SUFFIX = "_per_alpha"
COMBINED = "COMBINED"


@dataclass(frozen=True)
class BoxCounts:
    """TrackEval's Count metric: boxes and ids after preprocessing.

    Attributes:
        dets: Tracker boxes (Dets).
        gt_dets: Ground-truth boxes (GT_Dets).
        ids: Tracker ids (IDs; summed over sequences when combined).
        gt_ids: Ground-truth ids (GT_IDs; summed over sequences when combined).
    """

    dets: int
    gt_dets: int
    ids: int
    gt_ids: int


@dataclass(frozen=True)
class SequenceCounts:
    """Everything needed to report one sequence or to combine it with others."""

    hota: HotaCounts
    clear: ClearCounts
    identity: IdentityCounts
    boxes: BoxCounts


def sequence_counts(data: SequenceData) -> SequenceCounts:
    """Run every metric on one preprocessed sequence."""
    return SequenceCounts(
        hota=hota_counts(data),
        clear=clear_counts(data),
        identity=identity_counts(data),
        boxes=BoxCounts(
            dets=data.num_tracker_dets,
            gt_dets=data.num_gt_dets,
            ids=data.num_tracker_ids,
            gt_ids=data.num_gt_ids,
        ),
    )


def combine_sequences(counts: Mapping[str, SequenceCounts]) -> SequenceCounts:
    """Combine sequences (in sorted name order) by summing counts, as TrackEval does.

    Raises:
        ValueError: No sequences were given.
    """
    if not counts:
        raise ValueError("combine_sequences: no sequences to combine, expected at least one")
    ordered = [counts[name] for name in sorted(counts)]
    return SequenceCounts(
        hota=combine_hota([c.hota for c in ordered]),
        clear=sum_clear([c.clear for c in ordered]),
        identity=sum_identity([c.identity for c in ordered]),
        boxes=BoxCounts(
            dets=sum(c.boxes.dets for c in ordered),
            gt_dets=sum(c.boxes.gt_dets for c in ordered),
            ids=sum(c.boxes.ids for c in ordered),
            gt_ids=sum(c.boxes.gt_ids for c in ordered),
        ),
    )


def metrics_dict(counts: SequenceCounts) -> dict[str, Any]:
    """All fields of one sequence or combination, JSON-ready (Python floats, ints, lists)."""
    out: dict[str, Any] = {}
    for name, value in hota_fields(counts.hota).items():
        if isinstance(value, np.ndarray):
            out[name] = float(np.mean(value))
            out[name + PER_ALPHA_SUFFIX] = value.astype(float).tolist()
        else:
            out[name] = float(value)
    for name, value in (clear_fields(counts.clear) | identity_fields(counts.identity)).items():
        out[name] = int(value) if isinstance(value, int | np.integer) else float(value)
    b = counts.boxes
    out |= {"Dets": b.dets, "GT_Dets": b.gt_dets, "IDs": b.ids, "GT_IDs": b.gt_ids}
    return out


def results_dict(counts: Mapping[str, SequenceCounts]) -> dict[str, Any]:
    """`{"sequences": {seq: fields}, "COMBINED": fields}` for a set of evaluated sequences."""
    return {
        "sequences": {name: metrics_dict(counts[name]) for name in sorted(counts)},
        COMBINED: metrics_dict(combine_sequences(counts)),
    }
