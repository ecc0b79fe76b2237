"""Precision-recall figure (PNG) of a detection evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidlab.evaluation.detection.metrics import RECALL_THRESHOLDS, DetectionResult


def save_pr_curve_png(result: DetectionResult, path: str | Path, title: str = "person") -> Path:
    """Precision against recall at IoU 0.5 and 0.75 (COCO's interpolated curves), AP in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for name, curve in result.precision_curves.items():
        ap = getattr(result, name)
        valid = ~np.isnan(curve)
        ax.plot(RECALL_THRESHOLDS[valid], curve[valid], label=f"IoU {name[2:]}: AP {ap:.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"{title} (mAP {result.mAP:.3f}, AR100 {result.AR100:.3f})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
