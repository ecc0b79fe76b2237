"""`data=synthetic_untrimmed`: labelled windows cut from synthetic untrimmed videos.

A classifier for temporal localization sees windows of ``num_frames`` consecutive frames; each
window is labelled with the class that covers the majority of its frames, or ``background``
(class 0) when no action covers at least half of them. The videos, their MP4 files and the
ActivityNet-format ground truth come from `vidlab.data.synthetic.untrimmed` (cached).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import Dataset

from vidlab.data.resumable import SplitLoaders
from vidlab.data.synthetic.actions import MotionRanges, SyntheticActionSpec
from vidlab.data.synthetic.untrimmed import (
    ANNOTATIONS_FILE,
    SUBSETS,
    SyntheticUntrimmedSpec,
    load_or_generate,
)
from vidlab.evaluation.localization import SegmentTable
from vidlab.evaluation.localization.io import read_activitynet_ground_truth

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
BACKGROUND = "background"


def frame_labels(num_frames: int, segments: list[list[int]], class_ids: list[int]) -> np.ndarray:
    """(T,) int64 class of every frame: 0 for background, 1 + action class inside a segment."""
    labels = np.zeros(num_frames, dtype=np.int64)
    for (start, end), c in zip(segments, class_ids, strict=True):
        labels[start:end] = 1 + c
    return labels


def window_labels(
    labels: np.ndarray, starts: np.ndarray, span: int, num_classes: int
) -> np.ndarray:
    """Majority label of each window ``[s, s + span)``; background unless a class covers at
    least half of the window's frames."""
    windows = labels[starts[:, None] + np.arange(span)[None, :]]  # (W, span)
    counts = np.stack([(windows == c).sum(1) for c in range(num_classes)], axis=1)  # (W, K)
    counts[:, 0] = 0
    best = counts.argmax(1)
    return np.where(counts[np.arange(len(starts)), best] * 2 >= span, best, 0)


class WindowDataset(Dataset):
    """Windows of consecutive frames of concatenated videos, normalised float (3, T, H, W).

    Args:
        frames: (N, H, W, 3) uint8 frames of all videos, concatenated.
        starts: (W,) index in `frames` of each window's first frame (windows never cross videos).
        labels: (W,) class of each window.
        span: frames per window.
    """

    def __init__(
        self,
        frames: np.ndarray,
        starts: np.ndarray,
        labels: np.ndarray,
        span: int,
        mean: list[float],
        std: list[float],
    ) -> None:
        self.frames, self.starts, self.labels, self.span = frames, starts, labels, span
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1, 1) * 255.0

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        start = int(self.starts[index])
        clip = torch.from_numpy(np.array(self.frames[start : start + self.span]))  # (T, H, W, 3)
        video = (clip.permute(3, 0, 1, 2).float() - self.mean) / self.std  # (3, T, H, W)
        return {
            "video": video,
            "label": torch.tensor(int(self.labels[index]), dtype=torch.int64),
            "video_index": torch.tensor(index, dtype=torch.int64),
            "view_index": torch.tensor(0, dtype=torch.int64),
        }


