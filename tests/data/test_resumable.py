"""Resumable training loaders: the data order is a function of (seed, epoch), and a loader restored
from a saved state replays the rest of the epoch exactly, at an epoch boundary or mid-epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, SequentialSampler

from vidlab.data.datasets.loading import SeededSampler
from vidlab.data.reid.sampler import PKBatchSampler
from vidlab.data.resumable import EpochSampler, ResumableDataLoader

NUM = 20
BATCH = 3


class _Items(Dataset):
    """Item i is i; counts the items it was asked for."""

    def __init__(self) -> None:
        self.reads = 0

    def __len__(self) -> int:
        return NUM

    def __getitem__(self, key):
        self.reads += 1
        return key if isinstance(key, int) else tuple(key)


def _loader(sampler_kind: str, dataset: Dataset | None = None) -> ResumableDataLoader:
    dataset = dataset or _Items()
    if sampler_kind == "pk":
        labels = np.repeat(np.arange(5), 4)
        return ResumableDataLoader(
            dataset, batch_sampler=PKBatchSampler(labels, 2, 2, seed=3), seed=3
        )
    sampler = {
        "epoch": EpochSampler(NUM, seed=3),
        "seeded": SeededSampler(NUM, 3),
        "sequential": SequentialSampler(range(NUM)),
    }[sampler_kind]
    return ResumableDataLoader(dataset, batch_size=BATCH, sampler=sampler, drop_last=True, seed=3)


def _flat(batch) -> list:
    if isinstance(batch, torch.Tensor):
        return batch.tolist()
    return [t.tolist() for t in batch]  # (index, seed) pairs come collated as two tensors


def _epoch(loader: ResumableDataLoader, epoch: int, stop: int | None = None) -> list:
    """Batches of `epoch` as Lightning drives them (set_epoch, then iterate), `stop` of them."""
    for sampler in (loader.sampler, loader.batch_sampler):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
    out = []
    for batch in loader:
        out.append(_flat(batch))
        if stop is not None and len(out) == stop:
            break
    return out


def test_epoch_sampler_order_depends_on_seed_and_epoch_only():
    sampler = EpochSampler(NUM, seed=1)
    first, second = list(sampler), list(sampler)  # iterating again moves to the next epoch
    assert sorted(first) == list(range(NUM)) and first != second
    fresh = EpochSampler(NUM, seed=1)
    fresh.set_epoch(1)
    assert list(fresh) == second
    assert list(EpochSampler(NUM, seed=2)) != first
    assert list(EpochSampler(NUM, seed=1, shuffle=False)) == list(range(NUM))


def test_iterating_draws_nothing_from_the_global_torch_generator():
    loader = _loader("epoch")
    state = torch.get_rng_state()
    _epoch(loader, 0)
    assert torch.equal(torch.get_rng_state(), state)


def _batch_items(kind: str) -> int:
    return 4 if kind == "pk" else BATCH


@pytest.mark.parametrize("kind", ["epoch", "seeded", "pk", "sequential"])
def test_restored_loader_replays_the_rest_of_the_epoch_mid_epoch(kind):
    reference = _loader(kind)
    epochs = [_epoch(reference, e) for e in range(3)]
    assert kind == "sequential" or epochs[0] != epochs[1]

    interrupted = _loader(kind)
    _epoch(interrupted, 0)
    assert _epoch(interrupted, 1, stop=2) == epochs[1][:2]
    state = interrupted.state_dict()
    assert state == {"epoch": None if kind == "sequential" else 1, "batches": 2}

    dataset = _Items()
    resumed = _loader(kind, dataset)
    resumed.load_state_dict(state)
    assert _epoch(resumed, 1) == epochs[1][2:]
    assert _epoch(resumed, 2) == epochs[2]
    if kind != "sequential":  # these samplers jump to the position: nothing skipped is loaded
        assert dataset.reads == (len(epochs[1]) - 2 + len(epochs[2])) * _batch_items(kind)


@pytest.mark.parametrize("kind", ["epoch", "seeded", "pk", "sequential"])
def test_restored_loader_starts_the_next_epoch_at_an_epoch_boundary(kind):
    reference = _loader(kind)
    epochs = [_epoch(reference, e) for e in range(2)]
    interrupted = _loader(kind)
    _epoch(interrupted, 0)  # Lightning saves at the end of the epoch, without exhausting the loader
    resumed = _loader(kind)
    resumed.load_state_dict(interrupted.state_dict())
    assert _epoch(resumed, 1) == epochs[1]


def test_a_finished_epoch_resumed_again_yields_nothing():
    loader = _loader("epoch")
    _epoch(loader, 0)
    resumed = _loader("epoch")
    resumed.load_state_dict(loader.state_dict())
    assert _epoch(resumed, 0) == []


def test_untracked_pass_leaves_the_saved_position_alone():
    loader = _loader("epoch")
    loader.sampler.set_epoch(0)
    it = iter(loader)
    next(it), next(it)
    peek = loader.iterate(track=False)
    next(peek)
    assert loader.state_dict() == {"epoch": 0, "batches": 2}


def test_bad_state_is_rejected():
    with pytest.raises(ValueError, match="'batches' must be >= 0"):
        _loader("epoch").load_state_dict({"epoch": 0, "batches": -1})


def test_synthetic_train_loader_resumes_mid_epoch(tmp_path):
    from vidlab.data.datamodules.synthetic import SyntheticActionDataModule

    def loader(shuffle_seed: int = 5) -> ResumableDataLoader:
        dm = SyntheticActionDataModule(
            num_frames=2,
            crop_size=16,
            train_size=16,
            val_size=4,
            test_size=4,
            batch_size=4,
            cache_dir=tmp_path,
            shuffle_seed=shuffle_seed,
        )
        dm.setup("fit")
        return dm.train_dataloader()

    def order(batches: list) -> list:
        return [b["video_index"].tolist() for b in batches]

    reference = loader()
    _epoch_batches(reference, 0)
    epoch1 = _epoch_batches(reference, 1)
    interrupted = loader()
    _epoch_batches(interrupted, 0)
    _epoch_batches(interrupted, 1, stop=1)
    resumed = loader()
    resumed.load_state_dict(interrupted.state_dict())
    assert order(_epoch_batches(resumed, 1)) == order(epoch1[1:])
    assert order(_epoch_batches(loader(), 1)) == order(epoch1)
    assert order(_epoch_batches(loader(shuffle_seed=6), 1)) != order(epoch1)


def _epoch_batches(loader: ResumableDataLoader, epoch: int, stop: int | None = None) -> list:
    loader.sampler.set_epoch(epoch)
    out = []
    for batch in loader:
        out.append(batch)
        if len(out) == stop:
            break
    return out


def test_set_epoch_reaches_a_custom_batch_sampler():
    loader = _loader(
        "pk"
    )  # Lightning's set_epoch only reaches loader.sampler(.batch_sampler.sampler)
    loader.set_epoch(3)
    assert loader.batch_sampler.epoch == 3
    fresh = _loader("pk")
    fresh.batch_sampler.set_epoch(3)
    assert [_flat(b) for b in loader] == [_flat(b) for b in fresh]
