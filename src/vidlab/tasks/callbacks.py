"""Training callbacks that are not about compression (those live in vidlab.compression)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

log = logging.getLogger(__name__)


class IntervalCheckpoint(pl.Callback):
    """Keep ``<dirpath>/last.ckpt`` fresh: every `every_n_steps` optimizer steps, after every
    validation and at the end of training, so a run killed mid-epoch resumes from where it was
    (``ckpt_path=<dirpath>/last.ckpt``) rather than from the last epoch boundary.

    The file is written to a temporary name and renamed, so a crash during the write leaves the
    previous checkpoint intact.

    Args:
        dirpath: folder of the checkpoint (the run's checkpoints folder).
        every_n_steps: interval in optimizer steps; 0 disables the step-interval saves.
        filename: checkpoint file name.
    """

    def __init__(self, dirpath: str | Path, every_n_steps: int = 100, filename: str = "last.ckpt"):
        super().__init__()
        self.path = Path(dirpath) / filename
        self.every_n_steps = every_n_steps
        self._last_saved_step = -1

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking or trainer.global_step == self._last_saved_step:
            return
        if trainer.fast_dev_run:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        trainer.save_checkpoint(tmp)  # collective: every rank calls it, rank zero writes
        if trainer.is_global_zero:
            os.replace(tmp, self.path)
        trainer.strategy.barrier("interval_checkpoint")
        self._last_saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.every_n_steps > 0 and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)
