"""`python evaluate.py task=localize source=<video or folder> classifier=<bundle> [gt=<json>]`, or
`python evaluate.py task=localize data=<synthetic_untrimmed|thumos14|activitynet> classifier=<bundle>`.

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

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from vidlab.errors import UserError
from vidlab.evaluation.localization import SegmentTable
from vidlab.evaluation.localization.io import read_ground_truth, read_results, write_results
from vidlab.export.bundle import CARD_NAME, require_single_input
from vidlab.export.runtime import load_bundle
from vidlab.localization.plots import save_timeline
from vidlab.localization.segments import SegmentOptions, to_results, window_segments
from vidlab.localization.windows import WindowSampling, stream_window_scores
from vidlab.tasks.localization_metrics import resolve_thresholds, score_tables
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


def videos_and_ground_truth(cfg: DictConfig) -> tuple[list[Path], SegmentTable | None, str]:
    """The videos to localize and the ground truth to score them against (or None).

    `source` (a file or folder) with optional `gt`; or, without `source`, a dataset that lists
    its videos and ground truth (``data=synthetic_untrimmed``: the `localize.split` videos;
    ``data=thumos14`` / ``data=activitynet``: the subset's videos found under ``data.root``).
    """
    if cfg.get("source"):
        gt = read_ground_truth(cfg.gt, cfg.get("subset")) if cfg.get("gt") else None
        return find_videos(cfg.source), gt, str(cfg.source)
    data = hydra.utils.instantiate(cfg.data)
    if not hasattr(data, "localization_videos"):
        raise UserError(
            "source=<video or folder> is required (or a localization dataset: data="
            "synthetic_untrimmed, thumos14 or activitynet)"
        )
    split = cfg.localize.get("split", "test")
    videos = data.localization_videos(split)
    if not videos:
        raise UserError(f"data={data.name}: no video file of the {split} videos was found")
    return videos, data.ground_truth(split), f"data={data.name} ({split})"


def run(cfg: DictConfig) -> dict[str, Any]:
    """Config keys: `source` / `gt` / `subset` (or a localization `data`), `classifier`,
    `tiou_thresholds`, `localize.*` (window_stride, batch_size, threads, timelines, split and
    the `SegmentOptions` under segments), `paths.output_dir`. Returns the metrics (mAP when there
    is ground truth, and counts and speed)."""
    if not cfg.get("classifier"):
        raise UserError("classifier=<bundle folder> is required (python export.py writes one)")
    opts = cfg.localize
    bundle = load_bundle(cfg.classifier, opts.get("threads"))
    card_path = Path(cfg.classifier) / CARD_NAME
    if bundle.family != "classifier":
        raise UserError(f"{card_path}: a {bundle.family} bundle; localize needs a classifier")
    require_single_input(bundle.card, card_path, "localize")
    class_names = list(bundle.card.get("class_names") or [])
    background = class_names.index(BACKGROUND) if BACKGROUND in class_names else None
    if background is None:
        log.warning("%s: no 'background' class; every class is scored as an action", card_path)
    sampling = sampling_from_card(bundle.card, opts.get("window_stride"))
    segment_cfg = OmegaConf.to_container(opts.segments, resolve=True)
    options = SegmentOptions(**segment_cfg | {"thresholds": tuple(segment_cfg["thresholds"])})
    videos, gt, source = videos_and_ground_truth(cfg)
    out = Path(cfg.paths.output_dir)
    results: dict[str, list[dict]] = {}
    frames, windows, windows_scored, started = 0, 0, 0, time.perf_counter()
    for path in tqdm(videos, desc="localize", disable=len(videos) < 3):
        scores = stream_window_scores(
            path, bundle.predict, sampling, int(opts.batch_size),
            motion_threshold=opts.get("motion_threshold"), probe_every=int(opts.get("probe_every", 8)),
        )  # fmt: skip
        frames += scores.frames
        windows += len(scores.starts)
        windows_scored += scores.scored
        segments = window_segments(
            scores.centers, scores.probabilities, scores.duration, options, background
        )
        results[path.stem] = to_results(segments, class_names)
        if opts.timelines:
            rows = [] if gt is None else np.flatnonzero(gt.videos == path.stem)
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
        "test/windows": windows,
        "test/windows_scored": windows_scored,
    }
    provenance = {"classifier": str(cfg.classifier), "source": source,
                  "localize": OmegaConf.to_container(opts, resolve=True), "speed": speed}  # fmt: skip
    if gt is None:
        write_metrics(out / "metrics.json", task="localize", metrics=speed, provenance=provenance)
        return speed
    # Scored against the ground truth of the localized videos only.
    keep = np.isin(gt.videos, list(results))
    if not keep.any():
        raise UserError(f"{source}: none of its {len(videos)} videos has ground truth in {cfg.gt}")
    metrics, _ = score_tables(
        gt.select(keep),
        read_results(results_path),
        resolve_thresholds(cfg.tiou_thresholds),
        out / "metrics.json",
        provenance=provenance,
        task="localize",
    )
    return metrics | speed
