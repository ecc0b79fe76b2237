"""`python train.py`: fit a model, then validate and test its best checkpoint.

The run directory (``cfg.paths.output_dir``) receives the resolved config (``.hydra/``), the
checkpoints (``checkpoints/best.ckpt``, ``checkpoints/last.ckpt``), the loggers' files, the test
confusion matrix (CSV and PNG) and ``metrics.json`` (`vidlab.utils.runinfo.write_metrics`): the final
``split/name`` metrics, ``details`` (best checkpoint, epochs, global step, wall time, artifact paths,
resumes) and ``provenance`` (seed, data report, package versions, git commit).

Resuming (``ckpt_path=<run>/checkpoints/last.ckpt``) continues the run where the checkpoint was
saved, mid-epoch included: on the CPU the resumed run ends with the same weights as an uninterrupted
one (the checkpoint holds the random generators' states, `ResumeState`, and the training loader's
position, `vidlab.data.resumable`). A checkpoint that still lies in the run directory that wrote it
resumes in that directory: best-checkpoint tracking carries on, the CSV log keeps the history up to
the checkpoint's step, and ``metrics.json`` records the resumes (``resumed_from``,
``resume_count``, ``resume_history``); this invocation's own Hydra directory keeps only its config
and log. Any other checkpoint resumes in the new run directory, and best-checkpoint tracking starts
afresh.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from vidlab.checkpoint import META_KEY, check_family, load_checkpoint
from vidlab.errors import UserError
from vidlab.tasks.callbacks import ResumeState
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


def _checkpoint_run_dir(ckpt_path: Path) -> tuple[Path | None, int]:
    """(run directory the checkpoint still lies in, or None; the checkpoint's global step).

    A checkpoint lies in its run directory when it is ``<run>/checkpoints/<file>`` and either the
    config it stores names ``<run>`` as ``paths.output_dir`` or ``<run>/.hydra/config.yaml`` exists
    (a run directory moved as a whole).
    """
    ckpt = load_checkpoint(ckpt_path)  # one-line errors for files that are not checkpoints
    step = int(ckpt.get("global_step", 0))
    folder = ckpt_path.resolve().parent
    if folder.name != "checkpoints":
        return None, step
    run_dir = folder.parent
    stored = ckpt.get(META_KEY, {}).get("config", {}).get("paths", {}).get("output_dir")
    same = stored is not None and Path(stored).resolve() == run_dir
    return (run_dir if same or (run_dir / ".hydra" / "config.yaml").is_file() else None), step


def _resume_dir(cfg: DictConfig, out_dir: Path) -> tuple[Path, int | None]:
    """The run directory to write to, and the resumed checkpoint's global step (None: no resume).

    Points ``cfg.paths.output_dir`` (and so every path derived from it) at the checkpoint's run
    directory when the fit resumes from a checkpoint that lies in one.
    """
    ckpt_path = cfg.get("ckpt_path")
    if not ckpt_path or not cfg.get("train", True):
        return out_dir, None
    run_dir, step = _checkpoint_run_dir(Path(ckpt_path))
    if run_dir is None:
        log.warning(
            "ckpt_path %s does not lie in the run directory that wrote it (<run>/checkpoints/"
            "): the resumed run writes to the new directory %s, and best-checkpoint "
            "tracking starts afresh",
            ckpt_path,
            out_dir,
        )
        return out_dir, step
    if run_dir != out_dir.resolve():
        log.info(
            "resuming %s: the run continues in its directory %s (this invocation's config and "
            "log stay in %s)",
            ckpt_path,
            run_dir,
            out_dir,
        )
        cfg.paths.output_dir = str(run_dir)
    return run_dir, step


def _keep_csv_history(loggers: list[Logger], global_step: int) -> None:
    """Keep the rows a resumed run's CSV log had up to the checkpoint (``step < global_step``).

    Lightning's CSV writer deletes an existing metrics.csv; the rows the interrupted run logged
    after its checkpoint are redone by the resumed run, the earlier ones are written back.
    """
    for logger in loggers:
        if not isinstance(logger, CSVLogger):
            continue
        path = Path(logger.log_dir) / "metrics.csv"
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            rows = [r for r in reader if not r.get("step") or int(float(r["step"])) < global_step]
        writer = logger.experiment  # creating it deletes metrics.csv
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.DictWriter(f, fieldnames=header)
            out.writeheader()
            out.writerows(rows)
        writer.metrics_keys = header  # later saves append (and widen the header) instead
        log.info("%s: kept %d rows logged before step %d", path, len(rows), global_step)


def _resume_report(callbacks: list[pl.Callback]) -> dict[str, Any]:
    resumes = next((c.resumes for c in callbacks if isinstance(c, ResumeState)), [])
    return {
        "resumed_from": resumes[-1] if resumes else None,
        "resume_count": len(resumes),
        "resume_history": resumes,
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train according to `cfg`; returns the final metrics (also written to metrics.json)."""
    started = time.perf_counter()
    pl.seed_everything(cfg.seed, workers=True)
    invocation_dir = Path(cfg.paths.output_dir)
    out_dir, resume_step = _resume_dir(cfg, invocation_dir)

    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    module = build_classifier(cfg)
    module.checkpoint_meta = checkpoint_meta(cfg, datamodule)
    if resume_step is not None and hasattr(module, "family"):
        # A checkpoint of another family (a Re-ID model given to resume a classifier) would
        # otherwise end in a state-dict dump from Lightning.
        check_family(load_checkpoint(cfg.ckpt_path)[META_KEY], module.family, cfg.ckpt_path)
    callbacks = instantiate_group(cfg.get("callbacks"))
    if not any(isinstance(c, ResumeState) for c in callbacks):
        callbacks.append(ResumeState({"invocation_dir": str(invocation_dir)}))
    loggers = instantiate_group(cfg.get("logger"))
    if resume_step is not None and rank_zero_only.rank == 0:
        _keep_csv_history(loggers, resume_step)
    trainer: pl.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False
    )

    if cfg.get("train", True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        best = _best_checkpoint(trainer)
    else:  # evaluate the given checkpoint's weights, never the freshly built module's
        best = cfg.get("ckpt_path")
        if not best:
            raise UserError(
                "train=false validates and tests a trained model: give ckpt_path=<.ckpt>, "
                "expected a checkpoint that train.py wrote"
            )
        best = str(best)
    metrics: dict[str, Any] = {}
    artifacts = None
    if cfg.get("validate", True):
        metrics.update(
            scalar_metrics(
                trainer.validate(module, datamodule=datamodule, ckpt_path=best, verbose=False)[0]
            )
        )
    if cfg.get("test", True):
        metrics.update(
            scalar_metrics(
                trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False)[0]
            )
        )
        if getattr(module, "test_report", None) is not None:
            artifacts = write_test_artifacts(module.test_report, datamodule.class_names, out_dir)
    metrics = {k: v for k, v in metrics.items() if v is not None}
    details = {
        "best_checkpoint": best,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "wall_time_s": round(time.perf_counter() - started, 2),
        "artifacts": artifacts,
        **_resume_report(callbacks),
    }
    if trainer.is_global_zero:
        write_metrics(
            out_dir / "metrics.json",
            task="train",
            metrics=metrics,
            details=details,
            provenance=run_metadata(cfg, datamodule),
        )
        print_metrics("Results", metrics)
        log.info("Run directory: %s", out_dir)
    return metrics
