"""LightningDataModule for the embedded synthetic action dataset (`data=synthetic_actions`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import Dataset

from vidlab.data.resumable import SplitLoaders
from vidlab.data.synthetic.actions import MotionRanges, SyntheticActionSpec, load_or_generate
from vidlab.data.transforms.functional import pack_pathways

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class ClipArrayDataset(Dataset):
    """Clips held in a uint8 array (N, T, H, W, 3), returned as normalised float (C, T, H, W).

    Samples are dicts: ``video`` float32 (3, T, H, W), ``label`` int64, ``video_index`` int64 (the
    clip's index in its split) and ``view_index`` int64 (always 0: one view per clip).
    """

    def __init__(
        self,
        videos: np.ndarray,
        labels: np.ndarray,
        mean: list[float],
        std: list[float],
        slowfast_alpha: int | None = None,
    ):
        if len(videos) != len(labels):
            raise ValueError(f"{len(videos)} videos but {len(labels)} labels")
        self.videos = videos
        self.labels = labels
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1, 1) * 255.0
        self.slowfast_alpha = slowfast_alpha

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        clip = torch.from_numpy(
            np.array(self.videos[index])
        )  # (T, H, W, 3) uint8, copied from the memmap
        video = (clip.permute(3, 0, 1, 2).float() - self.mean) / self.std  # (3, T, H, W)
        if self.slowfast_alpha:
            video = pack_pathways(video, self.slowfast_alpha)  # [slow, fast]
        return {
            "video": video,
            "label": torch.tensor(int(self.labels[index]), dtype=torch.int64),
            "video_index": torch.tensor(index, dtype=torch.int64),
            "view_index": torch.tensor(0, dtype=torch.int64),
        }


class GeneratedClipSplits:
    """``prepare_data`` / ``setup`` of a datamodule whose splits are generated clip arrays.

    The datamodule sets ``spec``, ``sizes`` (clips per split), ``cache_dir``, ``mean``, ``std``,
    ``datasets`` (a dict) and, as ``load_split``, its generator's ``load_or_generate(spec, split,
    count, cache_dir) -> (videos, labels)``.
    """

    slowfast_alpha: int | None = None

    def prepare_data(self) -> None:
        # Runs on one process per node: fills the disk cache so other ranks only read it.
        if self.cache_dir is not None:
            for split in SPLITS:
                self.load_split(self.spec, split, self.sizes[split], self.cache_dir)

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.datasets:
                videos, labels = self.load_split(
                    self.spec, split, self.sizes[split], self.cache_dir
                )
                self.datasets[split] = ClipArrayDataset(
                    videos, labels, self.mean, self.std, self.slowfast_alpha
                )


class SyntheticActionDataModule(GeneratedClipSplits, SplitLoaders, pl.LightningDataModule):
    """Procedurally rendered clips whose class is defined by motion only.

    Args:
        factors: motion factors whose signs define the class (see `SyntheticActionSpec`).
        num_frames: frames per clip.
        crop_size: frame size in pixels (clips are square and need no resizing).
        train_size / val_size / test_size: clips per split (labels are balanced).
        seed: generation seed; recorded with results.
        num_distractors: maximum distractor shapes per clip.
        noise_std: per-pixel noise, 0..255 units.
        wrap: toroidal frame (see `SyntheticActionSpec`).
        nuisance_motion: non-class motions happen with random sense.
        batch_size: clips per batch.
        num_workers: DataLoader workers (0 is fastest here: clips are in memory already).
        cache_dir: where generated splits are cached (None: memory only).
        mean / std: per-channel normalisation, in 0..1 intensity units.
        num_classes: must equal the number of classes the factors define; configs interpolate it into the model.
        slowfast_alpha: return ``video`` as SlowFast's [slow, fast] pathways with this frame-rate
            ratio (slow: T // alpha frames), or None for one clip.
        shuffle_seed: seed of the training order, a function of (shuffle_seed, epoch) that a run
            resumed mid-epoch replays (`vidlab.data.resumable`); configs pass the run's seed.
    """

    load_split = staticmethod(load_or_generate)

    def __init__(
        self,
        *,
        factors: list[str] | tuple[str, ...] = ("horizontal", "vertical"),
        num_frames: int = 8,
        crop_size: int = 64,
        train_size: int = 2000,
        val_size: int = 400,
        test_size: int = 400,
        seed: int = 0,
        num_distractors: int = 2,
        noise_std: float = 4.0,
        wrap: bool = False,
        nuisance_motion: bool = True,
        batch_size: int = 16,
        num_workers: int = 0,
        cache_dir: str | Path | None = None,
        mean: tuple[float, float, float] = (0.45, 0.45, 0.45),
        std: tuple[float, float, float] = (0.225, 0.225, 0.225),
        num_classes: int | None = None,
        slowfast_alpha: int | None = None,
        shuffle_seed: int = 0,
    ) -> None:
        super().__init__()
        self.spec = SyntheticActionSpec(
            factors=tuple(factors),
            num_frames=num_frames,
            size=crop_size,
            num_distractors=num_distractors,
            noise_std=noise_std,
            wrap=wrap,
            nuisance_motion=nuisance_motion,
            motion=MotionRanges(),
            seed=seed,
        )
        if num_classes is not None and num_classes != self.spec.num_classes:
            raise ValueError(
                f"num_classes={num_classes} but factors {list(factors)} define "
                f"{self.spec.num_classes} classes"
            )
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self.mean, self.std = list(mean), list(std)
        self.slowfast_alpha = slowfast_alpha
        self.shuffle_seed = int(shuffle_seed)
        self.datasets: dict[str, ClipArrayDataset] = {}

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def class_names(self) -> list[str]:
        return self.spec.class_names()

    def data_report(self) -> dict[str, Any]:
        """Dataset provenance recorded in metrics.json."""
        return {
            "name": "synthetic_actions",
            "seed": self.spec.seed,
            "factors": list(self.spec.factors),
            "wrap": self.spec.wrap,
            "nuisance_motion": self.spec.nuisance_motion,
            "num_frames": self.spec.num_frames,
            "crop_size": self.spec.size,
            "num_classes": self.num_classes,
            "splits": {split: {"videos": n} for split, n in self.sizes.items()},
        }
