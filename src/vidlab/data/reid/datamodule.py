"""LightningDataModule for person Re-ID on a Market-layout folder (``data=synthetic_reid``,
``data=market1501``, ``data=mot17_reid``).

Training batches are identity-balanced (P x K, :class:`~vidlab.data.reid.sampler.PKBatchSampler`)
and augmented; ``val_dataloader()`` and ``test_dataloader()`` both return ``[query_loader,
gallery_loader]`` over the test identities (``query/`` and ``bounding_box_test/``): Re-ID benchmarks
have no separate validation identities, so validation reuses the test query and gallery (as most
Re-ID code bases do) and is only a progress monitor.

Batches are dicts:

- train: ``image`` float32 (B, 3, H, W) normalised, ``pid`` int64 contiguous train label
  0..num_classes-1, ``camid`` int64 camera (1-based as in the file name);
- query / gallery: ``image``, ``pid`` int64 original identity (0 distractor, -1 junk), ``camid``
  int64, ``index`` int64 position in the query or gallery list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidlab.data.reid.market import MarketSplits, ReIDRecord, read_market
from vidlab.data.reid.sampler import PKBatchSampler
from vidlab.data.reid.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_transform,
    read_rgb,
    to_chw_tensor,
)
from vidlab.data.resumable import ResumableDataLoader

log = logging.getLogger(__name__)

DEFAULT_IMAGE_SIZE = (256, 128)


class ReIDSetBuilder(Protocol):
    """Anything that produces a Market-layout folder (built once, cached)."""

    def build(self) -> Path: ...


class ReIDImageDataset(Dataset):
    """Person crops as dict samples (see the module docstring for the keys).

    Args:
        records: the crops.
        pids: (N,) identity emitted for each crop (train: contiguous labels; eval: original pids).
        image_size: (height, width) the images are resized to.
        transform: maps a (3, H, W) uint8 tensor to a (3, H, W) float32 tensor.
        with_index: add the ``index`` key (query/gallery position).
        preload: decode and resize every image once, into memory.
    """

    def __init__(
        self,
        records: Sequence[ReIDRecord],
        pids: Sequence[int],
        image_size: Sequence[int],
        transform: Any,
        *,
        with_index: bool,
        preload: bool = False,
    ) -> None:
        if len(records) != len(pids):
            raise ValueError(f"{len(records)} records but {len(pids)} identities")
        self.paths = [r.path for r in records]
        self.pids = torch.as_tensor(np.asarray(pids, np.int64))
        self.camids = torch.as_tensor(np.asarray([r.camid for r in records], np.int64))
        self.image_size = tuple(int(v) for v in image_size)
        self.transform, self.with_index = transform, with_index
        self.cache: np.ndarray | None = None
        if preload and self.paths:
            self.cache = np.stack([read_rgb(p, self.image_size) for p in self.paths])  # (N,H,W,3)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rgb = (
            self.cache[index]
            if self.cache is not None
            else read_rgb(self.paths[index], self.image_size)
        )
        sample = {
            "image": self.transform(to_chw_tensor(rgb)).as_subclass(torch.Tensor),
            "pid": self.pids[index],
            "camid": self.camids[index],
        }
        if self.with_index:
            sample["index"] = torch.tensor(index, dtype=torch.int64)
        return sample


class ReIDDataModule(pl.LightningDataModule):
    """Re-ID data from a Market-layout folder, given directly or made by a builder.

    Args:
        root: a Market-layout folder (``bounding_box_train/``, ``query/``, ``bounding_box_test/``).
        builder: an object with ``build() -> Path`` that makes (and caches) such a folder, e.g.
            :class:`~vidlab.data.reid.synthetic.SyntheticReIDBuilder` or
            :class:`~vidlab.data.reid.crops.MotReIDBuilder`. Exactly one of root / builder.
        image_size: (height, width) of the network input in pixels.
        mean: RGB mean in [0, 1] units.
        std: RGB std in [0, 1] units.
        p_identities: identities per training batch (P).
        k_instances: images per identity in a training batch (K).
        batch_size: images per query/gallery batch.
        num_workers: DataLoader workers.
        seed: seed of the P x K sampler (the augmentations follow the global torch seed).
        flip: random horizontal flip in training.
        pad: zero padding before the random crop in training (0: off).
        random_erasing: probability of random erasing in training (0: off).
        preload: decode all images into memory at setup (small sets only).
        num_batches: training batches per epoch (None: about one pass over the images).
        num_classes: expected number of training identities, checked at setup (None: no check).
        name: dataset name recorded in the data report.
    """

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        builder: ReIDSetBuilder | None = None,
        image_size: Sequence[int] = DEFAULT_IMAGE_SIZE,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        p_identities: int = 16,
        k_instances: int = 4,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 0,
        flip: bool = True,
        pad: int = 10,
        random_erasing: float = 0.5,
        preload: bool = False,
        num_batches: int | None = None,
        num_classes: int | None = None,
        name: str = "reid",
    ) -> None:
        super().__init__()
        if (root is None) == (builder is None):
            raise ValueError(
                f"give exactly one of root (a Market-layout folder) or builder; got root={root!r}"
                f", builder={type(builder).__name__ if builder is not None else None}"
            )
        if builder is not None and not callable(getattr(builder, "build", None)):
            raise TypeError(f"builder {builder!r} has no build() method returning a folder")
        if len(image_size) != 2 or len(mean) != 3 or len(std) != 3:
            raise ValueError(
                f"image_size={list(image_size)} must be [H, W], mean={list(mean)} and "
                f"std={list(std)} three RGB values"
            )
        self.root = None if root is None else Path(root)
        self.builder = builder
        self.image_size = [int(v) for v in image_size]
        self.mean, self.std = [float(v) for v in mean], [float(v) for v in std]
        self.p_identities, self.k_instances = p_identities, k_instances
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.augment = {"flip": flip, "pad": pad, "random_erasing": random_erasing}
        self.preload, self.num_batches = preload, num_batches
        self.expected_num_classes = num_classes
        self.name = name
        self.class_names: list[str] = []
        self.splits: MarketSplits | None = None
        self.datasets: dict[str, ReIDImageDataset] = {}

    # -- data ------------------------------------------------------------------------------------

    def prepare_data(self) -> None:
        # One process per node builds the cache; the other ranks only read it in setup().
        if self.builder is not None:
            self.builder.build()

    def _market(self) -> MarketSplits:
        if self.splits is None:
            root = self.root if self.root is not None else Path(self.builder.build())
            self.splits = read_market(root)
            found = self.splits.num_train_ids
            if self.expected_num_classes is not None and found != self.expected_num_classes:
                raise ValueError(
                    f"{root}: {found} training identities but num_classes="
                    f"{self.expected_num_classes} was configured (set data.num_classes={found} "
                    "or null)"
                )
        return self.splits

    def setup(self, stage: str | None = None) -> None:
        splits = self._market()
        if self.datasets:
            return
        size = self.image_size
        train_tf = build_transform(size, self.mean, self.std, train=True, **self.augment)
        eval_tf = build_transform(size, self.mean, self.std, train=False)

        def dataset(records, labels, transform, with_index):
            return ReIDImageDataset(
                records, labels, size, transform, with_index=with_index, preload=self.preload
            )

        self.datasets = {
            "train": dataset(splits.train, splits.train_labels, train_tf, False),
            "query": dataset(splits.query, [r.pid for r in splits.query], eval_tf, True),
            "gallery": dataset(splits.gallery, [r.pid for r in splits.gallery], eval_tf, True),
        }
        log.info("Re-ID data %s: %s", splits.root, splits.summary())

    @property
    def num_classes(self) -> int:
        """Number of training identities (reads the split listing on first use)."""
        return self._market().num_train_ids

    @property
    def query_size(self) -> int:
        return len(self._market().query)

    @property
    def gallery_size(self) -> int:
        return len(self._market().gallery)

    def eval_labels(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(pids, camids) int64 arrays of the ``"query"`` or ``"gallery"`` list, in order."""
        records = {"query": self._market().query, "gallery": self._market().gallery}[split]
        return (
            np.array([r.pid for r in records], np.int64),
            np.array([r.camid for r in records], np.int64),
        )

    # -- loaders ---------------------------------------------------------------------------------

    def train_dataloader(self) -> DataLoader:
        trainer = getattr(self, "trainer", None)
        replicas = int(getattr(trainer, "world_size", 1) or 1) if trainer is not None else 1
        rank = int(getattr(trainer, "global_rank", 0) or 0) if trainer is not None else 0
        sampler = PKBatchSampler(
            self.datasets["train"].pids.numpy(),
            self.p_identities,
            self.k_instances,
            seed=self.seed,
            num_batches=self.num_batches,
            num_replicas=replicas,
            rank=rank,
        )
        # Resumable mid-epoch (the P x K batches are a function of (seed, epoch)); with workers, the
        # augmentations' draws are not replayed exactly (see vidlab.data.resumable).
        return ResumableDataLoader(
            self.datasets["train"],
            batch_sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            seed=self.seed,
        )

    def _eval_loaders(self) -> list[DataLoader]:
        return [
            DataLoader(
                self.datasets[split],
                batch_size=self.batch_size,
                shuffle=False,
                num_workers=self.num_workers,
                persistent_workers=self.num_workers > 0,
                # A generator of its own: iterating does not draw from torch's global one.
                generator=torch.Generator().manual_seed(self.seed),
            )
            for split in ("query", "gallery")
        ]

    def val_dataloader(self) -> list[DataLoader]:
        """``[query_loader, gallery_loader]`` of the test identities (see the module docstring)."""
        return self._eval_loaders()

    def test_dataloader(self) -> list[DataLoader]:
        """``[query_loader, gallery_loader]``."""
        return self._eval_loaders()

    # -- reports ---------------------------------------------------------------------------------

    def input_spec(self) -> dict[str, Any]:
        """What the network expects (stored in checkpoints and export cards)."""
        return {
            "image_size": list(self.image_size),
            "mean": list(self.mean),
            "std": list(self.std),
            "layout": "NCHW",
            "value_range": "RGB in [0, 1] before normalisation",
        }

    def data_report(self) -> dict[str, Any]:
        """Dataset provenance recorded with results: root, split sizes and the sampler seed."""
        splits = self._market()
        return {
            "name": self.name,
            "root": str(splits.root),
            "seed": self.seed,
            "num_classes": splits.num_train_ids,
            "splits": splits.summary(),
            "val": "test query/gallery reused",
        }
