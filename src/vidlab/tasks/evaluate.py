"""`python evaluate.py ckpt_path=<file.ckpt>`: test-set metrics of a trained classifier.

The network is rebuilt from the checkpoint itself (it stores its resolved config), the data comes
from the command's `data` config. Writes ``metrics.json`` (top-1, top-5, mean class accuracy, the
view count, crop size, effective dataset size and the checkpoint's SHA-256) and the confusion
matrix as CSV and PNG into the run directory, and prints a results table.
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
from vidlab.utils.runinfo import file_sha256, write_json

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
    payload = {
        "task": "evaluate",
        "metrics": metrics,
        "checkpoint": {"path": str(ckpt_path), "sha256": file_sha256(ckpt_path)},
        "views": {"temporal": int(views["temporal"]), "spatial": int(views["spatial"]),
                  "total": int(views["temporal"]) * int(views["spatial"])},
        "crop_size": int(cfg.data.crop_size),
        "num_videos": report.num_videos if report else None,
        **run_metadata(cfg, datamodule),
    }
    if trainer.is_global_zero and report is not None:
        payload["artifacts"] = write_test_artifacts(report, datamodule.class_names, out_dir)
        payload["per_class_accuracy"] = dict(zip(datamodule.class_names,
                                                 report.per_class_accuracy.tolist(), strict=True))
        write_json(out_dir / "metrics.json", payload)
        print_metrics("Test results", metrics)
        log.info("Run directory: %s", out_dir)
    return metrics
