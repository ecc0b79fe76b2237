"""Synthetic tracklet actions: determinism, balance, the datamodule, and classes made of motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlab.data.datamodules.tracklets import SyntheticTrackletDataModule
from vidlab.data.synthetic.tracklets import (
    CLASSES,
    TrackletActionSpec,
    generate_split,
    load_or_generate,
    render_tube,
)


def test_generation_is_deterministic_balanced_and_seeded():
    spec = TrackletActionSpec(num_frames=4, size=16, seed=3)
    a, labels = generate_split(spec, "train", 10)
    b, _ = generate_split(spec, "train", 10)
    assert a.shape == (10, 4, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.bincount(labels).tolist() == [2] * len(CLASSES)
    assert not np.array_equal(a, generate_split(spec, "val", 10)[0])
    other = TrackletActionSpec(num_frames=4, size=16, seed=4)
    assert not np.array_equal(a, generate_split(other, "train", 10)[0])
    with pytest.raises(ValueError, match="split"):
        generate_split(spec, "dev", 2)


def _change(label: str, n: int = 12) -> float:
    """Mean absolute change between consecutive crops of `n` clean tubes of one class."""
    spec = TrackletActionSpec(box_jitter=0.0, passer_prob=0.0, jpeg_quality=None)
    k = CLASSES.index(label)
    tubes = [render_tube(spec, k, np.random.default_rng((9, i))) for i in range(n)]
    return float(np.mean([np.abs(np.diff(t.astype(np.float32), axis=0)).mean() for t in tubes]))


def test_the_class_is_in_the_motion():
    """Still people change least between crops, runners most (the background streams past), and
    a waving arm or a fall moves more than standing still."""
    stand, walk, run = _change("stand"), _change("walk"), _change("run")
    assert stand < walk < run
    assert _change("wave") > stand and _change("fall") > stand


def test_datamodule_batches_normalised_tubes(tmp_path):
    dm = SyntheticTrackletDataModule(
        num_frames=4, crop_size=16, train_size=10, val_size=5, test_size=5, batch_size=4,
        cache_dir=tmp_path,
    )  # fmt: skip
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (4, 3, 4, 16, 16) and batch["video"].dtype == torch.float32
    assert dm.class_names == list(CLASSES) and dm.num_classes == 5
    cached, _ = load_or_generate(dm.spec, "val", 5, tmp_path)  # read back from the cache
    np.testing.assert_array_equal(np.asarray(cached), dm.datasets["val"].videos)
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticTrackletDataModule(num_classes=4)
