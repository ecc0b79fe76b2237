"""``python evaluate.py task=stream source=<...> detector=<...> tracker=<name>``.

Glue only: builds the `vidlab.pipeline.Pipeline` the config describes, consumes it (live panel on
a terminal), prints the final tables and writes ``metrics.json`` (``stream/frames``,
``stream/fps``, ``stream/dropped_frames``, ``stream/latency_p50_ms``, ``stream/latency_p99_ms``,
``stream/peak_rss_mb``, ...; ``details`` per stream, stage and queue).

With ``data=synthetic_scene`` the stream is a scripted scene that carries its own truth:
``source=synthetic`` becomes the scene's MOTChallenge folder (``data.seed`` picks the scene; its
frames are rendered only when the detector needs pixels), the scene's own layout
(``analytics.yaml``) is the analyze stage unless ``analytics=`` names another layout, and the run
scores its events against ``events_gt.jsonl`` (`vidlab.evaluation.events.score_events`):
``events/<type>/precision|recall|F1`` for every type in the truth, and ``counts/line_error``.
With the tracklet action analytic (``analytics=actions analytics.actions.bundle=<dir>``) the scene
is generated with its actions (``data.script.actions=true`` unless set: fallers, posed figures,
``action`` truth), its frames are rendered, and the scores add ``events/action/<label>/F1``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from vidlab.pipeline import Pipeline
from vidlab.pipeline.display import iterate_with_display, print_report
from vidlab.utils.reporting import print_metrics
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

log = logging.getLogger(__name__)


#: Detectors that read boxes the source carries (no pixels needed).
BOX_DETECTORS = ("oracle", "replay")
SCENE_TARGET = "vidlab.data.synthetic.scene.SyntheticScene"
LAYOUT_TARGETS = ("vidlab.analytics.LayoutAnalytics", "vidlab.analytics.builder.LayoutAnalytics")
ACTION_TARGETS = ("vidlab.analytics.ActionAnalyzer", "vidlab.analytics.actions.ActionAnalyzer")


def _targets(nodes: Any) -> list[str]:
    """The ``_target_`` of every node of an ``analytics`` mapping."""
    if not nodes:
        return []
    return [str(n.get("_target_", "")) for n in nodes.values() if n]


def scripted_scene(cfg: DictConfig) -> Path | None:
    """With ``data=synthetic_scene``: generate the scene, point ``source=synthetic`` and (when no
    ``analytics=`` is set) the analyze stage at it, and return its folder; else None."""
    data = cfg.get("data")
    if data is None or data.get("_target_") != SCENE_TARGET:
        return None
    targets = _targets(cfg.get("analytics"))
    actions = any(t in ACTION_TARGETS for t in targets)
    render = str(cfg.detector) not in BOX_DETECTORS or actions
    if actions and (data.get("script") or {}).get("actions") is None:
        with open_dict(data):
            if data.get("script") is None:
                data.script = {}
            data.script.actions = True
    folder = instantiate(data, render_frames=bool(data.get("render_frames")) or render).scene_dir()
    with open_dict(cfg):
        if str(cfg.source) == "synthetic":
            cfg.source = str(folder)
        if not any(t in LAYOUT_TARGETS for t in targets):
            scene = {
                "_target_": "vidlab.analytics.LayoutAnalytics",
                "layout_file": str(folder / "analytics.yaml"),
                "default_camera": folder.name,
            }
            cfg.analytics = {"scene": scene, **(cfg.get("analytics") or {})}
    return folder


def run(cfg: DictConfig) -> dict[str, Any]:
    out = Path(cfg.paths.output_dir)
    scene = scripted_scene(cfg)
    pipeline = Pipeline.from_config(cfg, run_dir=out)
    display = cfg.get("stream", {}).get("display")
    events = []
    try:
        for result in iterate_with_display(pipeline, enabled=display):
            events.extend(e.to_dict() for e in result.events)
    except KeyboardInterrupt:  # a live stream is ended with Ctrl-C: report what ran
        log.warning("interrupted; writing the metrics of the frames processed so far")
    report = pipeline.report()
    print_report(report)
    if scene is not None:
        from vidlab.evaluation.events import read_events, score_events

        scores = score_events(events, read_events(scene / "events_gt.jsonl"))
        report["metrics"] |= scores["metrics"]
        report["details"]["events"] = {k: v for k, v in scores.items() if k != "metrics"}
        print_metrics(f"events against {scene.name}'s truth", scores["metrics"])
    write_metrics(
        out / "metrics.json",
        task="stream",
        metrics=report["metrics"],
        details=report["details"],
        provenance={
            "source": OmegaConf.to_container(cfg, resolve=True).get("source"),
            "scene": str(scene) if scene is not None else None,
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
