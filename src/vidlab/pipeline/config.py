"""Build a `Pipeline` from a composed ``task=stream`` config.

Keys (configs/task/stream.yaml): ``source`` (a plain value or a list of them: ``synthetic``, a
camera index, a URL, an image folder, a video file), ``detector`` (``hog``, ``oracle``, ``replay``
or a bundle folder) with ``detect.*`` options, ``stream.*`` (source and runtime options), the
``tracker`` node, and the ``analytics`` and ``sinks`` mappings of ``_target_`` nodes (sinks also get
``run_dir=``; a sink with a true ``needs_image`` attribute makes results keep their frames).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from vidlab.pipeline.detect import build_detector
from vidlab.pipeline.runtime import Pipeline, StreamOptions
from vidlab.pipeline.sources import Source, open_source

#: Tracker config key filled with the source's frame rate when null (as task=track does).
FRAME_RATE_KEY = "frame_rate"
DEFAULT_FPS = 30.0
#: Seed step between several synthetic streams of one run.
SYNTHETIC_SEED_STEP = 1000


def _plain(node: Any) -> Any:
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node


def build_sources(spec: Any, stream: dict[str, Any]) -> list[Source]:
    """One source per ``source`` value; several values get distinct stream ids (and seeds)."""
    specs = list(spec) if isinstance(spec, list | tuple) else [spec]
    sources = []
    for i, value in enumerate(specs):
        options = dict(stream, streams=len(specs))  # streams: their share of decoder threads
        if len(specs) > 1:
            syn = dict(options.get("synthetic") or {})
            syn["seed"] = int(syn.get("seed", 0)) + SYNTHETIC_SEED_STEP * i
            options["synthetic"] = syn
        sources.append(open_source(value, **options))
    seen: dict[str, int] = {}
    for s in sources:
        seen[s.stream_id] = seen.get(s.stream_id, 0) + 1
    if any(n > 1 for n in seen.values()):
        for i, s in enumerate(sources):
            s.stream_id = f"{s.stream_id}{i}"
    return sources


def tracker_builder(tracker_cfg: Any):
    """``make(source) -> tracker``: the encoder (if any) built once and shared, ``frame_rate:
    null`` filled with the source's nominal rate."""
    if tracker_cfg is None:
        return None
    conf = _plain(tracker_cfg)
    encoder_cfg = conf.pop("encoder", None)
    encoder = instantiate(encoder_cfg) if encoder_cfg else None
    fill_rate = FRAME_RATE_KEY in conf and conf[FRAME_RATE_KEY] is None
    if fill_rate:
        del conf[FRAME_RATE_KEY]
    partial = instantiate(conf, _partial_=True)

    def make(source: Source):
        extra = {FRAME_RATE_KEY: source.fps or DEFAULT_FPS} if fill_rate else {}
        return partial(encoder=encoder, **extra)

    return make


def build_targets(nodes: Any, **kwargs: Any) -> list[Any]:
    """Instantiate every ``_target_`` node of a mapping (or list), in order; null entries skipped."""
    nodes = _plain(nodes) or {}
    items = nodes.values() if isinstance(nodes, dict) else nodes
    return [instantiate(node, **kwargs) for node in items if node]


def stream_options(stream: dict[str, Any], detect: dict[str, Any]) -> StreamOptions:
    names = set(StreamOptions.__dataclass_fields__)
    values = {k: v for k, v in stream.items() if k in names and v is not None}
    if detect.get("batch_size"):
        values["batch_size"] = int(detect["batch_size"])
    if detect.get("batch_timeout_ms") is not None:
        values["batch_timeout_ms"] = float(detect["batch_timeout_ms"])
    return StreamOptions(**values)


def pipeline_from_config(cfg: Any, *, run_dir: str | Path | None = None) -> Pipeline:
    """The pipeline a ``task=stream`` config describes (see the module docstring)."""
    stream = _plain(cfg.get("stream")) or {}
    detect = _plain(cfg.get("detect")) or {}
    if run_dir is None:
        run_dir = cfg.paths.output_dir
    sources = build_sources(_plain(cfg.source), stream)
    detector = build_detector(cfg.detector, detect)
    analyzers = build_targets(cfg.get("analytics"))
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    sinks = build_targets(cfg.get("sinks"), run_dir=str(run_dir))
    options = stream_options(stream, detect)
    if any(getattr(s, "needs_image", False) or getattr(s, "needs_images", False) for s in sinks):
        # e.g. an annotated video: results keep their frames
        options = replace(options, keep_images=True)
    return Pipeline(
        sources,
        detector,
        tracker_builder(cfg.get("tracker")),
        analyzers=analyzers,
        sinks=sinks,
        options=options,
    )
