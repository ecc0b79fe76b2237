"""`VideoDataModule`: any on-disk video dataset, given a layout index (``data=<name>`` configs).

The dataset-specific part is the index object (`vidlab.data.datasets.*Index`), which turns a
layout into per-split lists of videos. This module adds what is common: clip sampling, the train
and eval transforms, multi-view testing, decoding options, DataLoaders, and the data report
(videos listed / found / missing / undecodable per split) that the train task records in
metrics.json.

Batches, as the LightningModule receives them: ``video`` float32 (B, C, T, H, W) normalised
(``[slow, fast]`` with SlowFast packing), ``label`` int64 (B,), ``video_index`` int64 (B,) (the
video's index in its split), ``view_index`` int64 (B,), ``sample_seed`` int64 (B,), and
``soft_label`` float32 (B, num_classes) in training when Mixup / CutMix is on. The train loader
draws one random clip per video (shuffled, drop_last; resumable mid-epoch, see
`vidlab.data.resumable`); val takes the single central view; test
yields all K x S views (`test_views`) of each video as separate samples. In val / test a batch
can be empty (B = 0) if every view in it came from undecodable videos.

The DataLoader workers decode and crop, and ship uint8 clips (B, T, C, H, W); normalisation,
pathway packing and mixing run in `on_after_batch_transfer`, on the device the batch was moved
to. Code that iterates the loaders without a Trainer calls `normalize_batch` itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader

from vidlab.data.clip_sampling import (
    ClipSampler,
    ClipSpec,
    RandomClipSampler,
    SegmentSampler,
    UniformClipSampler,
)
from vidlab.data.datasets.clip_dataset import DecodeOptions, VideoClipDataset
from vidlab.data.datasets.loading import (
    DecodeStatus,
    SeededSampler,
    VideoCollate,
    VideoStatusTable,
)
from vidlab.data.datasets.records import DatasetIndex, SplitIndex, VideoIndex
from vidlab.data.resumable import ResumableDataLoader
from vidlab.data.transforms.mix import MixOptions, MixupCutmix
from vidlab.data.transforms.video import (
    RandAugmentOptions,
    VideoEvalTransform,
    VideoNormalize,
    VideoTrainTransform,
)
from vidlab.errors import UserError

log = logging.getLogger(__name__)

STAGES = ("train", "val", "test")
SAMPLERS = ("clip", "segment")
# decode.short_side value meaning "as small as the stage's transform allows".
AUTO = "auto"
# Sample seeds are non-negative 63-bit values; the mask documents it for SeedSequence.
SEED_MASK = (1 << 63) - 1
MISSING_LIST = "missing_videos.txt"
UNDECODABLE_LIST = "undecodable_videos.txt"


class VideoDataModule(pl.LightningDataModule):
    """Video classification data from a dataset layout on disk.

    Args:
        index: the layout (`UCF101Index`, `KineticsIndex`, ...).
        name: dataset name for reports.
        root: video root (recorded in the report; the index reads it).
        annotation_dir: annotation folder (recorded in the report).
        split: official split number for layouts that have several (recorded in the report).
        num_classes: classes the model predicts; must match the layout.
        num_frames: frames per clip (T), or segments for the segment sampler.
        crop_size: output height and width in pixels.
        batch_size: clips per training batch.
        num_workers: DataLoader worker processes.
        stage_splits: stage ("train", "val", "test") -> split name of the layout.
        sampler: "clip" (random / uniform clips) or "segment" (TSN-style segments).
        frame_stride: frames between sampled frames (clip sampler).
        target_fps: frame rate the stride refers to, or None for each video's own.
        train_crop: "random_resized" or "scale_jitter".
        rrc_scale, rrc_ratio: random resized crop area and aspect ranges.
        jitter_scales: (min, max) short side for scale jitter, pixels.
        eval_short_side: short side before eval crops, pixels (>= crop_size).
        horizontal_flip: random flips in training (False for direction-dependent labels).
        mean, std: normalisation, 0..1 intensity units.
        randaugment: RandAugment options (magnitude, num_layers, prob) or None.
        mixup: Mixup / CutMix options (see `MixOptions`) or None.
        slowfast_alpha: pack [slow, fast] pathways with this ratio, or None.
        test_views: {"temporal": K, "spatial": S}, S in {1, 3}.
        decode: {"backend": auto|decord|pyav, "threads": int, "short_side": auto|null|int}.
        eval_batch_size: batch size of val / test loaders (default: batch_size).
        pin_memory, persistent_workers, prefetch_factor, multiprocessing_context: DataLoader
            options (the last three apply when num_workers > 0).
        seed: base seed of clip sampling and augmentation.
        report_dir: folder for the missing / undecodable video lists (None: not written).
    """

    def __init__(
        self,
        *,
        index: VideoIndex,
        name: str,
        root: str,
        annotation_dir: str | None = None,
        split: int | str | None = None,
        num_classes: int,
        num_frames: int,
        crop_size: int,
        batch_size: int,
        num_workers: int,
        stage_splits: Mapping[str, str] | None = None,
        sampler: str = "clip",
        frame_stride: int = 1,
        target_fps: float | None = None,
        train_crop: str = "random_resized",
        rrc_scale: Sequence[float] = (0.08, 1.0),
        rrc_ratio: Sequence[float] = (3 / 4, 4 / 3),
        jitter_scales: Sequence[int] = (256, 320),
        eval_short_side: int | None = None,
        horizontal_flip: bool = True,
        mean: Sequence[float] = (0.45, 0.45, 0.45),
        std: Sequence[float] = (0.225, 0.225, 0.225),
        randaugment: Mapping[str, Any] | None = None,
        mixup: Mapping[str, Any] | None = None,
        slowfast_alpha: int | None = None,
        test_views: Mapping[str, int] | None = None,
        decode: Mapping[str, Any] | None = None,
        eval_batch_size: int | None = None,
        pin_memory: bool = False,
        persistent_workers: bool = True,
        prefetch_factor: int | None = 2,
        multiprocessing_context: str | None = None,
        seed: int = 0,
        report_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["index"], logger=False)
        _require_at_least(
            1,
            num_classes=num_classes,
            num_frames=num_frames,
            frame_stride=frame_stride,
            crop_size=crop_size,
            batch_size=batch_size,
        )
        _require_at_least(0, num_workers=num_workers)
        if sampler not in SAMPLERS:
            raise UserError(f"data.sampler={sampler!r}, expected one of {SAMPLERS}")
        self.index = index
        self.stage_splits = dict(stage_splits or {s: s for s in STAGES})
        if set(self.stage_splits) != set(STAGES):
            raise ValueError(f"stage_splits must map exactly {STAGES}, got {self.stage_splits}")
        self.test_views = dict(test_views or {"temporal": 1, "spatial": 1})
        self.decode = dict(decode or {})
        self.eval_short_side = eval_short_side or crop_size
        self.normalize = VideoNormalize(mean, std, slowfast_alpha)
        self.mix = MixupCutmix(num_classes, MixOptions(**mixup)) if mixup else None
        self._dataset_index: DatasetIndex | None = None
        self._status: dict[str, VideoStatusTable] = {}
        self._sampler: SeededSampler | None = None
        self.datasets: dict[str, VideoClipDataset] = {}

    # -- what the rest of vidlab reads -------------------------------------------------------

    @property
    def num_classes(self) -> int:
        return int(self.hparams.num_classes)

    @property
    def class_names(self) -> list[str]:
        return list(self._index().class_names)

    def data_report(self) -> dict[str, Any]:
        """Per split: videos listed / found / missing / undecodable (so far) / decoded by PyAV."""
        index = self._index()
        splits = {name: self._split_report(name, split) for name, split in index.splits.items()}
        return {
            "name": self.hparams.name,
            "root": str(self.hparams.root),
            "annotation_dir": str(self.hparams.annotation_dir or self.hparams.root),
            "split": self.hparams.split,
            "num_classes": index.num_classes,
            "stage_splits": dict(self.stage_splits),
            "videos_used": {
                stage: splits[s]["found"] for stage, s in self.stage_splits.items() if s in splits
            },
            "missing_list": self._write_missing_list(index),
            "undecodable_list": self._write_undecodable_list(),
            "splits": splits,
        }

    def normalize_batch(self, batch: dict[str, Any], *, train: bool = False) -> dict[str, Any]:
        """Loader batch (uint8 video) -> model batch (normalised float32 video, packed pathways;
        Mixup / CutMix and ``soft_label`` when `train` and mixing is configured)."""
        video = batch["video"]
        if video.dtype != torch.uint8:
            return batch  # already normalised
        batch = dict(batch)
        batch["video"] = self.normalize(video)
        if train and self.mix is not None and video.shape[0] > 0:
            seeds = batch["sample_seed"].tolist()
            rng = np.random.default_rng([s & SEED_MASK for s in seeds])
            batch["video"], batch["soft_label"] = self.mix(batch["video"], batch["label"], rng)
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Normalise (and, in training, mix) on the device the batch was moved to."""
        training = self.trainer is not None and self.trainer.training
        return self.normalize_batch(batch, train=training)

    def log_decode_health(self, stage: str) -> int:
        """Log (and list in report_dir) the undecodable videos of `stage`'s split; their count."""
        split = self.stage_splits[stage]
        status = self._status.get(split)
        if status is None:
            return 0
        bad, pyav = status.count(DecodeStatus.UNDECODABLE), status.count(DecodeStatus.PYAV)
        listing = self._write_undecodable_list()
        level = logging.WARNING if bad else logging.INFO
        log.log(
            level,
            "%s split %r: %d undecodable videos skipped so far, %d decoded with PyAV%s",
            stage,
            split,
            bad,
            pyav,
            f" (list: {listing})" if bad and listing else "",
        )
        return bad

    # -- Lightning hooks ---------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        index = self._index()
        self._write_missing_list(index)
        wanted = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": ("test",),
        }.get(stage or "", STAGES)
        for name in wanted:
            if name not in self.datasets:
                self.datasets[name] = self._make_dataset(name, index)
        self._attach_health_callback()

    def train_dataloader(self) -> DataLoader:
        dataset = self.datasets["train"]
        return self._loader(dataset, self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["val"], self._eval_batch_size(), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["test"], self._eval_batch_size(), shuffle=False)

    # -- construction ------------------------------------------------------------------------

    def _index(self) -> DatasetIndex:
        if self._dataset_index is None:
            index = self.index.build()
            if index.num_classes != self.num_classes:
                raise UserError(
                    f"data.num_classes={self.num_classes} but the {index.name} layout at "
                    f"{index.root} defines {index.num_classes} classes; set data.num_classes="
                    f"{index.num_classes} (or fix the annotation files)"
                )
            self._dataset_index = index
            for name, split in index.splits.items():
                log.info(
                    "%s %s: %d listed, %d found, %d missing%s",
                    index.name,
                    name,
                    split.listed,
                    len(split.records),
                    len(split.missing),
                    f" ({split.error})" if split.error else "",
                )
        return self._dataset_index

    def _usable_split(self, stage: str, index: DatasetIndex) -> SplitIndex:
        split = index.split(self.stage_splits[stage])
        where = f"{index.name} split {split.name!r} (data.stage_splits.{stage})"
        if split.error:
            raise FileNotFoundError(f"{where}: {split.error}")
        if not split.records:
            raise FileNotFoundError(
                f"{where}: none of its {split.listed} listed videos is under "
                f"{index.root}; check data.root"
            )
        if not split.labeled:
            raise UserError(
                f"{where} has no labels (withheld by the dataset authors); map "
                f"stage {stage!r} to a labeled split"
            )
        return split

    def _make_dataset(self, stage: str, index: DatasetIndex) -> VideoClipDataset:
        split = self._usable_split(stage, index)
        status = self._status.setdefault(split.name, VideoStatusTable(len(split.records)))
        train = stage == "train"
        transform = self._train_transform() if train else self._eval_transform(stage)
        return VideoClipDataset(
            split.records,
            sampler=self._clip_sampler(stage),
            transform=transform,
            decode=self._decode_options(transform),
            seed=int(self.hparams.seed),
            status=status,
            split=split.name,
        )

    def _clip_sampler(self, stage: str) -> ClipSampler:
        hp = self.hparams
        views = int(self.test_views["temporal"]) if stage == "test" else 1
        if hp.sampler == "segment":
            return SegmentSampler(hp.num_frames, random_offset=stage == "train", num_views=views)
        spec = ClipSpec(hp.num_frames, hp.frame_stride, hp.target_fps)
        return RandomClipSampler(spec) if stage == "train" else UniformClipSampler(spec, views)

    def _train_transform(self) -> VideoTrainTransform:
        hp = self.hparams
        return VideoTrainTransform(
            crop_size=hp.crop_size,
            crop=hp.train_crop,
            rrc_scale=hp.rrc_scale,
            rrc_ratio=hp.rrc_ratio,
            jitter_scales=hp.jitter_scales,
            horizontal_flip=hp.horizontal_flip,
            randaugment=RandAugmentOptions(**hp.randaugment) if hp.randaugment else None,
        )

    def _eval_transform(self, stage: str) -> VideoEvalTransform:
        hp = self.hparams
        return VideoEvalTransform(
            crop_size=hp.crop_size,
            short_side=self.eval_short_side,
            num_spatial_views=int(self.test_views["spatial"]) if stage == "test" else 1,
        )

    def _decode_options(self, transform: VideoTrainTransform | VideoEvalTransform) -> DecodeOptions:
        short_side = self.decode.get("short_side", AUTO)
        if short_side == AUTO:
            short_side = transform.decode_short_side()
        return DecodeOptions(
            backend=str(self.decode.get("backend", "auto")),
            threads=int(self.decode.get("threads", 1)),
            short_side=None if short_side is None else int(short_side),
        )

    def _eval_batch_size(self) -> int:
        return int(self.hparams.eval_batch_size or self.hparams.batch_size)

    def _loader(self, dataset: VideoClipDataset, batch_size: int, *, shuffle: bool) -> DataLoader:
        hp = self.hparams
        workers = int(hp.num_workers)
        extra: dict[str, Any] = {}
        if workers > 0:
            extra = {
                "persistent_workers": bool(hp.persistent_workers),
                "prefetch_factor": hp.prefetch_factor,
                "multiprocessing_context": hp.multiprocessing_context,
            }
        common = {
            "batch_size": batch_size,
            "num_workers": workers,
            "collate_fn": VideoCollate(dataset.clip_shape()),
            "pin_memory": bool(hp.pin_memory),
            **extra,
        }
        if shuffle:
            # Resumable mid-epoch; its generator (the workers' base seed) is reseeded per epoch.
            return ResumableDataLoader(
                dataset,
                sampler=self._train_sampler(len(dataset)),
                drop_last=True,
                seed=int(hp.seed),
                **common,
            )
        # Seeds the workers' torch / numpy / random generators (base seed per epoch).
        return DataLoader(dataset, generator=torch.Generator().manual_seed(int(hp.seed)), **common)

    def _train_sampler(self, num_samples: int) -> SeededSampler:
        """One sampler for the datamodule's life: a new loader continues its epoch count (the
        Trainer also sets the epoch explicitly)."""
        if self._sampler is None or len(self._sampler) != num_samples:
            self._sampler = SeededSampler(num_samples, int(self.hparams.seed), shuffle=True)
        return self._sampler

    # -- reports -----------------------------------------------------------------------------

    def _split_report(self, name: str, split: SplitIndex) -> dict[str, Any]:
        status = self._status.get(name)
        return {
            "listed": split.listed,
            "found": len(split.records),
            "missing": len(split.missing),
            "undecodable": status.count(DecodeStatus.UNDECODABLE) if status else 0,
            "decoded_with_pyav": status.count(DecodeStatus.PYAV) if status else 0,
            "annotation": split.annotation,
            "error": split.error,
        }

    def _report_path(self, filename: str) -> Path | None:
        if not self.hparams.report_dir:
            return None
        if self.trainer is not None and not self.trainer.is_global_zero:
            return None
        folder = Path(self.hparams.report_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / filename

    def _write_missing_list(self, index: DatasetIndex) -> str | None:
        """``<split>\\t<video id>`` per missing video; the file's path (None if not written)."""
        path = self._report_path(MISSING_LIST)
        if path is None:
            return None
        with open(path, "w", encoding="utf-8") as f:
            for name, split in index.splits.items():
                f.writelines(f"{name}\t{video_id}\n" for video_id in split.missing)
        return str(path)

    def _write_undecodable_list(self) -> str | None:
        """``<split>\\t<path>`` per video found undecodable so far; the file's path."""
        path = self._report_path(UNDECODABLE_LIST)
        if path is None or self._dataset_index is None:
            return None
        with open(path, "w", encoding="utf-8") as f:
            for name, status in self._status.items():
                records = self._dataset_index.splits[name].records
                f.writelines(
                    f"{name}\t{records[i].path}\n" for i in status.indices(DecodeStatus.UNDECODABLE)
                )
        return str(path)

    def _attach_health_callback(self) -> None:
        """Make sure undecodable videos are logged at every epoch end, without config wiring."""
        trainer = self.trainer
        if trainer is not None and not any(
            isinstance(c, DecodeHealthCallback) for c in trainer.callbacks
        ):
            trainer.callbacks.append(DecodeHealthCallback())


class DecodeHealthCallback(pl.Callback):
    """Logs undecodable-video counts at the end of every train / val / test epoch.

    `VideoDataModule.setup` adds it to the trainer when it is not there already.
    """

    def _log(self, trainer: pl.Trainer, stage: str) -> None:
        datamodule = trainer.datamodule
        if isinstance(datamodule, VideoDataModule) and not trainer.sanity_checking:
            datamodule.log_decode_health(stage)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log(trainer, "train")

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log(trainer, "val")

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log(trainer, "test")


def _require_at_least(minimum: int, **values: int) -> None:
    """Raise a `UserError` naming the first `data.<name>` setting below `minimum`."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise UserError(f"data.{name}={value!r}, expected an integer >= {minimum}")
