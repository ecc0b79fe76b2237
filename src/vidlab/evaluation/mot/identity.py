"""Identity metrics IDF1 / IDR / IDP (Ristani et al., ECCV 2016 workshops), as in TrackEval 1.3.0.

Ground-truth ids and tracker ids are matched one-to-one for the whole sequence so that the number
of boxes where they coincide (IoU >= 0.5) is as large as possible: that number is IDTP.

TrackEval finds this matching with a Hungarian solve on a (G + T) x (G + T) cost matrix of false
negatives plus false positives. The total cost of any assignment there equals
`sum(gt boxes) + sum(tracker boxes) - 2 * (coinciding boxes of the matched id pairs)`, so the
optimum is exactly a maximum-weight matching of the coincidence counts. Here that matching is
solved per connected component of the (gt id, tracker id) coincidence graph, which is small, and
IDTP (the optimum's value) does not depend on how ties are broken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlab.evaluation.mot.preprocess import SequenceData

IDENTITY_THRESHOLD = 0.5  # minimum IoU for two boxes to coincide (no epsilon, as in TrackEval)


@dataclass(frozen=True)
class IdentityCounts:
    """Summable identity counts of one sequence (or several, summed).

    Attributes:
        idtp: Boxes where matched ids coincide.
        idfn: Ground-truth boxes not covered by their matched tracker id.
        idfp: Tracker boxes not covering their matched ground-truth id.
    """

    idtp: int
    idfn: int
    idfp: int


def identity_counts(data: SequenceData, threshold: float = IDENTITY_THRESHOLD) -> IdentityCounts:
    """Identity counts of one preprocessed sequence.

    Args:
        data: The preprocessed sequence.
        threshold: Minimum IoU for two boxes to coincide.
    """
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        return IdentityCounts(idtp=0, idfn=data.num_gt_dets, idfp=data.num_tracker_dets)
    hit = data.similarity >= threshold
    g = data.gt_ids[data.pair_gt[hit]]
    t = data.tracker_ids[data.pair_tracker[hit]]
    key, count = np.unique(g * data.num_tracker_ids + t, return_counts=True)
    idtp = _max_weight_matching(
        key // data.num_tracker_ids, key % data.num_tracker_ids, count.astype(float)
    )
    return IdentityCounts(
        idtp=idtp, idfn=data.num_gt_dets - idtp, idfp=data.num_tracker_dets - idtp
    )


def _max_weight_matching(g: np.ndarray, t: np.ndarray, weight: np.ndarray) -> int:
    """Value of a maximum-weight one-to-one matching of a bipartite graph with integer weights.

    Args:
        g: (E,) left node of each edge.
        t: (E,) right node of each edge.
        weight: (E,) positive integer-valued weights.
    """
    if g.shape[0] == 0:
        return 0
    left, g_local = np.unique(g, return_inverse=True)
    right, t_local = np.unique(t, return_inverse=True)
    comp = _component_labels(g_local, t_local, left.shape[0], right.shape[0])
    order = np.argsort(comp, kind="stable")
    bounds = np.flatnonzero(np.diff(comp[order])) + 1
    total = 0.0
    for edges in np.split(order, bounds):
        if edges.shape[0] == 1:
            total += weight[edges[0]]
            continue
        rows, r = np.unique(g_local[edges], return_inverse=True)
        cols, c = np.unique(t_local[edges], return_inverse=True)
        if rows.shape[0] == 1 or cols.shape[0] == 1:  # a star: the heaviest edge
            total += weight[edges].max()
            continue
        matrix = np.zeros((rows.shape[0], cols.shape[0]))
        matrix[r, c] = weight[edges]
        rr, cc = linear_sum_assignment(matrix, maximize=True)
        total += matrix[rr, cc].sum()
    return int(round(total))


def _component_labels(left: np.ndarray, right: np.ndarray, n_left: int, n_right: int) -> np.ndarray:
    """Connected component of each edge of a bipartite graph (label: its smallest left node).

    Labels are propagated left -> right -> left until nothing changes; each round crosses two
    edges, so the number of rounds is about half the longest path in a component (small here).

    Args:
        left: (E,) left node of each edge, in 0..n_left-1.
        right: (E,) right node of each edge, in 0..n_right-1.
        n_left: Number of left nodes.
        n_right: Number of right nodes.

    Returns:
        (E,) int64 component label of each edge.
    """
    label = np.arange(n_left)
    while True:
        right_label = np.full(n_right, n_left)
        np.minimum.at(right_label, right, label[left])
        new_label = label.copy()
        np.minimum.at(new_label, left, right_label[right])
        if np.array_equal(new_label, label):
            return label[left]
        label = new_label


def identity_fields(c: IdentityCounts) -> dict[str, float | int]:
    """TrackEval's identity fields (fractions) from counts; also used for the combination."""
    return {
        "IDF1": c.idtp / max(1.0, c.idtp + 0.5 * c.idfp + 0.5 * c.idfn),
        "IDR": c.idtp / max(1.0, c.idtp + c.idfn),
        "IDP": c.idtp / max(1.0, c.idtp + c.idfp),
        "IDTP": c.idtp,
        "IDFN": c.idfn,
        "IDFP": c.idfp,
    }


def sum_identity(counts: list[IdentityCounts]) -> IdentityCounts:
    """Sum counts over sequences."""
    return IdentityCounts(
        idtp=sum(c.idtp for c in counts),
        idfn=sum(c.idfn for c in counts),
        idfp=sum(c.idfp for c in counts),
    )
