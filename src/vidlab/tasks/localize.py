"""`python evaluate.py task=localize source=<video or folder> classifier=<bundle> [gt=<json>]`.

Temporal action localization with a window classifier bundle (``python export.py`` of a
classifier trained with a background class, e.g. ``experiment=synthetic_localization``): every
video of `source` is decoded frame by frame and its dense sliding windows are scored in batches
(`vidlab.localization.windows`, bounded memory), the per-window probabilities are smoothed and
turned into segments (`vidlab.localization.segments`: thresholds with gap merging, then NMS or
soft-NMS). Writes to the run directory:

- ``results.json``: ``{"results": {video id: [{"label", "score", "segment": [t0, t1]}]}}``
  (ActivityNet results format; the video id is the file name without its suffix);
- ``timelines/<video id>.png``: probabilities, predicted and (with `gt`) true segments;
- with `gt`: ``metrics.json`` as ``task=localization_metrics`` writes it (mAP per threshold,
  average mAP, per-class AP), scored over the videos of `source` only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from vidlab.errors import UserError
from vidlab.evaluation.localization.io import (
    read_ground_truth,
    write_activitynet_ground_truth,
    write_results,
)
from vidlab.export.bundle import CARD_NAME
from vidlab.export.runtime import load_bundle
from vidlab.localization.plots import save_timeline
from vidlab.localization.segments import SegmentOptions, to_results, window_segments
from vidlab.localization.windows import WindowSampling, stream_window_scores
from vidlab.tasks.localization_metrics import resolve_thresholds, score
from vidlab.utils.runinfo import write_metrics

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov")
BACKGROUND = "background"


def find_videos(source: str | Path) -> list[Path]:
    """`source` itself, or the video files of a folder (sorted)."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no such video file or folder")
    videos = sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise UserError(f"{source}: no video file ({', '.join(VIDEO_SUFFIXES)}) in the folder")
    return videos


def sampling_from_card(card: dict[str, Any], window_stride: int | None) -> WindowSampling:
    spec, sampling = card["input"], card["sampling"]
    return WindowSampling(
        num_frames=int(sampling["num_frames"]),
        frame_stride=int(sampling["frame_stride"]),
        window_stride=int(window_stride or sampling["window_stride"]),
        crop_size=int(spec["crop_size"]),
        short_side=int(spec["short_side"]),
        mean=tuple(spec["mean"]),
        std=tuple(spec["std"]),
    )


def run(cfg: DictConfig) -> dict[str, Any]:
    """Config keys: `source`, `classifier`, `gt`, `subset`, `tiou_thresholds`, `localize.*`
    (window_stride, batch_size, threads, timelines and the `SegmentOptions`),
    `paths.output_dir`. Returns the metrics (mAP with `gt`, else counts and speed)."""
    if not cfg.get("classifier"):
        raise UserError("classifier=<bundle folder> is required (python export.py writes one)")
    opts = cfg.localize
    bundle = load_bundle(cfg.classifier, opts.get("threads"))
    card_path = Path(cfg.classifier) / CARD_NAME
    if bundle.family != "classifier":
        raise UserError(f"{card_path}: a {bundle.family} bundle; localize needs a classifier")
    class_names = list(bundle.card.get("class_names") or [])
    background = class_names.index(BACKGROUND) if BACKGROUND in class_names else None
    if background is None:
        log.warning("%s: no 'background' class; every class is scored as an action", card_path)
    sampling = sampling_from_card(bundle.card, opts.get("window_stride"))
    options = SegmentOptions(
        **{k: v for k, v in OmegaConf.to_container(opts.segments, resolve=True).items()}
        | {"thresholds": tuple(opts.segments.thresholds)}
    )
    videos = find_videos(cfg.source)
    gt = read_ground_truth(cfg.gt, cfg.get("subset")) if cfg.get("gt") else None
    out = Path(cfg.paths.output_dir)
    results: dict[str, list[dict]] = {}
    frames, started = 0, time.perf_counter()
    for path in tqdm(videos, desc="localize", disable=len(videos) < 3):
        scores = stream_window_scores(path, bundle.predict, sampling, int(opts.batch_size))
        frames += scores.frames
        segments = window_segments(
            scores.centers, scores.probabilities, scores.duration, options, background
        )
        results[path.stem] = to_results(segments, class_names)
        if opts.timelines:
            truth = []
            if gt is not None:
                rows = np.flatnonzero(gt.videos == path.stem)
                truth = [(*gt.segments[i], gt.labels[i]) for i in rows]
            save_timeline(
                out / "timelines" / f"{path.stem}.png", scores.centers, scores.probabilities,
                segments, class_names, scores.duration, truth, title=path.name,
            )  # fmt: skip
    elapsed = time.perf_counter() - started
    results_path = write_results(out / "results.json", results)
    log.info("wrote %s (%d videos, %d frames, %.1f frames/s)", results_path, len(videos), frames,
             frames / max(elapsed, 1e-9))  # fmt: skip
    speed = {
        "test/videos": len(videos),
        "test/frames": frames,
        "test/frames_per_s": frames / max(elapsed, 1e-9),
        "test/segments": sum(len(v) for v in results.values()),
    }
    provenance = {"classifier": str(cfg.classifier), "source": str(cfg.source),
                  "segments": OmegaConf.to_container(opts, resolve=True)}  # fmt: skip
    if gt is None:
        write_metrics(out / "metrics.json", task="localize", metrics=speed, provenance=provenance)
        return speed
    # Score against the ground truth of the localized videos only.
    keep = np.isin(gt.videos, list(results))
    if not keep.any():
        raise UserError(f"{cfg.gt}: none of the {len(videos)} videos of {cfg.source} is in it")
    subset_gt = out / "ground_truth.json"
    write_activitynet_ground_truth(
        subset_gt,
        {
            v: {"subset": "localized", "annotations": [
                {"segment": list(gt.segments[i]), "label": gt.labels[i]}
                for i in np.flatnonzero(keep & (gt.videos == v))
            ]}
            for v in dict.fromkeys(gt.videos[keep].tolist())
        },
    )  # fmt: skip
    metrics, _ = score(
        subset_gt if not gt.ambiguous else cfg.gt,
        results_path,
        resolve_thresholds(cfg.tiou_thresholds),
        None if not gt.ambiguous else cfg.get("subset"),
        out / "metrics.json",
        provenance=provenance | {"speed": speed},
        task="localize",
    )
    return metrics | speed
