"""P x K identity sampler: batch composition, balance, replacement and determinism."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from vidlab.data.reid import PKBatchSampler

# 7 identities: id 3 has only 2 images, the others 5 to 9.
LABELS = np.repeat(np.arange(7), [5, 6, 9, 2, 7, 5, 8])


def _batches(sampler):
    return [list(b) for b in sampler]


def test_batches_hold_p_identities_times_k_images():
    sampler = PKBatchSampler(LABELS, p=3, k=4, seed=0)
    assert len(sampler) == len(LABELS) // 12 == sampler.num_batches
    for batch in _batches(sampler):
        assert len(batch) == 12
        ids = LABELS[batch].reshape(3, 4)  # identity after identity
        assert (ids == ids[:, :1]).all() and len(set(ids[:, 0])) == 3
        for block in np.asarray(batch).reshape(3, 4):
            if LABELS[block[0]] != 3:
                assert len(set(block.tolist())) == 4  # enough images: no repeats


def test_identities_are_balanced_and_small_ids_use_replacement():
    sampler = PKBatchSampler(LABELS, p=3, k=4, seed=1, num_batches=14)
    batches = _batches(sampler)
    per_id = Counter(int(LABELS[i]) for b in batches for i in b[0::4])
    assert set(per_id.values()) == {6}  # 14 batches x 3 = 42 identity draws over 7 ids
    small = [i for b in batches for i in b if LABELS[i] == 3]
    assert set(small) <= set(np.flatnonzero(LABELS == 3).tolist()) and len(small) == 24


def test_images_cycle_before_repeating():
    sampler = PKBatchSampler(LABELS, p=7, k=2, seed=2, num_batches=2)
    used = Counter(i for b in _batches(sampler) for i in b if LABELS[i] == 2)
    assert len(used) == 4 and set(used.values()) == {1}  # 9 images, 4 drawn: all distinct


def test_deterministic_in_seed_and_epoch():
    a, b = PKBatchSampler(LABELS, 3, 2, seed=5), PKBatchSampler(LABELS, 3, 2, seed=5)
    assert _batches(a) == _batches(b)  # epoch 0
    second = _batches(a)  # iterating again moves to epoch 1
    assert second != _batches(PKBatchSampler(LABELS, 3, 2, seed=5))
    b.set_epoch(1)
    assert _batches(b) == second
    assert _batches(PKBatchSampler(LABELS, 3, 2, seed=6)) != _batches(
        PKBatchSampler(LABELS, 3, 2, seed=5)
    )


def test_too_few_identities():
    with pytest.raises(ValueError, match="7 identities in the data, fewer than p=8"):
        PKBatchSampler(LABELS, p=8, k=4)


def test_ranks_split_one_shared_sequence_of_batches():
    whole = _batches(PKBatchSampler(LABELS, 3, 2, seed=4, num_batches=6))
    ranks = [
        _batches(PKBatchSampler(LABELS, 3, 2, seed=4, num_batches=3, num_replicas=2, rank=r))
        for r in (0, 1)
    ]
    assert ranks[0] == whole[0::2] and ranks[1] == whole[1::2]
    assert len(PKBatchSampler(LABELS, 3, 2, num_replicas=2)) == len(LABELS) // 12
