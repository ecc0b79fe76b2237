"""Scoring analytics events against ground truth: per-type precision / recall / F1 with a temporal
tolerance, line and zone count errors, and latency.

Events are the records of ``events.jsonl`` (the fields of `vidlab.pipeline.types.Event`). A
predicted and a true event can match when they have the same type, the same zone or line
(``item``) and, for line crossings and actions, the same ``label`` (direction or action), and when
their times (``t_start``) differ by at most the tolerance. Within each such group, predictions and
truths are matched one to one by the Hungarian algorithm on time distance (pairs beyond the
tolerance are never matched); matched pairs are true positives, the rest false positives and
misses. Track ids are not compared: a tracker's ids are not the ground truth's. Cameras are
compared only with ``match_camera=True`` (a runtime may name a scene's stream differently).

Actions are also scored per label: ``events/action/<label>/precision|recall|F1`` (e.g.
``events/action/fall/F1``) for every action label in the truth or the predictions, beside the
``events/action/*`` scores of all labels together.

Counts: the relative error of the total number of line crossings (``counts/line_error``:
``|pred - true| / true``) and of zone entries (``counts/zone_error``), plus per line and direction
in the details.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlab.errors import UserError

#: The event types the analytics emit and the scorer knows (issue 16's names); the stream runtime's
#: `vidlab.pipeline.types` re-exports them.
EVENT_TYPES = (
    "line_crossing",
    "zone_enter",
    "zone_exit",
    "loitering",
    "wrong_way",
    "overspeed",
    "crowding",
    "action",
)
_REQUIRED = ("type", "t_start")
_FIELDS = {
    "type", "camera", "track_id", "item", "t_start", "t_end", "frame_start", "frame_end",
    "confidence", "label", "snapshot", "extra",
}  # fmt: skip
_LABELLED = ("line_crossing", "action")
_UNMATCHED = 1e9


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Event records of a JSON Lines file, checked.

    Raises:
        FileNotFoundError: no such file.
        UserError: a line that is not a JSON object, lacks ``type`` / ``t_start``, has unknown
            keys or an unknown event type (naming the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"events file {path} does not exist")
    events = []
    with path.open() as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{n}: not a JSON object ({err.msg})") from None
            events.append(check_event(record, f"{path}:{n}"))
    return events


def check_event(record: Any, where: str) -> dict[str, Any]:
    """`record` if it is a valid event dict, else a `UserError` naming `where`."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in _REQUIRED if k not in record]
    if missing:
        raise UserError(f"{where}: event lacks {missing}")
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise UserError(
            f"{where}: unknown event keys {unknown}; expected some of {sorted(_FIELDS)}"
        )
    if record["type"] not in EVENT_TYPES:
        raise UserError(
            f"{where}: unknown event type {record['type']!r}; expected one of {list(EVENT_TYPES)}"
        )
    if not isinstance(record["t_start"], int | float):
        raise UserError(
            f"{where}: t_start must be a number (stream seconds), got {record['t_start']!r}"
        )
    return record


