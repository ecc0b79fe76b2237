"""``python evaluate.py task=reid ckpt_path=<file.ckpt>``: retrieval metrics of a Re-ID checkpoint.

The network is rebuilt from the checkpoint alone. The query/gallery data come from the data config
stored in the checkpoint (``reid.data_source=checkpoint``, the default: evaluate on what it was
trained for) or from the command's ``data`` group (``reid.data_source=config``, e.g. cross-domain
``data=market1501``). Options: ``reid.flip`` (flip-averaged embeddings), ``reid.rerank``
(k-reciprocal re-ranking with ``reid.k1``, ``reid.k2``, ``reid.lambda_value``). Writes
``metrics.json`` (`vidlab.utils.runinfo.write_metrics`: ``metrics`` rank-1/5/10, mAP, mINP;
``details`` the options and query/gallery sizes; ``provenance`` the seed, data report, versions,
commit and the checkpoint's path and SHA-256) into the run directory and prints a table.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
from omegaconf import DictConfig, OmegaConf

from vidlab.tasks.common import run_metadata, scalar_metrics
from vidlab.tasks.reid import ReIDModule, reid_from_checkpoint
from vidlab.utils.reporting import print_metrics
from vidlab.utils.runinfo import file_sha256, write_metrics

log = logging.getLogger(__name__)

DATA_SOURCES = ("checkpoint", "config")


def reid_data_config(cfg: DictConfig, meta: dict[str, Any], source: str) -> DictConfig:
    """The data config to evaluate on: the checkpoint's own, or the command's ``data``."""
    if source not in DATA_SOURCES:
        raise ValueError(f"reid.data_source={source!r}; expected one of {DATA_SOURCES}")
    if source == "config":
        return cfg.data
    return OmegaConf.create(meta["config"]["data"])


def check_input_matches(datamodule: Any, meta: dict[str, Any], ckpt_path: Path) -> None:
    """Raise if the datamodule feeds another image size than the checkpoint was trained on."""
    spec = datamodule.input_spec()
    want = [int(v) for v in meta["input"]["image_size"]]
    got = [int(v) for v in spec["image_size"]]
    if got != want:
        raise ValueError(
            f"checkpoint {ckpt_path} was trained on {want} (H, W) images but the "
            f"data config gives {got}; set the data's image size to {want}"
        )


def apply_options(module: ReIDModule, options: DictConfig | dict) -> dict[str, Any]:
    """Set the flip / re-ranking options on the module; returns them as plain values."""
    chosen = {
        "flip": bool(options.get("flip", False)),
        "rerank": bool(options.get("rerank", False)),
        "k1": int(options.get("k1", 20)),
        "k2": int(options.get("k2", 6)),
        "lambda_value": float(options.get("lambda_value", 0.3)),
    }
    module.flip_test, module.rerank = chosen["flip"], chosen["rerank"]
    module.rerank_params = {k: chosen[k] for k in ("k1", "k2", "lambda_value")}
    return chosen


def run(cfg: DictConfig) -> dict[str, Any]:
    if not cfg.get("ckpt_path"):
        raise ValueError(
            "evaluate needs a checkpoint: python evaluate.py task=reid ckpt_path=<file>"
        )
    pl.seed_everything(cfg.seed, workers=True)
    ckpt_path, out_dir = Path(cfg.ckpt_path), Path(cfg.paths.output_dir)
    module, meta = reid_from_checkpoint(ckpt_path)
    options = cfg.get("reid") or {}
    chosen = apply_options(module, options)
    data_cfg = reid_data_config(cfg, meta, str(options.get("data_source", "checkpoint")))
    datamodule = hydra.utils.instantiate(data_cfg)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[])
    results = trainer.test(module, datamodule=datamodule, verbose=False)
    check_input_matches(datamodule, meta, ckpt_path)
    metrics = scalar_metrics({k: v for per_loader in results for k, v in per_loader.items()})
    details = {
        "options": chosen,
        "query_size": getattr(datamodule, "query_size", None),
        "gallery_size": getattr(datamodule, "gallery_size", None),
    }
    if trainer.is_global_zero:
        provenance = run_metadata(cfg, datamodule) | {
            "checkpoint": {"path": str(ckpt_path), "sha256": file_sha256(ckpt_path)}
        }
        write_metrics(
            out_dir / "metrics.json",
            task="evaluate_reid",
            metrics=metrics,
            details=details,
            provenance=provenance,
        )
        print_metrics("Re-ID retrieval", metrics)
        log.info("Run directory: %s", out_dir)
    return metrics
