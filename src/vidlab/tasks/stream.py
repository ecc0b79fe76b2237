"""``python evaluate.py task=stream source=<...> detector=<...> tracker=<name>``.

Glue only: builds the `vidlab.pipeline.Pipeline` the config describes, consumes it (live panel on
a terminal), prints the final tables and writes ``metrics.json`` (``stream/frames``,
``stream/fps``, ``stream/dropped_frames``, ``stream/latency_p50_ms``, ``stream/latency_p99_ms``,
``stream/peak_rss_mb``, ...; ``details`` per stream, stage and queue).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vidlab.pipeline import Pipeline
from vidlab.pipeline.display import iterate_with_display, print_report
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    out = Path(cfg.paths.output_dir)
    pipeline = Pipeline.from_config(cfg, run_dir=out)
    display = cfg.get("stream", {}).get("display")
    try:
        for _ in iterate_with_display(pipeline, enabled=display):
            pass
    except KeyboardInterrupt:  # a live stream is ended with Ctrl-C: report what ran
        log.warning("interrupted; writing the metrics of the frames processed so far")
    report = pipeline.report()
    print_report(report)
    write_metrics(
        out / "metrics.json",
        task="stream",
        metrics=report["metrics"],
        details=report["details"],
        provenance={
            "source": OmegaConf.to_container(cfg, resolve=True).get("source"),
            "detector": str(cfg.detector),
            "detect": OmegaConf.to_container(cfg.detect, resolve=True),
            "stream": OmegaConf.to_container(cfg.stream, resolve=True),
            "tracker": OmegaConf.to_container(cfg.tracker, resolve=True)
            if cfg.get("tracker")
            else None,
            "sinks": OmegaConf.to_container(cfg.sinks, resolve=True) if cfg.get("sinks") else {},
            "versions": package_versions(),
            "git_commit": git_commit(),
        },
    )
    return report["metrics"]
