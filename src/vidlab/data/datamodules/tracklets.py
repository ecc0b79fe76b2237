"""LightningDataModule of the synthetic tracklet actions (`data=synthetic_tracklet_actions`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from vidlab.data.datamodules.synthetic import ClipArrayDataset, GeneratedClipSplits
from vidlab.data.resumable import SplitLoaders
from vidlab.data.synthetic.tracklets import CLASSES, TrackletActionSpec, load_or_generate


class SyntheticTrackletDataModule(GeneratedClipSplits, SplitLoaders, pl.LightningDataModule):
    """Person tubes that walk, run, stand, wave or fall (`vidlab.data.synthetic.tracklets`), as
    normalised clips (3, T, H, W) with the synthetic actions' dataset and loaders.

    Args:
        num_frames: crops per tube (T).
        frame_stride: source frames between crops (the runtime samples a track alike).
        frame_rate: source frame rate the motions are timed at.
        crop_size: crop side in pixels.
        margin: context margin of the crop (`vidlab.data.tubes`).
        box_jitter: track box noise, as a fraction of the person's height.
        passer_prob: probability of a passer-by in the crop.
        jpeg_quality: JPEG quality of the frames before cropping (None: none).
        train_size / val_size / test_size: tubes per split (labels balanced).
        seed: generation seed.
        batch_size, num_workers, shuffle_seed: loaders (see `SyntheticActionDataModule`).
        cache_dir: where generated splits are cached (None: memory only).
        mean / std: per-channel normalisation, in 0..1 intensity units.
        num_classes: must equal ``len(CLASSES)``; configs interpolate it into the model.
    """

    load_split = staticmethod(load_or_generate)

    def __init__(
        self,
        *,
        num_frames: int = 8,
        frame_stride: int = 2,
        frame_rate: float = 25.0,
        crop_size: int = 32,
        margin: float = 0.25,
        box_jitter: float = 0.02,
        passer_prob: float = 0.3,
        jpeg_quality: int | None = 85,
        train_size: int = 3000,
        val_size: int = 500,
        test_size: int = 500,
        seed: int = 0,
        batch_size: int = 16,
        num_workers: int = 0,
        cache_dir: str | Path | None = None,
        mean: tuple[float, float, float] = (0.45, 0.45, 0.45),
        std: tuple[float, float, float] = (0.225, 0.225, 0.225),
        num_classes: int | None = None,
        shuffle_seed: int = 0,
    ) -> None:
        super().__init__()
        self.spec = TrackletActionSpec(
            num_frames=num_frames,
            frame_stride=frame_stride,
            frame_rate=frame_rate,
            size=crop_size,
            margin=margin,
            box_jitter=box_jitter,
            passer_prob=passer_prob,
            jpeg_quality=jpeg_quality,
            seed=seed,
        )
        if num_classes is not None and num_classes != len(CLASSES):
            raise ValueError(
                f"num_classes={num_classes} but the tracklet actions have {len(CLASSES)} "
                f"classes {list(CLASSES)}"
            )
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.batch_size, self.num_workers = batch_size, num_workers
        self.cache_dir = cache_dir
        self.mean, self.std = list(mean), list(std)
        self.shuffle_seed = int(shuffle_seed)
        self.datasets: dict[str, ClipArrayDataset] = {}

    @property
    def num_classes(self) -> int:
        return len(CLASSES)

    @property
    def class_names(self) -> list[str]:
        return list(CLASSES)

    def data_report(self) -> dict[str, Any]:
        """Dataset provenance recorded in metrics.json."""
        return {
            "name": "synthetic_tracklet_actions",
            "classes": list(CLASSES),
            **{k: v for k, v in self.spec.__dict__.items()},
            "splits": {split: {"videos": n} for split, n in self.sizes.items()},
        }
