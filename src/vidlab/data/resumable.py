"""Resumable training data: a run resumed mid-epoch sees exactly the batches an uninterrupted run sees.

Two things make that possible:

* The data order is a pure function of ``(seed, epoch)``: `EpochSampler` (indices),
  `~vidlab.data.datasets.loading.SeededSampler` (indices with per-sample seeds) and
  `~vidlab.data.reid.sampler.PKBatchSampler` (identity-balanced batches) draw nothing from the global
  random generators. Their epoch is set before each training epoch: by Lightning for a loader's
  ``sampler``, by the train task's `~vidlab.tasks.callbacks.ResumeState` through
  `ResumableDataLoader.set_epoch` for any of them (Lightning does not reach a custom batch sampler).
* `ResumableDataLoader` knows its position. Its ``state_dict()`` holds the epoch it is iterating and
  the number of batches it has delivered in it; Lightning stores the state of stateful training
  loaders with the fit loop in every full checkpoint and, when a fit resumes mid-epoch, loads it back
  before the epoch's iteration starts. That iteration then begins after the batches already trained
  on: samplers with a ``skip_next(n)`` method jump there without loading anything; with any other
  sampler the skipped batches are loaded and discarded.

The loader also owns a generator that is reseeded from ``(seed, epoch)`` at every epoch, so an
iteration never draws from torch's global generator (worker base seeds come from it), and the
training randomness that does use the global generators (dropout, global-RNG augmentations) is
restored by the train task's `~vidlab.tasks.callbacks.ResumeState`.

Exactness caveat: with ``num_workers > 0``, a dataset whose augmentations draw from the workers'
global generators (rather than from per-sample seeds, as `VideoDataModule` does) cannot be replayed
exactly mid-epoch: the data order is restored, the augmentation draws are not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler

from vidlab.data.datasets.loading import sample_seed

log = logging.getLogger(__name__)


def epoch_permutation(num_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The order of `num_samples` items in `epoch` for base `seed`: (num_samples,) int64."""
    return np.random.default_rng(sample_seed(seed, epoch)).permutation(num_samples)


