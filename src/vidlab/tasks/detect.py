"""``python evaluate.py task=detect detector=<bundle> [data.root=<MOTChallenge folder>]``.

Runs a detector (a vidlab detector bundle folder, or an ultralytics ``.onnx`` file:
`vidlab.detection.load_detector`) over the frames of every sequence folder of ``data`` and writes
``detections/<sequence>.txt`` in the det.txt format into the run directory, which ``task=track
detections=<run dir>/detections`` tracks. With ``data.root: null`` (the default
``data=synthetic_mot``) the synthetic sequences are rendered once and detected. ``detect.*`` holds
the detector options (score threshold, batch size, threads). ``metrics.json`` records the frame
rate of the detector (``test/detect_fps``: frames per second of detector time, reading excluded),
the number of boxes, and where the detections went.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from vidlab.data.mot import MOTSequences
from vidlab.errors import UserError
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

if TYPE_CHECKING:  # vidlab.detection imports torch: only when a detector is asked for
    from vidlab.detection import FrameDetector

log = logging.getLogger(__name__)

DETECTIONS_DIR = "detections"


def build_detector(cfg: DictConfig) -> FrameDetector | None:
    """The detector named by ``detector`` with the ``detect.*`` options (None when unset)."""
    path = cfg.get("detector")
    if not path:
        return None
    from vidlab.detection import load_detector

    options = OmegaConf.to_container(cfg.get("detect") or {}, resolve=True)
    return load_detector(
        Path(path),
        score_thresh=options.get("score_thresh"),
        batch_size=int(options.get("batch_size") or 8),
        threads=options.get("threads"),
    )


def sequence_folders(root: Path, names: list[str] | None) -> list[Path]:
    """Sequence folders of `root` (with a seqinfo.ini or an img1/ folder), all or `names`."""
    found = {
        p.name: p
        for p in sorted(root.iterdir())
        if p.is_dir() and ((p / "seqinfo.ini").is_file() or (p / "img1").is_dir())
    }
    if not found:
        raise UserError(f"{root}: no sequence folders (with img1/ or seqinfo.ini)")
    missing = [n for n in names or [] if n not in found]
    if missing:
        raise UserError(f"sequences {missing} not found under {root}; available: {sorted(found)}")
    return [found[n] for n in names] if names else list(found.values())


def detection_metrics(split: str, totals: dict[str, float]) -> dict[str, float]:
    """``<split>/detect_fps`` and ``<split>/detect_boxes_per_frame`` of `detect_folder` totals."""
    return {
        f"{split}/detect_fps": totals["frames"] / max(totals["seconds"], 1e-9),
        f"{split}/detect_boxes_per_frame": totals["boxes"] / max(totals["frames"], 1.0),
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    detector = build_detector(cfg)
    if detector is None:
        raise UserError("task=detect needs a detector: detector=<bundle folder or .onnx file>")
    data: MOTSequences = instantiate(cfg.data)
    root = data.resolve_root()
    out = Path(cfg.paths.output_dir) / DETECTIONS_DIR
    names = [*(data.sequences or []), *(data.val_sequences or [])] or None
    from vidlab.detection import detect_folder

    totals = detect_folder(detector, sequence_folders(root, names), out)
    metrics = detection_metrics("test", totals)
    write_metrics(
        Path(cfg.paths.output_dir) / "metrics.json",
        task="detect",
        metrics=metrics,
        details={"detections_dir": str(out), **totals},
        provenance={
            "data": data.describe() | {"root": str(root)},
            "detector": str(cfg.detector),
            "detect": OmegaConf.to_container(cfg.detect, resolve=True),
            "versions": package_versions(),
            "git_commit": git_commit(),
        },
    )
    log.info("Detections of %d frames in %s", int(totals["frames"]), out)
    return metrics
