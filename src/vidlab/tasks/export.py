"""`python export.py ckpt_path=<file.ckpt>`: ONNX of the bare network, parity-checked, with a card.

Writes ``<run dir>/model.onnx`` and ``<run dir>/model_card.json``. Parity is checked with ONNX
Runtime on real validation clips from the configured datamodule; if the largest absolute logit
difference exceeds ``export.atol`` the artifact is renamed ``model.onnx.rejected`` (so nothing
downstream mistakes it for a good model) and the command exits non-zero.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from vidlab.export import onnx as onnx_export
from vidlab.export.verify import ParityError, check_onnx_parity
from vidlab.tasks.common import classifier_from_checkpoint
from vidlab.utils.reporting import print_metrics
from vidlab.utils.runinfo import file_sha256, write_json

log = logging.getLogger(__name__)


def validation_clips(cfg: DictConfig, count: int) -> torch.Tensor:
    """Up to `count` real validation clips (N, C, T, H, W) from the configured datamodule."""
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("validate")
    clips = []
    for batch in datamodule.val_dataloader():
        # Datamodules may finish batches after the device transfer (uint8 -> normalised float).
        batch = datamodule.on_after_batch_transfer(batch, 0)
        clips.append(batch["video"])
        if sum(len(c) for c in clips) >= count:
            break
    return torch.cat(clips)[:count]


def model_card(meta: dict[str, Any], ckpt_path: Path, parity: dict[str, Any],
               artifact: Path) -> dict[str, Any]:
    spec = meta["input"]
    return {
        "format": "onnx",
        "file": artifact.name,
        "input": {
            "name": "video",
            "shape": ["batch", 3, spec["num_frames"], spec["crop_size"], spec["crop_size"]],
            "layout": "NCTHW",
            "dtype": "float32",
            "num_frames": spec["num_frames"],
            "frame_stride": spec["frame_stride"],
            "crop_size": spec["crop_size"],
            "mean": spec["mean"],
            "std": spec["std"],
            "value_range": "RGB in [0, 1] before normalisation",
        },
        "output": {"name": "logits", "shape": ["batch", len(meta["class_names"])]},
        "class_names": meta["class_names"],
        "source_checkpoint": {"path": str(ckpt_path), "sha256": file_sha256(ckpt_path)},
        "model": meta["config"]["model"]["net"],
        "parity": parity,
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    if not cfg.get("ckpt_path"):
        raise ValueError("export needs a checkpoint: python export.py ckpt_path=<file.ckpt>")
    ckpt_path = Path(cfg.ckpt_path)
    out_dir = Path(cfg.paths.output_dir)
    module, meta = classifier_from_checkpoint(ckpt_path)
    net = module.net.eval()
    clips = validation_clips(cfg, int(cfg.export.num_parity_clips))

    artifact = onnx_export.export_onnx(net, clips[:1], out_dir / "model.onnx",
                                       opset=int(cfg.export.opset))
    result = check_onnx_parity(artifact, net, clips, atol=float(cfg.export.atol))
    metrics = {"export/max_abs_diff": result.max_abs_diff,
               "export/top1_agreement": result.top1_agreement,
               "export/parity_clips": result.num_samples,
               "export/size_mb": artifact.stat().st_size / 2**20}
    print_metrics("ONNX export parity", metrics)
    if not result.ok:
        rejected = artifact.with_name(artifact.name + ".rejected")
        os.replace(artifact, rejected)
        write_json(out_dir / "metrics.json", {"task": "export", "metrics": metrics, "ok": False})
        raise ParityError(
            f"ONNX parity failed: max |logit difference| {result.max_abs_diff:.3g} > atol "
            f"{result.atol:.3g} on {result.num_samples} validation clips; artifact moved to {rejected}"
        )
    write_json(out_dir / "model_card.json", model_card(meta, ckpt_path, result.as_dict(), artifact))
    write_json(out_dir / "metrics.json", {"task": "export", "metrics": metrics, "ok": True,
                                           "artifact": str(artifact)})
    log.info("Exported %s (parity ok: max abs diff %.2e)", artifact, result.max_abs_diff)
    return metrics
