"""Pictures of a camera's analytics: presence heatmap, trajectories over a frame, counts over time
and an event timeline (matplotlib, Agg backend; each function writes one PNG and returns its path).

Events may be `vidlab.pipeline.types.Event` objects or their dicts (lines of ``events.jsonl``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.analytics.layout import CameraLayout


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _as_dicts(events: Iterable[Any]) -> list[dict[str, Any]]:
    return [e if isinstance(e, Mapping) else e.to_dict() for e in events]


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _draw_layout(ax, layout: CameraLayout | None) -> None:
    if layout is None:
        return
    for zone in layout.zones:
        poly = np.vstack([zone.polygon, zone.polygon[:1]])
        ax.plot(poly[:, 0], poly[:, 1], color="cyan", lw=1.5)
        ax.text(*zone.polygon.mean(axis=0), zone.name, color="cyan", fontsize=8, ha="center")
    for line in layout.lines:
        ax.plot([line.start[0], line.end[0]], [line.start[1], line.end[1]], color="yellow", lw=2)
        mid = (line.start + line.end) / 2
        tip = mid + line.in_direction * 30
        ax.annotate("in", xy=tip, xytext=mid, color="yellow", fontsize=7,
                    arrowprops={"arrowstyle": "->", "color": "yellow"})  # fmt: skip
        ax.text(*(line.start + 6), line.name, color="yellow", fontsize=8)


def plot_heatmap(
    density: np.ndarray,
    path: str | Path,
    *,
    frame_size: tuple[int, int],
    background: np.ndarray | None = None,
    layout: CameraLayout | None = None,
) -> Path:
    """The (rows, cols) presence map (`HeatmapAnalyzer.image`) stretched over the frame,
    optionally over an (H, W, 3) RGB `background`."""
    plt = _pyplot()
    w, h = frame_size
    fig, ax = plt.subplots(figsize=(8, 8 * h / w))
    if background is not None:
        ax.imshow(background, extent=(0, w, h, 0))
    shown = np.ma.masked_where(density <= 0, density)
    from matplotlib.colors import PowerNorm

    im = ax.imshow(shown, extent=(0, w, h, 0), cmap="inferno", alpha=0.75, interpolation="bilinear",
                   norm=PowerNorm(0.5))  # fmt: skip
    fig.colorbar(im, ax=ax, fraction=0.03, label="presence (faded)")
    _draw_layout(ax, layout)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_title("presence heatmap")
    return _save(fig, path)


def plot_trajectories(
    trajectories: Mapping[int, np.ndarray],
    path: str | Path,
    *,
    frame_size: tuple[int, int],
    background: np.ndarray | None = None,
    layout: CameraLayout | None = None,
    max_tracks: int = 200,
) -> Path:
    """Track paths (id -> (K, 2) anchor points, e.g. `HeatmapAnalyzer.trajectories`) over the
    first frame, with the layout's zones and lines."""
    plt = _pyplot()
    w, h = frame_size
    fig, ax = plt.subplots(figsize=(8, 8 * h / w))
    if background is not None:
        ax.imshow(background, extent=(0, w, h, 0))
    cmap = plt.get_cmap("tab20")
    for k, (tid, pts) in enumerate(list(trajectories.items())[:max_tracks]):
        pts = np.asarray(pts)
        ax.plot(pts[:, 0], pts[:, 1], lw=1.2, color=cmap(k % 20))
        ax.plot(*pts[-1], "o", ms=3, color=cmap(k % 20))
        ax.text(*pts[-1], str(tid), fontsize=6, color=cmap(k % 20))
    _draw_layout(ax, layout)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_title(f"trajectories ({min(len(trajectories), max_tracks)} tracks)")
    return _save(fig, path)


def plot_counts_over_time(
    events: Iterable[Any],
    path: str | Path,
    *,
    occupancy: Sequence[tuple[float, np.ndarray]] | None = None,
    zone_names: Sequence[str] = (),
) -> Path:
    """Cumulative line crossings per line and direction over stream time, and (optionally) zone
    occupancy (`ZoneAnalyzer.history`: (pts, (Z,) counts) samples)."""
    plt = _pyplot()
    rows = 2 if occupancy else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 3.2 * rows), sharex=True, squeeze=False)
    series: dict[str, list[float]] = defaultdict(list)
    for e in _as_dicts(events):
        if e["type"] == "line_crossing":
            series[f"{e['item']} {e['label']}".strip()].append(float(e["t_start"]))
    ax = axes[0, 0]
    for name, times in sorted(series.items()):
        t = np.sort(times)
        ax.step(np.r_[0.0, t], np.arange(len(t) + 1), where="post", label=name)
    ax.set_ylabel("crossings (cumulative)")
    if series:
        ax.legend(fontsize=8)
    if occupancy:
        t = np.array([s[0] for s in occupancy])
        occ = np.array([s[1] for s in occupancy])
        for z in range(occ.shape[1]):
            name = zone_names[z] if z < len(zone_names) else f"zone {z}"
            axes[1, 0].plot(t, occ[:, z], label=name)
        axes[1, 0].set_ylabel("occupancy")
        axes[1, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("stream time (s)")
    return _save(fig, path)


def plot_event_timeline(
    events: Iterable[Any], path: str | Path, *, truth: Iterable[Any] | None = None
) -> Path:
    """One row per event type (and zone / line): predicted events as dots, true ones (when
    given) as vertical ticks."""
    plt = _pyplot()
    pred = _as_dicts(events)
    gt = _as_dicts(truth) if truth is not None else []

    def key(e) -> str:
        return " / ".join(filter(None, (e["type"], e.get("item", ""), e.get("label", ""))))

    keys = sorted({key(e) for e in pred} | {key(e) for e in gt})
    row = {k: i for i, k in enumerate(keys)}
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(keys) + 1.5))
    if gt:
        ax.scatter([e["t_start"] for e in gt], [row[key(e)] for e in gt], marker="|", s=250,
                   color="black", label="truth")  # fmt: skip
    ax.scatter([e["t_start"] for e in pred], [row[key(e)] for e in pred], s=18, color="tab:red",
               label="predicted", zorder=3)  # fmt: skip
    ax.set_yticks(range(len(keys)), keys, fontsize=8)
    ax.set_xlabel("stream time (s)")
    ax.set_ylim(-0.7, len(keys) - 0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("event timeline")
    return _save(fig, path)
