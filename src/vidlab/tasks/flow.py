"""``python evaluate.py task=flow source=<video> [flow.method=...] [flow.weights=<file>]``.

Glue for `vidlab.video.flow_video.video_flow`: builds the estimator (`vidlab.video.flow.build_flow`)
and writes ``metrics.json`` (`vidlab.utils.runinfo.write_metrics`) with ``flow/pairs``,
``flow/fps`` (frame pairs per second, decoding included), ``flow/mean_magnitude`` and
``flow/max_mean_magnitude`` (pixels per frame at the flow resolution).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vidlab.errors import UserError
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics
from vidlab.video.flow import build_flow
from vidlab.video.flow_video import FlowOptions, video_flow

log = logging.getLogger(__name__)

#: ``flow.*`` keys that choose the estimator rather than the outputs.
ESTIMATOR_KEYS = ("method", "preset", "weights", "num_flow_updates", "device", "threads")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Flow of ``cfg.source`` into the run directory; returns the ``flow/*`` metrics."""
    import cv2

    source, out = Path(str(cfg.source)), Path(cfg.paths.output_dir)
    values = OmegaConf.to_container(cfg.flow, resolve=True)
    est = {k: values.pop(k) for k in ESTIMATOR_KEYS if k in values}
    unknown = sorted(set(values) - set(FlowOptions.__dataclass_fields__))
    if unknown:
        raise UserError(f"flow.{unknown[0]}: unknown option")
    options = FlowOptions(**values)
    threads = int(est.pop("threads", 0) or 0)
    if threads:
        import torch

        cv2.setNumThreads(threads)
        torch.set_num_threads(threads)
    estimator = build_flow(
        est.get("method", "dis"),
        weights=est.get("weights"),
        preset=est.get("preset", "fast"),
        num_flow_updates=int(est.get("num_flow_updates", 12)),
        device=est.get("device", "cpu"),
    )
    start = time.perf_counter()
    rows = video_flow(source, out, estimator, options)
    wall = time.perf_counter() - start
    means = [r.mean for r in rows]
    metrics = {
        "flow/pairs": len(rows),
        "flow/fps": len(rows) / wall if wall > 0 else float("inf"),
        "flow/mean_magnitude": sum(means) / len(means) if means else 0.0,
        "flow/max_mean_magnitude": max(means, default=0.0),
    }
    write_metrics(
        out / "metrics.json",
        task="flow",
        metrics=metrics,
        details={"motion": "motion.csv", "flow_dir": "flow" if options.save else None},
        provenance={
            "source": str(source),
            "estimator": estimator.name,
            "flow": OmegaConf.to_container(cfg.flow, resolve=True),
            "versions": package_versions() | {"opencv": cv2.__version__},
            "git_commit": git_commit(),
        },
    )
    log.info(
        "%s: %d pairs with %s at %.1f pairs/s",
        source,
        len(rows),
        estimator.name,
        metrics["flow/fps"],
    )
    return metrics