class SyntheticUntrimmedDataModule(SplitLoaders, pl.LightningDataModule):
    """Windows of synthetic untrimmed videos for training a localization classifier.

    Args:
        factors / noise_std / num_distractors / nuisance_motion: the actions' classes and look
            (`SyntheticActionSpec`).
        num_frames: frames per window (the classifier's clip length).
        crop_size: frame size in pixels (even).
        fps: frame rate of the videos.
        actions_per_video / action_frames / gap_frames: inclusive ranges (see
            `SyntheticUntrimmedSpec`).
        train_videos / val_videos / test_videos: videos per split.
        train_window_stride / eval_window_stride: frames between window starts.
        seed: generation seed; cache_dir: where the set is cached (required: the videos are
            files that `task=localize` reads).
        num_classes: must be 1 + the number of action classes (background is class 0).
        batch_size / num_workers / mean / std / shuffle_seed: as `SyntheticActionDataModule`.
    """

    def __init__(
        self,
        *,
        factors: list[str] | tuple[str, ...] = ("horizontal", "vertical"),
        num_frames: int = 8,
        crop_size: int = 32,
        fps: float = 10.0,
        actions_per_video: tuple[int, int] = (3, 5),
        action_frames: tuple[int, int] = (12, 20),
        gap_frames: tuple[int, int] = (6, 16),
        train_videos: int = 48,
        val_videos: int = 10,
        test_videos: int = 10,
        train_window_stride: int = 3,
        eval_window_stride: int = 4,
        num_distractors: int = 2,
        noise_std: float = 4.0,
        nuisance_motion: bool = True,
        seed: int = 0,
        cache_dir: str | Path = "data/synthetic_untrimmed",
        num_classes: int | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        mean: tuple[float, float, float] = (0.45, 0.45, 0.45),
        std: tuple[float, float, float] = (0.225, 0.225, 0.225),
        shuffle_seed: int = 0,
    ) -> None:
        super().__init__()
        look = SyntheticActionSpec(
            factors=tuple(factors),
            size=crop_size,
            num_distractors=num_distractors,
            noise_std=noise_std,
            nuisance_motion=nuisance_motion,
            motion=MotionRanges(),
        )
        self.spec = SyntheticUntrimmedSpec(
            actions=look,
            fps=float(fps),
            actions_per_video=tuple(actions_per_video),
            action_frames=tuple(action_frames),
            gap_frames=tuple(gap_frames),
            seed=seed,
        )
        if num_classes is not None and num_classes != self.num_classes:
            raise ValueError(
                f"num_classes={num_classes} but factors {list(factors)} define "
                f"{look.num_classes} action classes + background = {self.num_classes}"
            )
        if num_frames > action_frames[0]:
            raise ValueError(f"num_frames={num_frames} is longer than the shortest action")
        self.num_frames = num_frames
        self.counts = {"train": train_videos, "val": val_videos, "test": test_videos}
        self.strides = {"train": train_window_stride, "val": eval_window_stride}
        self.strides["test"] = eval_window_stride
        self.cache_dir = Path(cache_dir)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.mean, self.std = list(mean), list(std)
        self.shuffle_seed = int(shuffle_seed)
        self.datasets: dict[str, WindowDataset] = {}
        self.folder: Path | None = None

    @property
    def num_classes(self) -> int:
        return 1 + self.spec.actions.num_classes

    @property
    def class_names(self) -> list[str]:
        return [BACKGROUND, *self.spec.class_names()]

    def prepare_data(self) -> None:
        self.folder = load_or_generate(self.spec, self.counts, self.cache_dir)

    @property
    def annotations_path(self) -> Path:
        """The ActivityNet-format ground truth of every split (subsets training/validation/testing)."""
        if self.folder is None:
            self.prepare_data()
        return self.folder / ANNOTATIONS_FILE

    def videos_dir(self) -> Path:
        """Folder of ``<split>_<index>.mp4`` files."""
        return self.annotations_path.parent / "videos"

    def split_videos(self, split: str) -> list[Path]:
        """The MP4 files of a split, in index order."""
        return sorted(self.videos_dir().glob(f"{split}_*.mp4"))

    def localization_videos(self, split: str = "test") -> list[Path]:
        """The MP4 files of `split` (what ``task=localize data=synthetic_untrimmed`` reads)."""
        return self.split_videos(split)

    def ground_truth(self, split: str = "test") -> SegmentTable:
        """The ground-truth segments of `split` (ActivityNet subset ``SUBSETS[split]``)."""
        return read_activitynet_ground_truth(self.annotations_path, SUBSETS[split])

    @property
    def name(self) -> str:
        return "synthetic_untrimmed"

    def _windows(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        database = json.loads(self.annotations_path.read_text())["database"]
        names = self.spec.class_names()
        starts, labels, offset = [], [], 0
        for entry in database.values():
            if entry["subset"] != SUBSETS[split]:
                continue
            n = int(entry["num_frames"])
            anns = entry["annotations"]
            per_frame = frame_labels(
                n, [a["frames"] for a in anns], [names.index(a["label"]) for a in anns]
            )
            local = np.arange(0, n - self.num_frames + 1, self.strides[split])
            labels.append(window_labels(per_frame, local, self.num_frames, self.num_classes))
            starts.append(local + offset)
            offset += n
        return np.concatenate(starts), np.concatenate(labels)

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split in self.datasets or not self.counts[split]:
                continue
            frames = np.load(self.annotations_path.parent / f"frames_{split}.npy", mmap_mode="r")
            starts, labels = self._windows(split)
            self.datasets[split] = WindowDataset(
                frames, starts, labels, self.num_frames, self.mean, self.std
            )

    def data_report(self) -> dict[str, Any]:
        """Dataset provenance recorded in metrics.json."""
        report: dict[str, Any] = {
            "name": "synthetic_untrimmed",
            "seed": self.spec.seed,
            "factors": list(self.spec.actions.factors),
            "fps": self.spec.fps,
            "num_frames": self.num_frames,
            "crop_size": self.spec.actions.size,
            "num_classes": self.num_classes,
            "splits": {},
        }
        for split, n in self.counts.items():
            entry: dict[str, Any] = {"videos": n}
            if split in self.datasets:
                labels = self.datasets[split].labels
                entry["windows"] = len(labels)
                entry["background_windows"] = int((labels == 0).sum())
            report["splits"][split] = entry
        return report
