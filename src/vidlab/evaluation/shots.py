"""Shot-boundary scoring: precision, recall and F1 of detected boundaries against ground truth.

A detected boundary matches a true one when their frame indices differ by at most ``tolerance``;
each boundary matches at most once, closest pairs first (ties: the earlier frames first).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class BoundaryScore:
    """Counts and ratios of one comparison (or a sum over videos: add the counts)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: BoundaryScore) -> BoundaryScore:
        return BoundaryScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def as_dict(self) -> dict[str, float]:
        return asdict(self) | {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def match_boundaries(
    predicted: list[int], truth: list[int], tolerance: int = 1
) -> list[tuple[int, int]]:
    """One-to-one matches ``(predicted, true)`` within `tolerance` frames, closest pairs first."""
    pairs = sorted(
        (abs(p - t), t, p) for p in set(predicted) for t in set(truth) if abs(p - t) <= tolerance
    )
    used_p, used_t, matches = set(), set(), []
    for _d, t, p in pairs:
        if p not in used_p and t not in used_t:
            used_p.add(p)
            used_t.add(t)
            matches.append((p, t))
    return sorted(matches)


def score_boundaries(predicted: list[int], truth: list[int], tolerance: int = 1) -> BoundaryScore:
    """Precision / recall / F1 counts of `predicted` boundary frames against `truth`.

    Duplicated frames count once on each side.
    """
    tp = len(match_boundaries(predicted, truth, tolerance))
    return BoundaryScore(tp, len(set(predicted)) - tp, len(set(truth)) - tp)
