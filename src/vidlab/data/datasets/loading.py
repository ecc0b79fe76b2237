"""DataLoader plumbing for clip datasets: shared decode status, seeded sampling, collation.

* `VideoStatusTable` lives in shared memory, so every DataLoader worker sees which videos decord
  could not read (PyAV is then used directly, and the fallback is logged once per file), which
  are undecodable (counted across workers, reported each epoch), and each video's stored frame
  size (probed once per run, for reduced-resolution decoding).
* `SeededSampler` yields ``(index, sample_seed)`` pairs: every random choice for a sample (clip
  position, crop, flip, RandAugment, mixing) derives from its seed, so a run is reproducible
  whatever the number of workers and whichever worker builds which sample.
* `VideoCollate` stacks samples into the batch dict and drops samples that came back None
  (undecodable videos in evaluation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import IntEnum
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler, default_collate

# Key under which samples and batches carry the seed of each sample.
SEED_KEY = "sample_seed"
_SEED_BOUND = 2**63 - 1


class DecodeStatus(IntEnum):
    """What is known about decoding a video in this run."""

    UNKNOWN = 0
    DECORD = 1  # decord reads it
    PYAV = 2  # decord cannot, PyAV can
    UNDECODABLE = 3


class VideoStatusTable:
    """Per-video decode status and stored frame size, in memory shared with the workers.

    Args:
        num_videos: videos of the split.
    """

    _STATUS, _HEIGHT, _WIDTH = 0, 1, 2

    def __init__(self, num_videos: int) -> None:
        self._table = torch.zeros((num_videos, 3), dtype=torch.int32).share_memory_()

    def __len__(self) -> int:
        return self._table.shape[0]

    def status(self, index: int) -> DecodeStatus:
        return DecodeStatus(int(self._table[index, self._STATUS]))

    def set_status(self, index: int, status: DecodeStatus) -> bool:
        """Record `status`; True when it changed (the caller logs first occurrences)."""
        changed = self.status(index) != status
        self._table[index, self._STATUS] = int(status)
        return changed

    def frame_size(self, index: int) -> tuple[int, int] | None:
        """(height, width) stored for the video, None until probed."""
        height, width = (int(v) for v in self._table[index, self._HEIGHT :])
        return (height, width) if height > 0 else None

    def set_frame_size(self, index: int, height: int, width: int) -> None:
        self._table[index, self._HEIGHT :] = torch.tensor([height, width], dtype=torch.int32)

    def indices(self, status: DecodeStatus) -> list[int]:
        """Videos with `status`, ascending."""
        return torch.nonzero(self._table[:, self._STATUS] == int(status)).flatten().tolist()

    def count(self, status: DecodeStatus) -> int:
        return int((self._table[:, self._STATUS] == int(status)).sum())


def sample_seed(base_seed: int, *keys: int) -> int:
    """A 63-bit seed derived from `base_seed` and `keys` (independent streams per key tuple)."""
    return int(np.random.SeedSequence([base_seed, *keys]).generate_state(2, np.uint64)[0] >> 1)


class SeededSampler(Sampler):
    """Yields ``(index, sample_seed)`` for each of `num_samples` samples, shuffled per epoch.

    The order and the seeds depend only on (seed, epoch). The epoch advances by one at every
    new iteration; `set_epoch` (which Lightning calls) overrides it. `skip_next` makes the next
    iteration start further into its epoch (resuming mid-epoch, see `vidlab.data.resumable`).

    Args:
        num_samples: dataset length.
        seed: base seed.
        shuffle: random order per epoch (training) or 0..num_samples-1.
    """

    def __init__(self, num_samples: int, seed: int, shuffle: bool = True) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self._start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip_next(self, num_items: int) -> None:
        """Start the next iteration `num_items` samples into its epoch."""
        self._start = int(num_items)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng(sample_seed(self.seed, self.epoch))
        start, self.epoch, self._start = self._start, self.epoch + 1, 0
        order = rng.permutation(self.num_samples) if self.shuffle else np.arange(self.num_samples)
        seeds = rng.integers(0, _SEED_BOUND, size=self.num_samples, dtype=np.int64)
        yield from zip(order[start:].tolist(), seeds[start:].tolist(), strict=True)


class VideoCollate:
    """Stack sample dicts into a batch, dropping None samples (undecodable videos in evaluation).

    A batch is ``{"video": uint8 (B, T, C, H, W), "label": int64 (B,), "video_index": int64 (B,),
    "view_index": int64 (B,), "sample_seed": int64 (B,)}``; the datamodule normalises the video
    (and mixes training batches, drawing from the sample seeds) where the batch is used. A batch
    whose samples were all dropped has B = 0.

    Args:
        clip_shape: per-sample uint8 clip shape (T, C, H, W), for B = 0 batches.
    """

    def __init__(self, clip_shape: Sequence[int]) -> None:
        self.clip_shape = tuple(clip_shape)

    def __call__(self, samples: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
        kept = [s for s in samples if s is not None]
        if kept:
            # default_collate stacks straight into shared memory inside a worker, which saves
            # the copy the worker-to-main-process transfer would otherwise make.
            video = default_collate([s["video"] for s in kept])
        else:
            video = torch.empty((0, *self.clip_shape), dtype=torch.uint8)
        batch = {"video": video}
        for key in ("label", "video_index", "view_index", SEED_KEY):
            batch[key] = torch.tensor([s[key] for s in kept], dtype=torch.int64)
        return batch
