"""``python evaluate.py task=summarize source=<video> [embedder=<model>] [summary.video=true]``.

Glue for `vidlab.video.summary.summarize`: builds the sampler, shot detector and embedder from the
config, writes ``summary.json`` and ``metrics.json`` (`vidlab.utils.runinfo.write_metrics`):
``summary/*`` counts and speeds (frames decoded and analysed against a uniform stride, real-time
factor by wall time and by CPU time (user + system: what the work costs, whatever else the
machine runs), peak RSS) and, when a shot ground truth ``<source>.json`` lies beside the video,
``test/shot_precision``, ``test/shot_recall`` and ``test/shot_f1`` (1-frame tolerance).
"""

from __future__ import annotations

import logging
import resource
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vidlab.errors import UserError
from vidlab.utils.runinfo import git_commit, package_versions, write_json, write_metrics
from vidlab.video.embed import build_embedder
from vidlab.video.sampling import SamplerSettings
from vidlab.video.shots import ShotSettings
from vidlab.video.summary import SummaryOptions, summarize

log = logging.getLogger(__name__)


def _settings(cls, cfg: DictConfig | None, key: str):
    values = OmegaConf.to_container(cfg, resolve=True) if cfg is not None else {}
    fields = set(cls.__dataclass_fields__)
    unknown = sorted(set(values) - fields)
    if unknown:
        raise UserError(f"{key}.{unknown[0]}: unknown option; expected one of {sorted(fields)}")
    return cls(**values)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, seconds (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(cfg: DictConfig) -> dict[str, Any]:
    """Summarise ``cfg.source`` into the run directory; returns the ``summary/*`` metrics."""
    source = Path(str(cfg.source))
    out = Path(cfg.paths.output_dir)
    sampler = _settings(SamplerSettings, cfg.get("sampler"), "sampler")
    shots = _settings(ShotSettings, cfg.get("shots"), "shots")
    options = _settings(SummaryOptions, cfg.get("summary"), "summary")
    embedder = build_embedder(cfg.get("embedder"), batch_size=options.embed_batch)
    from vidlab.data.io.stream import probe

    fps = probe(source).fps
    extra = [(round(a * fps), round(b * fps)) for a, b in (cfg.get("segments") or [])]
    start, cpu_start = time.perf_counter(), cpu_seconds()
    summary = summarize(
        source,
        out,
        embedder=embedder,
        sampler=sampler,
        shots=shots,
        options=options,
        extra_segments=extra,
    )
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    write_json(out / "summary.json", summary.as_json())
    duration = summary.num_frames / summary.fps
    metrics = {
        "summary/shots": len(summary.shots),
        "summary/keyframes": sum(len(s.keyframes) for s in summary.shots),
        "summary/frames_decoded": summary.sampler["frames_decoded"],
        "summary/frames_analysed": summary.sampler["frames_analysed"],
        "summary/uniform_stride_frames": summary.sampler["uniform_stride_frames"],
        "summary/wall_s": wall,
        "summary/realtime_factor": duration / wall if wall > 0 else float("inf"),
        "summary/cpu_s": cpu,
        "summary/realtime_factor_cpu": duration / cpu if cpu > 0 else float("inf"),
        "summary/peak_rss_mb": peak_rss_mb(),
    }
    metrics |= _score(source, summary)
    write_metrics(
        out / "metrics.json",
        task="summarize",
        metrics=metrics,
        details={"summary": "summary.json", "sampler": summary.sampler},
        provenance={
            "source": str(source),
            "embedder": summary.embedder,
            "sampler": OmegaConf.to_container(cfg.get("sampler"), resolve=True),
            "shots": OmegaConf.to_container(cfg.get("shots"), resolve=True),
            "versions": package_versions() | _scenedetect_version(),
            "git_commit": git_commit(),
        },
    )
    log.info(
        "%s: %d shots, %d of %d frames analysed, %.1fx real time, peak RSS %.0f MiB",
        source,
        metrics["summary/shots"],
        metrics["summary/frames_analysed"],
        metrics["summary/frames_decoded"],
        metrics["summary/realtime_factor"],
        metrics["summary/peak_rss_mb"],
    )
    return metrics


def _scenedetect_version() -> dict[str, str]:
    import scenedetect

    return {"scenedetect": scenedetect.__version__}


def _score(source: Path, summary) -> dict[str, float]:
    from vidlab.data.synthetic.shots import read_truth, truth_path

    if not truth_path(source).is_file():
        return {}
    from vidlab.evaluation.shots import score_boundaries

    truth = read_truth(source)
    predicted = [s.start for s in summary.shots[1:]]
    score = score_boundaries(predicted, truth.boundaries, tolerance=1)
    return {
        "test/shot_precision": score.precision,
        "test/shot_recall": score.recall,
        "test/shot_f1": score.f1,
    }
