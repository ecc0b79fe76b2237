"""Detection dataset and datamodule over any source of `DetectionRecord`s.

A source (`SyntheticDetectionSource`, `MotDetectionSource`, `CocoDetectionSource`, or anything with
``records(split)`` and ``describe()``) is injected by the ``data=`` config. Training images go
through `TrainAugment` (random scale + crop to ``image_size``, flip, colour jitter, optional mosaic,
ignore regions masked); validation and test images are letterboxed to ``image_size`` and carry
their scale, so predictions map back to original pixels.

Batches are ``{"images": (B, 3, H, W) float RGB in [0, 1], "targets": [{"boxes": (N, 4) xyxy,
"labels": (N,) int64, "ignore": (M, 4) xyxy}, ...], "image_ids": (B,), "scales": (B,)}``; the
networks normalise inside (torchvision's transform), so the data never does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import cv2
import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidlab.data.detection.records import (
    CLASS_NAMES,
    PERSON_LABEL,
    DetectionDataError,
    DetectionRecord,
    split_summary,
)
from vidlab.data.detection.transforms import PAD_VALUE, TrainAugment, letterbox, mosaic

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class DetectionSource(Protocol):
    def records(self, split: str) -> list[DetectionRecord]: ...

    def describe(self) -> dict[str, Any]: ...


def read_rgb(record: DetectionRecord) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of a record's image; the size must match the annotation."""
    image = cv2.imread(str(record.image), cv2.IMREAD_COLOR)
    if image is None:
        raise DetectionDataError(f"{record.image}: not a readable image ({record.source})")
    if image.shape[:2] != (record.height, record.width):
        raise DetectionDataError(
            f"{record.image}: image is {image.shape[1]}x{image.shape[0]}, its annotation "
            f"({record.source}) says {record.width}x{record.height}"
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class DetectionDataset(Dataset):
    """Records as tensors; augmented when `augment` is given, else letterboxed.

    Args:
        records: the split's records.
        size: (H, W) of every output image.
        augment: the training pipeline, or None for evaluation.
        cache_images: keep decoded images in memory after the first read.
    """

    def __init__(
        self,
        records: list[DetectionRecord],
        size: tuple[int, int],
        augment: TrainAugment | None = None,
        cache_images: bool = False,
    ) -> None:
        self.records, self.size, self.augment = records, (int(size[0]), int(size[1])), augment
        self.cache_images = cache_images
        self._images: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.records)

    def _sample(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        image = self._images.get(index)
        if image is None:
            image = read_rgb(record)
            if self.cache_images:
                self._images[index] = image
        return {"image": image, "boxes": record.boxes_xyxy, "ignore": record.ignore_xyxy}

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample, scale = self._sample(index), 1.0
        if self.augment is None:
            sample, scale = letterbox(sample, self.size, PAD_VALUE)
        else:
            # Drawn from torch's generator: seeded per run and per worker, new every epoch.
            rng = np.random.default_rng([int(torch.randint(2**31 - 1, ())), index])
            if rng.random() < self.augment.mosaic_prob:
                others = rng.integers(0, len(self.records), 3)
                parts = [sample, *(self._sample(int(i)) for i in others)]
                sample = self.augment.finish(mosaic(parts, self.size, rng), rng)
            else:
                sample = self.augment(sample, rng)
        image = torch.from_numpy(np.ascontiguousarray(sample["image"])).permute(2, 0, 1)
        boxes = torch.from_numpy(sample["boxes"]).float().reshape(-1, 4)
        return {
            "image": image.float().div_(255.0),  # (3, H, W) RGB in [0, 1]
            "target": {
                "boxes": boxes,
                "labels": torch.full((len(boxes),), PERSON_LABEL, dtype=torch.int64),
                "ignore": torch.from_numpy(sample["ignore"]).float().reshape(-1, 4),
            },
            "image_id": self.records[index].image_id,
            "scale": scale,
        }


def collate_detection(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack same-size images; targets stay a list (one dict per image)."""
    return {
        "images": torch.stack([b["image"] for b in batch]),
        "targets": [b["target"] for b in batch],
        "image_ids": torch.tensor([b["image_id"] for b in batch]),
        "scales": torch.tensor([b["scale"] for b in batch], dtype=torch.float64),
    }


class DetectionDataModule(pl.LightningDataModule):
    """Person detection data from an injected source (see the module docstring).

    Args:
        source: the records provider (built by the ``data=`` config).
        name: dataset name for reports.
        image_size: (H, W) network input; multiples of 32 avoid padding inside the network.
        batch_size: training images per batch.
        eval_batch_size: validation/test images per batch (None: ``batch_size``).
        num_workers: DataLoader workers.
        augment: `TrainAugment` fields other than ``size``.
        cache_images: keep decoded images in memory (small sets).
        limit: optional ``{"train": n, ...}``: use only the first n records of a split (smoke runs).
        num_classes: labels including background (torchvision's convention): 2 (person).
    """

    def __init__(
        self,
        *,
        source: DetectionSource,
        name: str = "detection",
        image_size: tuple[int, int] = (192, 320),
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        augment: Mapping[str, Any] | None = None,
        cache_images: bool = True,
        limit: Mapping[str, int] | None = None,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        if num_classes != len(CLASS_NAMES) + 1:
            raise ValueError(
                f"num_classes={num_classes}: person detection data has background and "
                f"{CLASS_NAMES}, i.e. {len(CLASS_NAMES) + 1} labels"
            )
        self.num_classes = num_classes
        self.source, self.name = source, name
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or batch_size)
        self.num_workers, self.cache_images = int(num_workers), cache_images
        options = {
            k: v if isinstance(v, (int, float, bool, str)) else tuple(v)
            for k, v in dict(augment or {}).items()
        }
        self.augment = TrainAugment(size=self.image_size, **options)
        self.limit = {str(k): int(v) for k, v in dict(limit or {}).items()}
        self.class_names = list(CLASS_NAMES)
        self.datasets: dict[str, DetectionDataset] = {}
        self._records: dict[str, list[DetectionRecord]] = {}

    def records(self, split: str) -> list[DetectionRecord]:
        if split not in self._records:
            records = self.source.records(split)
            if split in self.limit:
                records = records[: self.limit[split]]
            if not records:
                raise DetectionDataError(f"{self.name}: the {split} split has no image")
            self._records[split] = records
        return self._records[split]

    def prepare_data(self) -> None:
        for split in SPLITS:  # builds generated sets once, before any worker starts
            self.source.records(split)

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.datasets:
                augment = self.augment if split == "train" else None
                self.datasets[split] = DetectionDataset(
                    self.records(split), self.image_size, augment, self.cache_images
                )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size if split == "train" else self.eval_batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate_detection,
            drop_last=False,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def input_spec(self) -> dict[str, Any]:
        """What the network expects (stored in checkpoints; the module adds its normalisation)."""
        return {
            "image_size": list(self.image_size),
            "resize": "letterbox",
            "letterbox_pad": "right-bottom",
            "pad_value": PAD_VALUE,
            "layout": "NCHW",
            "value_range": "RGB in [0, 1]",
            "box_format": "xyxy",
            "person_label": PERSON_LABEL,
            "class_names": list(self.class_names),
        }

    def data_report(self) -> dict[str, Any]:
        """Source description and split sizes (recorded with results)."""
        return {
            "name": self.name,
            "source": self.source.describe(),
            "splits": {s: split_summary(self.records(s)) for s in SPLITS},
        }
