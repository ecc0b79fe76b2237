"""`python train.py`: fit a model, then validate and test its best checkpoint.

The run directory (``cfg.paths.output_dir``) receives the resolved config (``.hydra/``), the
checkpoints (``checkpoints/best.ckpt``, ``checkpoints/last.ckpt``), the loggers' files, the test
confusion matrix (CSV and PNG) and ``metrics.json`` (`vidlab.utils.runinfo.write_metrics`): the final
``split/name`` metrics, ``details`` (best checkpoint, epochs, global step, wall time, artifact paths)
and ``provenance`` (seed, data report, package versions, git commit).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from vidlab.tasks.common import (
    build_classifier,
    checkpoint_meta,
    instantiate_group,
    run_metadata,
    scalar_metrics,
    write_test_artifacts,
)
from vidlab.utils.reporting import print_metrics
from vidlab.utils.runinfo import write_metrics

log = logging.getLogger(__name__)


def _best_checkpoint(trainer: pl.Trainer) -> str | None:
    callback = trainer.checkpoint_callback
    if isinstance(callback, ModelCheckpoint) and callback.best_model_path:
        return callback.best_model_path
    return None


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train according to `cfg`; returns the final metrics (also written to metrics.json)."""
    started = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    out_dir = Path(cfg.paths.output_dir)

    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    module = build_classifier(cfg)
    module.checkpoint_meta = checkpoint_meta(cfg, datamodule)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = instantiate_group(cfg.get("logger"))
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    if cfg.get("train", True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics: dict[str, Any] = {}
    artifacts = None
    best = _best_checkpoint(trainer)
    if cfg.get("validate", True):
        metrics.update(scalar_metrics(trainer.validate(module, datamodule=datamodule, ckpt_path=best,
                                                       verbose=False)[0]))
    if cfg.get("test", True):
        metrics.update(scalar_metrics(trainer.test(module, datamodule=datamodule, ckpt_path=best,
                                                   verbose=False)[0]))
        if getattr(module, "test_report", None) is not None:
            artifacts = write_test_artifacts(module.test_report, datamodule.class_names, out_dir)
    metrics = {k: v for k, v in metrics.items() if v is not None}
    details = {
        "best_checkpoint": best,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "wall_time_s": round(time.perf_counter() - started, 2),
        "artifacts": artifacts,
    }
    if trainer.is_global_zero:
        write_metrics(out_dir / "metrics.json", task="train", metrics=metrics, details=details,
                      provenance=run_metadata(cfg, datamodule))
        print_metrics("Results", metrics)
        log.info("Run directory: %s", out_dir)
    return metrics