class EpochSampler(Sampler[int]):
    """Yields the indices ``0..num_samples-1``, shuffled per epoch from ``(seed, epoch)``.

    The epoch advances by one at every new iteration; `set_epoch` (which Lightning calls before each
    training epoch) overrides it. `skip_next` makes the next iteration start further into its epoch.

    Args:
        num_samples: dataset length.
        seed: base seed of the order.
        shuffle: shuffle per epoch (False: ascending order every epoch).
    """

    def __init__(self, num_samples: int, seed: int, shuffle: bool = True) -> None:
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        self.num_samples = num_samples
        self.seed = int(seed)
        self.shuffle = shuffle
        self.epoch = 0
        self._start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip_next(self, num_items: int) -> None:
        """Start the next iteration `num_items` indices into its epoch."""
        self._start = int(num_items)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        epoch, start = self.epoch, self._start
        self.epoch, self._start = epoch + 1, 0
        if self.shuffle:
            order = epoch_permutation(self.num_samples, self.seed, epoch)
        else:
            order = np.arange(self.num_samples)
        yield from order[start:].tolist()


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position in the epoch is saved in, and restored from, checkpoints.

    Takes the arguments of `torch.utils.data.DataLoader` plus `seed`; give it a sampler (or batch
    sampler) whose order depends only on ``(seed, epoch)`` and that has an ``epoch`` attribute
    (`EpochSampler`, `SeededSampler`, `PKBatchSampler`). With a sampler without one, iterations
    are counted instead.

    ``state_dict()`` is ``{"epoch": int | None, "batches": int}``: the epoch being iterated and the
    batches delivered in it. After ``load_state_dict(state)``, the next iteration of that epoch skips
    ``state["batches"]`` batches; an iteration of another epoch starts at its beginning (the saved
    epoch was finished). Without a sampler epoch, the next iteration skips the batches unless the
    saved pass was complete.

    Args:
        seed: base seed of the loader's generator, reseeded from ``(seed, epoch)`` at each epoch.
    """

    def __init__(self, *args: Any, seed: int = 0, **kwargs: Any) -> None:
        if kwargs.get("generator") is None:
            kwargs["generator"] = torch.Generator()
        super().__init__(*args, **kwargs)
        self.seed = int(seed)
        self._epoch: int | None = None
        self._position = 0
        self._iterations = 0
        self._resume: dict[str, Any] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of every sampler in the chain that has one. Lightning only reaches
        ``loader.sampler`` and ``loader.batch_sampler.sampler``, not a custom batch sampler."""
        for sampler in self._samplers():
            set_epoch = getattr(sampler, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(epoch)

    # -- checkpoint state ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        if self._epoch is None and self._position >= len(self):
            return {"epoch": None, "batches": 0}  # no epoch to tell a finished pass by: start over
        return {"epoch": self._epoch, "batches": self._position}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        batches = int(state_dict.get("batches", 0))
        if batches < 0:
            raise ValueError(f"loader state: 'batches' must be >= 0, got {batches}")
        epoch = state_dict.get("epoch")
        self._resume = {"epoch": None if epoch is None else int(epoch), "batches": batches}

    # -- iteration ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        return self.iterate()

    def iterate(self, *, track: bool = True) -> Iterator[Any]:
        """One pass over the epoch the sampler is at.

        Args:
            track: record the position for checkpoints (the training loop's pass). Callbacks that
                only borrow some training batches (precise BN statistics) pass False, so the saved
                position stays that of the training loop.
        """
        return self._iterate(track)

    def _iterate(self, track: bool) -> Iterator[Any]:
        # A generator: nothing runs until the first batch is asked for, i.e. after Lightning has
        # set the epoch and loaded the checkpoint state (it creates iterators before doing so).
        epoch = self._sampler_epoch()
        key = self._iterations if epoch is None else epoch
        skip = 0
        if track:
            self._iterations += 1
            skip = self._take_resume(epoch)
            self._epoch, self._position = epoch, skip
        self.generator.manual_seed(sample_seed(self.seed, key))  # worker base seeds
        fast = skip > 0 and self._fast_forward(skip)
        batches = super().__iter__()
        if skip and not fast:
            log.info(
                "resuming mid-epoch: loading and discarding %d batches (the sampler %s has "
                "no skip_next)",
                skip,
                type(self._index_sampler).__name__,
            )
            for _ in range(skip):
                if next(batches, None) is None:
                    break
        for batch in batches:
            if track:
                self._position += 1
            yield batch

    def _samplers(self) -> list[Any]:
        found = [self.batch_sampler, getattr(self.batch_sampler, "sampler", None), self.sampler]
        return [s for s in found if s is not None]

    def _sampler_epoch(self) -> int | None:
        for sampler in self._samplers():
            epoch = getattr(sampler, "epoch", None)
            if epoch is not None:
                return int(epoch)
        return None

    def _take_resume(self, epoch: int | None) -> int:
        state, self._resume = self._resume, None
        if state is None:
            return 0
        if state["epoch"] is not None and epoch is not None and state["epoch"] != epoch:
            return 0  # the checkpoint's epoch was complete: this one starts at its beginning
        log.info("resuming epoch %s after %d batches", epoch, state["batches"])
        return state["batches"]

    def _fast_forward(self, num_batches: int) -> bool:
        """Make the samplers start `num_batches` batches later; False if they cannot."""
        batch_sampler = self.batch_sampler
        if batch_sampler is None:
            target, items = self.sampler, num_batches
        elif hasattr(batch_sampler, "skip_next"):
            target, items = batch_sampler, num_batches
        elif type(batch_sampler) is BatchSampler:
            target, items = batch_sampler.sampler, num_batches * batch_sampler.batch_size
        else:
            return False
        skip_next = getattr(target, "skip_next", None)
        if not callable(skip_next):
            return False
        skip_next(min(items, len(target)) if hasattr(target, "__len__") else items)
        return True


def split_loader(
    dataset: Any, *, batch_size: int, num_workers: int, shuffle_seed: int, shuffle: bool
) -> DataLoader:
    """The loader of one split of an in-memory dataset: the training split shuffled per epoch from
    (shuffle_seed, epoch) and resumable mid-epoch, evaluation splits in order."""
    common: dict[str, Any] = {
        "batch_size": batch_size,
        "num_workers": num_workers,
        "persistent_workers": num_workers > 0,
    }
    if shuffle:
        return ResumableDataLoader(
            dataset,
            sampler=EpochSampler(len(dataset), shuffle_seed),
            drop_last=True,
            seed=shuffle_seed,
            **common,
        )
    # A generator of its own: iterating does not draw from torch's global one (dropout's).
    generator = torch.Generator().manual_seed(shuffle_seed)
    return DataLoader(dataset, shuffle=False, generator=generator, **common)


class SplitLoaders:
    """Mixin for a LightningDataModule whose ``datasets`` hold its in-memory splits: the
    train / val / test loaders of `split_loader` from ``batch_size``, ``num_workers`` and
    ``shuffle_seed``."""

    datasets: dict[str, Any]
    batch_size: int
    num_workers: int
    shuffle_seed: int

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return split_loader(
            self.datasets[split],
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            shuffle_seed=self.shuffle_seed,
            shuffle=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled per epoch from (shuffle_seed, epoch); resumable mid-epoch."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
