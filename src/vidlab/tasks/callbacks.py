"""Training callbacks that are not about compression (those live in vidlab.compression)."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities import CombinedLoader
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import nn

from vidlab.data.resumable import ResumableDataLoader

log = logging.getLogger(__name__)


class IntervalCheckpoint(Checkpoint):
    """Keep ``<dirpath>/last.ckpt`` fresh: every `every_n_steps` optimizer steps, after every
    validation and at the end of training, so a run killed mid-epoch resumes from where it was
    (``ckpt_path=<dirpath>/last.ckpt``) rather than from the last epoch boundary: the train task
    resumes it exactly (`ResumeState`, `vidlab.data.resumable`).

    A step-interval save that falls on a batch right before a validation is left to the save after
    that validation: Lightning skips the validation of a run resumed from a checkpoint written
    between the batch and the validation, so best-checkpoint selection would miss it. The saves
    after a validation and at the end of an epoch come after every `ModelCheckpoint` has handled
    them (a `Checkpoint`, which Lightning calls with the monitoring callbacks, and moved to the end
    of the trainer's callbacks), so the checkpoint knows the best checkpoint so far.

    The file is written to a temporary name and renamed, so a crash during the write leaves the
    previous checkpoint intact. The loggers are flushed with every save, so the history a resumed
    run keeps (see `vidlab.tasks.train`) reaches the checkpoint.

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

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if (
            trainer.callbacks[-1] is not self
        ):  # run after ModelCheckpoint (Lightning puts those last)
            # A new list: Lightning is iterating over the current one to call this hook.
            trainer.callbacks = [c for c in trainer.callbacks if c is not self] + [self]

    def _save(self, trainer: pl.Trainer, again: bool = False) -> None:
        if trainer.sanity_checking or (trainer.global_step == self._last_saved_step and not again):
            return
        if trainer.fast_dev_run:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        # Full state (optimizer, loops) for resuming; collective: every rank calls it, rank zero writes.
        trainer.save_checkpoint(tmp, weights_only=False)
        # Logs first, then the rename: the logs on disk always reach at least as far as the
        # checkpoint (a resumed run drops the rows logged after it, see vidlab.tasks.train).
        for logger in trainer.loggers:
            logger.save()
        if trainer.is_global_zero:
            os.replace(tmp, self.path)
        trainer.strategy.barrier("interval_checkpoint")
        self._last_saved_step = trainer.global_step

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if (
            self.every_n_steps > 0
            and trainer.global_step % self.every_n_steps == 0
            and not _validation_follows(trainer, pl_module, batch_idx)
        ):
            self._save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Again after the validation's save: ModelCheckpoint records a validation at the end of the
        # epoch in this hook, and the checkpoint must know the best so far.
        self._save(trainer, again=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)


def capture_rng_state() -> dict[str, Any]:
    """The global random generators' states (Python `random`, NumPy, torch CPU and, once CUDA is in
    use, every CUDA device), as tensors, numbers and lists: ``torch.load(weights_only=True)`` reads
    them back."""
    version, internal, gauss = random.getstate()
    # The legacy global generator is what code calling np.random.* draws from.
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss": gauss},
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back the generator states `capture_rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    legacy = (npy["name"], keys, npy["pos"], npy["has_gauss"], npy["cached_gaussian"])
    np.random.set_state(legacy)  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is None:
        return
    if torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    else:
        log.warning(
            "the checkpoint holds the random states of %d CUDA devices, this process sees "
            "%d: CUDA random draws will not replay the saved run",
            len(cuda),
            torch.cuda.device_count() if torch.cuda.is_available() else 0,
        )


class ResumeState(pl.Callback):
    """Makes a fit resumed from a full checkpoint continue exactly as the saved run would have.

    Every full checkpoint carries, in this callback's state, the global random generators' states at
    the moment of the save (`capture_rng_state`) and the run's resume history. A fit resumed from
    such a checkpoint puts the states back when training starts (after the model, the data and the
    loops are set up, which draw differently in a fresh process), so dropout, global-RNG augmentations
    and anything else drawing from them continue the saved run's sequence.

    The data order is a function of (seed, epoch), and the position in the epoch is the state of the
    training loaders (`vidlab.data.resumable`), which Lightning saves with the fit loop. Lightning
    only loads it back when it sets up the training data after restoring the checkpoint, which it
    does not when the data were set up earlier (a learning-rate schedule that asks for
    ``trainer.estimated_stepping_batches``, as vidlab's do, sets them up before the restore). So this
    callback loads the saved loader states itself when training starts, before the first batch is
    drawn. It also sets the training loaders' epoch (``set_epoch``) when training starts and at
    every epoch start, since Lightning does not reach a custom batch sampler's (the Re-ID P x K one).
    With both, a run resumed on the CPU ends with the same weights, bit for bit, as an uninterrupted
    one.

    `resumes` lists the resumes of the run, oldest first: ``{"checkpoint", "global_step", "epoch"}``
    plus `record` (e.g. the directory of the invocation that resumed). The train task adds this
    callback to every fit.

    Args:
        record: extra entries for this process's resume record.
    """

    def __init__(self, record: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.record = dict(record or {})
        self.resumes: list[dict[str, Any]] = []
        self._loaded: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": capture_rng_state(), "resumes": [dict(r) for r in self.resumes]}

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.state.fn != "fit":
            return  # evaluating a checkpoint: nothing to resume
        self._loaded = dict(checkpoint.get("callbacks", {}).get(self.state_key, {}))
        fit_loop = checkpoint.get("loops", {}).get("fit_loop", {}).get("state_dict", {})
        self._loaded["loaders"] = list(fit_loop.get("combined_loader", []))
        if "rng" not in self._loaded:
            log.warning(
                "%s holds no random generator states (weights only, or written before "
                "vidlab saved them): the resumed run will not replay the saved one exactly",
                trainer.ckpt_path,
            )

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._set_loader_epochs(trainer)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._set_loader_epochs(trainer)  # no epoch start hook when resuming mid-epoch
        if self._loaded is None:
            return
        state, self._loaded = self._loaded, None
        self._load_loader_states(trainer, state["loaders"])
        if "rng" in state:
            restore_rng_state(state["rng"])
        self.resumes = [
            *state.get("resumes", []),
            {
                "checkpoint": str(trainer.ckpt_path),
                "global_step": int(trainer.global_step),
                "epoch": int(trainer.current_epoch),
                **self.record,
            },
        ]
        log.info(
            "resumed from %s at global step %d (epoch %d)",
            trainer.ckpt_path,
            trainer.global_step,
            trainer.current_epoch,
        )

    @staticmethod
    def _train_loaders(trainer: pl.Trainer) -> list[Any]:
        iterables = trainer.train_dataloader
        return [] if iterables is None else list(CombinedLoader(iterables).flattened)

    def _set_loader_epochs(self, trainer: pl.Trainer) -> None:
        for loader in self._train_loaders(trainer):
            if isinstance(loader, ResumableDataLoader):
                loader.set_epoch(trainer.current_epoch)

    def _load_loader_states(self, trainer: pl.Trainer, states: list[dict[str, Any]]) -> None:
        """Give the stateful training loaders their saved states (in Lightning's order)."""
        loaders = [
            dl
            for dl in self._train_loaders(trainer)
            if callable(getattr(dl, "state_dict", None))
            and callable(getattr(dl, "load_state_dict", None))
        ]
        if len(loaders) != len(states):
            if loaders:
                log.warning(
                    "the checkpoint holds the state of %d training loaders, this run has %d "
                    "resumable ones: their epochs restart from the beginning",
                    len(states),
                    len(loaders),
                )
            return
        for loader, state in zip(loaders, states, strict=True):
            loader.load_state_dict(state)


def _validation_follows(trainer: pl.Trainer, pl_module: pl.LightningModule, batch_idx: int) -> bool:
    """Whether Lightning validates right after training batch `batch_idx` of this epoch."""
    if trainer.limit_val_batches == 0 or not is_overridden("validation_step", pl_module):
        return False
    every = trainer.check_val_every_n_epoch
    if every is not None and (trainer.current_epoch + 1) % every:
        return False
    if batch_idx + 1 >= trainer.num_training_batches:
        return True
    interval = getattr(trainer, "val_check_batch", None)
    return isinstance(interval, int) and interval > 0 and (batch_idx + 1) % interval == 0


class EMA(pl.Callback):
    """Exponential moving average of the module's weights (Polyak averaging).

    After every optimizer step, ``ema = decay * ema + (1 - decay) * weights`` over every floating
    point entry of the module's state dict (parameters and BatchNorm statistics; integer buffers are
    copied). With `warmup`, the decay starts small, ``min(decay, (1 + n) / (10 + n))`` after n
    updates, so early averages are not dominated by the random initialisation.

    Options:
        eval_with_ema: validation (during fit, and of the in-memory model) and test run with the
            EMA weights; the live weights are put back afterwards, so training continues on them.
        checkpoint_ema: checkpoints store the EMA weights as ``state_dict`` (so `evaluate.py`,
            export and ``ckpt_path=best`` use them) and the live weights in this callback's state
            (``callbacks -> EMA -> live_state_dict``) for resuming. Otherwise ``state_dict`` holds
            the live weights and the EMA weights are in the callback state (``ema_state_dict``).
            Either way the checkpoint holds only tensors and numbers (``weights_only=True`` loads).

    Args:
        decay: averaging factor per update (e.g. 0.9998 for ~5000-step horizons).
        warmup: use the ``(1 + n) / (10 + n)`` ramp.
        every_n_steps: update interval in optimizer steps.
        eval_with_ema: see above.
        checkpoint_ema: see above.
    """

    def __init__(
        self,
        decay: float = 0.9998,
        warmup: bool = True,
        every_n_steps: int = 1,
        eval_with_ema: bool = True,
        checkpoint_ema: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        if every_n_steps < 1:
            raise ValueError(f"EMA every_n_steps must be >= 1, got {every_n_steps}")
        self.decay = decay
        self.warmup = warmup
        self.every_n_steps = every_n_steps
        self.eval_with_ema = eval_with_ema
        self.checkpoint_ema = checkpoint_ema
        self.ema_state: dict[str, torch.Tensor] = {}
        self.num_updates = 0
        self._last_step = -1
        self._backup: dict[str, torch.Tensor] | None = None
        self._restored_from_checkpoint = False

    def current_decay(self) -> float:
        """Decay used by the next update."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1.0 + self.num_updates) / (10.0 + self.num_updates))

    def _init_state(self, pl_module: pl.LightningModule) -> None:
        self.ema_state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.ema_state:
            self._init_state(pl_module)
        device = pl_module.device
        self.ema_state = {k: v.to(device) for k, v in self.ema_state.items()}
        self._last_step = trainer.global_step

    @torch.no_grad()
    def update(self, pl_module: pl.LightningModule) -> None:
        """One averaging step towards the module's current weights."""
        decay = self.current_decay()
        live = pl_module.state_dict()
        floats_ema, floats_live = [], []
        for name, ema in self.ema_state.items():
            value = live[name].detach()
            if ema.is_floating_point():
                floats_ema.append(ema)
                floats_live.append(value.to(ema.dtype))
            else:
                ema.copy_(value)
        if floats_ema:
            torch._foreach_lerp_(floats_ema, floats_live, 1.0 - decay)
        self.num_updates += 1

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        if step == self._last_step:  # no optimizer step (gradient accumulation)
            return
        self._last_step = step
        if step % self.every_n_steps == 0:
            self.update(pl_module)

    # Swapping weights for evaluation -------------------------------------------------------
    def _should_swap(self, trainer: pl.Trainer) -> bool:
        if not self.eval_with_ema or not self.ema_state or trainer.sanity_checking:
            return False
        if trainer.state.fn == "fit" or trainer.ckpt_path is None:
            return True  # the module holds live weights
        # A checkpoint was loaded: its state_dict is already the EMA when checkpoint_ema.
        return not self.checkpoint_ema and self._restored_from_checkpoint

    @torch.no_grad()
    def _swap_in(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._backup is not None or not self._should_swap(trainer):
            return
        state = pl_module.state_dict()
        self._backup = {k: v.detach().clone() for k, v in state.items()}
        for name, value in state.items():
            value.copy_(self.ema_state[name])

    @torch.no_grad()
    def _swap_out(self, pl_module: pl.LightningModule) -> None:
        if self._backup is None:
            return
        for name, value in pl_module.state_dict().items():
            value.copy_(self._backup[name])
        self._backup = None

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._swap_in(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._swap_out(pl_module)

    def on_test_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._swap_in(trainer, pl_module)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._swap_out(pl_module)

    # Checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "num_updates": self.num_updates,
            "decay": self.decay,
            "ema_state_dict": {k: v.detach().cpu() for k, v in self.ema_state.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.num_updates = int(state_dict["num_updates"])
        self.ema_state = dict(state_dict["ema_state_dict"])
        self._restored_from_checkpoint = True

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if not self.checkpoint_ema or not self.ema_state:
            return
        live = checkpoint["state_dict"]
        checkpoint["state_dict"] = {k: v.detach().cpu().clone() for k, v in self.ema_state.items()}
        own = checkpoint.get("callbacks", {}).get(self.state_key)
        if own is not None:  # full checkpoint: keep the live weights for resuming
            own["live_state_dict"] = live

    @torch.no_grad()
    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        own = checkpoint.get("callbacks", {}).get(self.state_key, {})
        if trainer.state.fn == "fit" and "live_state_dict" in own:
            # Resuming: train on from the live weights, not the EMA stored as state_dict.
            pl_module.load_state_dict(own["live_state_dict"])


class PreciseBN(pl.Callback):
    """Recompute BatchNorm population statistics before each validation during fit.

    The running averages BatchNorm keeps during training lag behind the weights (they mix
    statistics of older models, weighted by `momentum`). Precise BN (Wu & Johnson, "Rethinking
    'Batch' in BatchNorm", 2021, Sec. 3; PySlowFast's ``BN.USE_PRECISE_STATS``) freezes the
    weights and forwards `num_batches` training batches in train mode, and sets each BatchNorm's
    ``running_mean`` / ``running_var`` to the exact mean and unbiased variance of all inputs it saw
    (aggregated as E[x] and E[x^2] over batches, summed across ranks under DDP). BatchNorm layers
    kept in eval mode (e.g. by `freeze_batchnorm_stats`) are left alone.

    Args:
        num_batches: training batches to forward (PySlowFast default: 200).
        every_n_epochs: run before the validation of every n-th epoch.
        input_key: key of the network input in the batch dict.
    """

    def __init__(
        self, num_batches: int = 200, every_n_epochs: int = 1, input_key: str = "video"
    ) -> None:
        super().__init__()
        if num_batches < 1 or every_n_epochs < 1:
            raise ValueError(
                f"PreciseBN needs num_batches >= 1 and every_n_epochs >= 1, got "
                f"{num_batches} and {every_n_epochs}"
            )
        self.num_batches = num_batches
        self.every_n_epochs = every_n_epochs
        self.input_key = input_key

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn != "fit" or trainer.sanity_checking:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        loader = trainer.train_dataloader
        if loader is None:
            return
        # Borrowed batches: the training loop's saved position in the epoch stays untouched.
        passes = loader.iterate(track=False) if isinstance(loader, ResumableDataLoader) else loader
        batches = (trainer.strategy.batch_to_device(b)[self.input_key] for b in passes)
        count = update_bn_stats(
            pl_module,
            batches,
            self.num_batches,
            reduce_sum=lambda t: trainer.strategy.reduce(t, reduce_op="sum"),
        )
        log.info("precise BN: statistics of %d BatchNorm layers recomputed", count)


def _bn_input_hook(sums: dict[nn.Module, list[torch.Tensor]]):
    def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        x = args[0].detach().float()
        dims = [0, *range(2, x.ndim)]  # all but the channel dim
        n = x.numel() // x.shape[1]
        acc = sums[module]
        acc[0] += n
        acc[1] += x.sum(dim=dims, dtype=torch.float64)
        acc[2] += x.square().sum(dim=dims, dtype=torch.float64)

    return hook


@torch.no_grad()
def update_bn_stats(
    model: nn.Module,
    inputs: Iterable[Any],
    num_batches: int,
    reduce_sum: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> int:
    """Set the running statistics of `model`'s training-mode BatchNorms to population values.

    Args:
        model: the network (its BatchNorms forward in train mode, normalising by batch stats).
        inputs: network inputs, e.g. (B, 3, T, H, W) clips; the first `num_batches` are used.
        num_batches: batches to forward.
        reduce_sum: sums a tensor across processes (None: single process).

    Returns:
        Number of BatchNorm layers updated.
    """
    was_training = model.training
    model.train()
    bns = [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats
    ]
    sums: dict[nn.Module, list[Any]] = {}
    handles, momenta = [], []
    for bn in bns:
        sums[bn] = [0, 0.0, 0.0]
        handles.append(bn.register_forward_pre_hook(_bn_input_hook(sums)))
        momenta.append(bn.momentum)
        bn.momentum = 0.0  # the forward pass must not move the running averages
    try:
        for i, x in enumerate(inputs):
            if i >= num_batches:
                break
            model(x)
    finally:
        for bn, handle, momentum in zip(bns, handles, momenta, strict=True):
            handle.remove()
            bn.momentum = momentum
        model.train(was_training)
    for bn in bns:
        n, s, sq = sums[bn]
        if not n:
            continue
        stats = torch.cat([torch.tensor([float(n)], dtype=s.dtype, device=s.device), s, sq])
        if reduce_sum is not None:
            stats = reduce_sum(stats)
        n, s, sq = stats[0], stats[1 : 1 + bn.num_features], stats[1 + bn.num_features :]
        mean = s / n
        var = (sq / n - mean.square()).clamp_min(0.0) * n / (n - 1).clamp_min(1.0)
        bn.running_mean.copy_(mean.to(bn.running_mean.dtype))
        bn.running_var.copy_(var.to(bn.running_var.dtype))
    return len(bns)
