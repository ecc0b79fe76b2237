"""Identity-balanced batches for metric learning: P identities x K images each.

Batch-hard triplet losses need several images of each identity in a batch. Every batch holds ``p``
distinct identities and ``k`` images of each (``p * k`` indices, identity after identity). An
identity with fewer than ``k`` images is sampled with replacement; otherwise its images are drawn
without replacement from a shuffled cycle, so over an epoch every image is used about equally.
Identities are drawn from a shuffled cycle too, so they appear equally often.

One epoch is ``len(labels) // (p * k)`` batches (at least one): about one pass over the images.
Batches are a deterministic function of ``(seed, epoch)``; iterating again moves to the next epoch,
and :meth:`set_epoch` sets it (Lightning does not call it on a batch sampler: the train task does,
through :class:`~vidlab.data.resumable.ResumableDataLoader`, before every training epoch). :meth:`skip_next` makes
the next iteration start further into its epoch (resuming mid-epoch, see `vidlab.data.resumable`). With several processes
(``num_replicas > 1``) every rank draws the same sequence of ``num_batches * num_replicas`` batches
and keeps every ``num_replicas``-th one from its ``rank`` on, so ranks see different batches (under
DDP set ``trainer.use_distributed_sampler=false``: Lightning cannot wrap a custom batch sampler).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


class _Cycle:
    """Draws distinct items from shuffled passes over a pool (reshuffled when exhausted)."""

    def __init__(self, pool: np.ndarray, rng: np.random.Generator) -> None:
        self.pool, self.rng = pool, rng
        self.queue = rng.permutation(pool)

    def take(self, n: int) -> np.ndarray:
        """``n <= len(pool)`` distinct items."""
        if len(self.queue) < n:
            # A new full pass; the items still queued from this pass go to its end, so the
            # next draw holds no duplicates and every pass still uses every item once.
            rest = self.queue
            fresh = self.rng.permutation(self.pool)
            in_rest = np.isin(fresh, rest)
            self.queue = np.concatenate([rest, fresh[~in_rest], fresh[in_rest]])
        out, self.queue = self.queue[:n], self.queue[n:]
        return out


class PKBatchSampler(Sampler[list[int]]):
    """Batches of ``p`` identities x ``k`` images.

    Args:
        labels: (N,) identity label of each dataset item.
        p: identities per batch.
        k: images per identity.
        seed: base seed.
        num_batches: batches per epoch and rank (None: ``max(1, N // (p * k * num_replicas))``).
        num_replicas: number of processes sharing the epoch.
        rank: this process's index in ``0..num_replicas - 1``.

    Raises:
        ValueError: fewer than ``p`` identities, or non-positive sizes.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        p: int,
        k: int,
        seed: int = 0,
        num_batches: int | None = None,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if p < 1 or k < 1:
            raise ValueError(f"p={p} and k={k} must be >= 1")
        self.ids, inverse = np.unique(self.labels, return_inverse=True)
        if len(self.ids) < p:
            raise ValueError(f"{len(self.ids)} identities in the data, fewer than p={p} per batch")
        order = np.argsort(inverse, kind="stable")
        splits = np.cumsum(np.bincount(inverse))[:-1]
        self.members = np.split(order, splits)  # item indices of each identity
        self.p, self.k, self.seed = p, k, seed
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank={rank} must be in 0..num_replicas-1 = {num_replicas - 1}")
        self.num_replicas, self.rank = num_replicas, rank
        self.num_batches = num_batches or max(1, len(self.labels) // (p * k * num_replicas))
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip_next(self, num_batches: int) -> None:
        """Start the next iteration `num_batches` of this rank's batches into its epoch (the
        skipped batches are still drawn, so the rest of the epoch is unchanged)."""
        self._skip = int(num_batches)

    def __len__(self) -> int:
        return self.num_batches

    @property
    def batch_size(self) -> int:
        return self.p * self.k

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        skip, self._skip = self._skip, 0
        ids = _Cycle(np.arange(len(self.ids)), rng)
        images = [_Cycle(m, rng) if len(m) >= self.k else None for m in self.members]
        for step in range(self.num_batches * self.num_replicas):
            batch: list[int] = []
            for ident in ids.take(self.p).tolist():
                cycle = images[ident]
                if cycle is None:  # too few images: with replacement
                    picks = rng.choice(self.members[ident], self.k, replace=True)
                else:
                    picks = cycle.take(self.k)
                batch += picks.tolist()
            if step % self.num_replicas != self.rank:
                continue
            if skip:
                skip -= 1
            else:
                yield batch
