"""`python evaluate.py ckpt_path=<file.ckpt>`: test-set metrics of a trained classifier.

The network is rebuilt from the checkpoint itself (it stores its resolved config), the data comes
from the command's `data` config. Writes ``metrics.json`` (`vidlab.utils.runinfo.write_metrics`:
``metrics`` test/top1, test/top5, test/mean_class_accuracy, ...; ``details`` the view count, crop
size, effective dataset size, per-class accuracy and artifact paths; ``provenance`` the seed, data
report, versions, commit and the checkpoint's path and SHA-256) and the confusion matrix as CSV and
PNG into the run directory, and prints a results table.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
from omegaconf import DictConfig

from vidlab.tasks.common import (
    classifier_from_checkpoint,
    run_metadata,
    scalar_metrics,
    write_test_artifacts,
)
from vidlab.utils.reporting import print_metrics
from vidlab.utils.runinfo import file_sha256, write_metrics

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict[str, Any]:
    if not cfg.get("ckpt_path"):
        raise ValueError("evaluate needs a checkpoint: python evaluate.py ckpt_path=<file.ckpt>")
    pl.seed_everything(cfg.seed, workers=True)
    ckpt_path = Path(cfg.ckpt_path)
    out_dir = Path(cfg.paths.output_dir)
    module, meta = classifier_from_checkpoint(ckpt_path)
    datamodule = hydra.utils.instantiate(cfg.data)
    if datamodule.num_classes != module.num_classes:
        raise ValueError(
            f"checkpoint {ckpt_path} predicts {module.num_classes} classes but data "
            f"{cfg.data._target_} has {datamodule.num_classes}"
        )
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[])
    metrics = scalar_metrics(trainer.test(module, datamodule=datamodule, verbose=False)[0])
    report = module.test_report
    views = cfg.data.get("test_views", {"temporal": 1, "spatial": 1})
    details = {
        "views": {
            "temporal": int(views["temporal"]),
            "spatial": int(views["spatial"]),
            "total": int(views["temporal"]) * int(views["spatial"]),
        },
        "crop_size": int(cfg.data.crop_size),
        "num_videos": report.num_videos if report else None,
    }
    if trainer.is_global_zero and report is not None:
        details["artifacts"] = write_test_artifacts(report, datamodule.class_names, out_dir)
        details["per_class_accuracy"] = dict(
            zip(datamodule.class_names, report.per_class_accuracy.tolist(), strict=True)
        )
        provenance = run_metadata(cfg, datamodule) | {
            "checkpoint": {"path": str(ckpt_path), "sha256": file_sha256(ckpt_path)}
        }
        write_metrics(
            out_dir / "metrics.json",
            task="evaluate",
            metrics=metrics,
            details=details,
            provenance=provenance,
        )
        print_metrics("Test results", metrics)
        log.info("Run directory: %s", out_dir)
    return metrics