@dataclass(frozen=True)
class TypeScore:
    """Matching counts and ratios of one event type."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    latency_mean_s: float | None  # mean of (predicted - true) time over matches
    latency_abs_max_s: float | None


def _key(e: Mapping[str, Any], match_camera: bool) -> tuple:
    label = e.get("label", "") if e["type"] in _LABELLED else ""
    camera = e.get("camera", "") if match_camera else ""
    return e["type"], camera, e.get("item", ""), label


def match_events(
    pred: list[Mapping[str, Any]],
    gt: list[Mapping[str, Any]],
    tolerance_s: float | Mapping[str, float],
    *,
    match_camera: bool = False,
) -> list[tuple[int, int]]:
    """One-to-one (pred index, gt index) matches (see the module docstring)."""
    groups: dict[tuple, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for i, e in enumerate(pred):
        groups[_key(e, match_camera)][0].append(i)
    for j, e in enumerate(gt):
        groups[_key(e, match_camera)][1].append(j)
    matches = []
    for key, (pi, gi) in groups.items():
        if not pi or not gi:
            continue
        tol = tolerance_s if isinstance(tolerance_s, int | float) else tolerance_s[key[0]]
        tp = np.array([pred[i]["t_start"] for i in pi], np.float64)
        tg = np.array([gt[j]["t_start"] for j in gi], np.float64)
        dist = np.abs(tp[:, None] - tg[None, :])
        cost = np.where(dist <= tol, dist, _UNMATCHED)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if cost[r, c] < _UNMATCHED:
                matches.append((pi[r], gi[c]))
    return matches


def _ratio(num: int, den: int, empty: float) -> float:
    return num / den if den else empty


def score_events(
    pred: list[Mapping[str, Any]],
    gt: list[Mapping[str, Any]],
    *,
    tolerance_s: float = 1.0,
    tolerance_by_type: Mapping[str, float] | None = None,
    match_camera: bool = False,
) -> dict[str, Any]:
    """Per-type scores, count errors and the flat metrics of ``metrics.json``.

    Args:
        pred: predicted event records.
        gt: true event records.
        tolerance_s: largest time difference (seconds) of a match.
        tolerance_by_type: per-type overrides of `tolerance_s`.
        match_camera: also require equal ``camera`` fields.

    Returns:
        ``{"metrics": {...}, "types": {type: TypeScore dict}, "counts": {...}}``. Metrics hold
        ``events/<type>/precision|recall|F1|latency_mean_s`` for every type in the ground truth
        or the predictions, ``counts/line_error`` and ``counts/zone_error``. A type without true
        events has recall 1 and precision 0 if anything was predicted (and 1 otherwise).
    """
    tol = defaultdict(lambda: float(tolerance_s), dict(tolerance_by_type or {}))
    matches = match_events(pred, gt, tol, match_camera=match_camera)
    types = sorted({e["type"] for e in gt} | {e["type"] for e in pred})
    tp = Counter(gt[j]["type"] for _, j in matches)
    n_pred = Counter(e["type"] for e in pred)
    n_gt = Counter(e["type"] for e in gt)
    latency: dict[str, list[float]] = defaultdict(list)
    for i, j in matches:
        latency[gt[j]["type"]].append(float(pred[i]["t_start"]) - float(gt[j]["t_start"]))
    scores, metrics = {}, {}
    for t in types:
        p = _ratio(tp[t], n_pred[t], 1.0)
        r = _ratio(tp[t], n_gt[t], 1.0)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        lat = latency.get(t)
        scores[t] = TypeScore(
            tp=tp[t], fp=n_pred[t] - tp[t], fn=n_gt[t] - tp[t], precision=p, recall=r, f1=f1,
            latency_mean_s=float(np.mean(lat)) if lat else None,
            latency_abs_max_s=float(np.max(np.abs(lat))) if lat else None,
        )  # fmt: skip
        metrics |= {f"events/{t}/precision": p, f"events/{t}/recall": r, f"events/{t}/F1": f1}
        if lat:
            metrics[f"events/{t}/latency_mean_s"] = float(np.mean(lat))
    by_label = _per_label(pred, gt, matches, "action")
    for label, s in by_label.items():
        metrics |= {
            f"events/action/{label}/precision": s.precision,
            f"events/action/{label}/recall": s.recall,
            f"events/action/{label}/F1": s.f1,
        }
        scores[f"action/{label}"] = s
    counts = count_errors(pred, gt)
    metrics["counts/line_error"] = counts["line_error"]
    metrics["counts/zone_error"] = counts["zone_error"]
    return {
        "metrics": metrics,
        "types": {t: asdict(s) for t, s in scores.items()},
        "counts": counts,
    }


def _per_label(pred, gt, matches, kind: str) -> dict[str, TypeScore]:
    """Scores of one labelled type per label (the type's matches already require equal labels)."""
    labels = sorted({e.get("label", "") for e in [*pred, *gt] if e["type"] == kind})
    out = {}
    for label in labels:
        n_pred = sum(1 for e in pred if e["type"] == kind and e.get("label", "") == label)
        n_gt = sum(1 for e in gt if e["type"] == kind and e.get("label", "") == label)
        hits = [
            (i, j) for i, j in matches if gt[j]["type"] == kind and gt[j].get("label", "") == label
        ]
        lat = [float(pred[i]["t_start"]) - float(gt[j]["t_start"]) for i, j in hits]
        p, r = _ratio(len(hits), n_pred, 1.0), _ratio(len(hits), n_gt, 1.0)
        out[label] = TypeScore(
            tp=len(hits), fp=n_pred - len(hits), fn=n_gt - len(hits), precision=p, recall=r,
            f1=2 * p * r / (p + r) if p + r else 0.0,
            latency_mean_s=float(np.mean(lat)) if lat else None,
            latency_abs_max_s=float(np.max(np.abs(lat))) if lat else None,
        )  # fmt: skip
    return out


def _counts(events: Iterable[Mapping[str, Any]], kind: str, by_label: bool) -> Counter:
    return Counter(
        (e.get("item", ""), e.get("label", "") if by_label else "")
        for e in events
        if e["type"] == kind
    )


def count_errors(pred: list[Mapping[str, Any]], gt: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Line crossing counts (per line and direction) and zone entry counts, true vs predicted,
    and the relative errors of their totals (0 when both are empty, 1 when only truth is)."""
    out: dict[str, Any] = {}
    for name, kind, by_label in (("line", "line_crossing", True), ("zone", "zone_enter", False)):
        c_pred, c_gt = _counts(pred, kind, by_label), _counts(gt, kind, by_label)
        total_pred, total_gt = sum(c_pred.values()), sum(c_gt.values())
        out[f"{name}_error"] = (
            abs(total_pred - total_gt) / total_gt if total_gt else float(total_pred > 0)
        )
        out[f"{name}_counts"] = {
            "/".join(filter(None, k)): {"true": c_gt[k], "pred": c_pred[k]}
            for k in sorted(set(c_pred) | set(c_gt))
        }
    return out
