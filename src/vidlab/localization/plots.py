"""Timeline PNG of one video: smoothed class probabilities over time, predicted and true segments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidlab.localization.segments import Segment

MAX_DRAWN_SEGMENTS = 30


def save_timeline(
    path: str | Path,
    centers: np.ndarray,
    probabilities: np.ndarray,
    segments: Sequence[Segment],
    class_names: Sequence[str],
    duration: float,
    ground_truth: Sequence[tuple[float, float, str]] = (),
    title: str = "",
) -> Path:
    """Write the timeline: probability curves on top, segment bars (predicted, true) below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = plt.get_cmap("tab10")
    fig, (curves, bars) = plt.subplots(
        2, 1, figsize=(10, 3.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
    )
    for k, name in enumerate(class_names):
        style = {"color": colors(k)}
        if name == "background":
            style = {"color": "0.6", "linestyle": "--"}
        if len(centers):
            curves.plot(centers, probabilities[:, k], label=name, lw=1.2, **style)
    curves.set_ylim(0, 1.02)
    curves.set_ylabel("probability")
    curves.legend(loc="upper right", fontsize=7, ncol=min(len(class_names), 5))
    curves.set_title(title, fontsize=9)
    shown = sorted(segments, key=lambda s: -s.score)[:MAX_DRAWN_SEGMENTS]
    for seg in shown:
        bars.broken_barh([(seg.start, seg.end - seg.start)], (1.1, 0.8), color=colors(seg.label),
                         alpha=0.3 + 0.7 * seg.score)  # fmt: skip
    index = {name: k for k, name in enumerate(class_names)}
    for start, end, name in ground_truth:
        bars.broken_barh([(start, end - start)], (0.1, 0.8), color=colors(index.get(name, 9)))
    bars.set_yticks([0.5, 1.5], ["truth", "predicted"])
    bars.set_ylim(0, 2)
    bars.set_xlim(0, max(duration, 1e-6))
    bars.set_xlabel("time (s)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
