"""A map-style dataset of clips decoded from video files.

Sample ``i`` is view ``i % V`` of video ``i // V``, with V = temporal views x spatial views
(1 for training), so the test loader yields every view of every video as its own sample.
Readers are opened per sample inside the worker that needs them (nothing decoder-related is
created in the parent process or shared between workers).

A video that cannot be decoded never stops a run: it is marked in the shared status table,
logged once, and counted; in training the sample is replaced by another video (drawn from the
sample's seed), in evaluation it is dropped (the collate function removes it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vidlab.data.clip_sampling import ClipSampler, Timeline
from vidlab.data.datasets.loading import (
    SEED_KEY,
    DecodeStatus,
    VideoStatusTable,
    sample_seed,
)
from vidlab.data.datasets.records import VideoRecord
from vidlab.data.io import (
    Backend,
    VideoDecodeError,
    VideoInfo,
    read_clip,
    reduced_size,
    stored_frame_size,
)
from vidlab.data.transforms.video import VideoEvalTransform, VideoTrainTransform

log = logging.getLogger(__name__)

# Other videos tried in place of an undecodable one before a training sample gives up.
MAX_REPLACEMENTS = 10
# Independent random streams of one sample.
_SAMPLING_STREAM, _TRANSFORM_STREAM, _REPLACEMENT_STREAM = 0, 1, 2


@dataclass(frozen=True)
class DecodeOptions:
    """How videos are decoded.

    Attributes:
        backend: "auto" (decord, PyAV fallback), "decord" or "pyav".
        threads: decoder threads per worker (1: the DataLoader workers are the parallelism).
        short_side: decode at reduced resolution, short side in pixels, when the video is
            larger; None decodes at the stored resolution.
    """

    backend: str = Backend.AUTO.value
    threads: int = 1
    short_side: int | None = None


class VideoClipDataset(Dataset):
    """Clips of `records`, sampled by `sampler` and transformed by `transform`.

    Args:
        records: the split's videos.
        sampler: clip sampler; its `num_views` are the temporal views.
        transform: a `VideoTrainTransform` (training: random, one view) or a
            `VideoEvalTransform` (its `num_views` spatial views per temporal view).
        decode: decoding options.
        seed: base seed for samples requested by plain integer index.
        status: shared decode status of these records (created when None).
        split: split name, for messages.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        *,
        sampler: ClipSampler,
        transform: VideoTrainTransform | VideoEvalTransform,
        decode: DecodeOptions = DecodeOptions(),
        seed: int = 0,
        status: VideoStatusTable | None = None,
        split: str = "",
    ) -> None:
        self.records = list(records)
        self.sampler = sampler
        self.transform = transform
        self.train = isinstance(transform, VideoTrainTransform)
        self.spatial_views = 1 if self.train else transform.num_views
        self.views_per_video = sampler.num_views * self.spatial_views
        self.decode = decode
        self.backends = Backend(decode.backend).chain()
        self.seed = seed
        self.status = status if status is not None else VideoStatusTable(len(self.records))
        if len(self.status) != len(self.records):
            raise ValueError(
                f"status table has {len(self.status)} rows for {len(self.records)} records"
            )
        self.split = split

    def __len__(self) -> int:
        return len(self.records) * self.views_per_video

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any] | None:
        """Sample `key` (an index, or an ``(index, seed)`` pair from `SeededSampler`).

        Returns:
            ``{"video": uint8 (T, C, H, W), "label", "video_index", "view_index",
            "sample_seed"}``, or None for an undecodable video in evaluation.
        """
        index, seed = key if isinstance(key, tuple) else (key, sample_seed(self.seed, key))
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range for {len(self)} samples")
        video_index, view = divmod(index, self.views_per_video)
        sample = self._try_load(video_index, view, seed)
        if sample is not None or not self.train:
            return sample
        return self._replacement(video_index, seed)

    def _replacement(self, failed: int, seed: int) -> dict[str, Any]:
        """A training sample from another video, drawn from the sample's seed."""
        rng = np.random.default_rng(sample_seed(seed, _REPLACEMENT_STREAM))
        tried = [failed]
        for _ in range(MAX_REPLACEMENTS):
            video_index = int(rng.integers(len(self.records)))
            tried.append(video_index)
            sample = self._try_load(video_index, 0, seed)
            if sample is not None:
                return sample
        paths = [str(self.records[i].path) for i in tried]
        raise RuntimeError(
            f"split {self.split!r}: {len(tried)} videos in a row could not be "
            f"decoded ({paths}); is the dataset root right?"
        )

    def _try_load(self, video_index: int, view: int, seed: int) -> dict[str, Any] | None:
        """The sample, or None (after marking the video) when it cannot be decoded."""
        if self.status.status(video_index) is DecodeStatus.UNDECODABLE:
            return None
        try:
            return self._load(video_index, view, seed)
        except VideoDecodeError as err:
            if self.status.set_status(video_index, DecodeStatus.UNDECODABLE):
                log.warning(
                    "split %r: skipping undecodable video %s (%s)",
                    self.split,
                    self.records[video_index].path,
                    err.reason,
                )
            return None

    def clip_indices(self, info: VideoInfo, view: int, seed: int) -> np.ndarray:
        """Frame indices of `view` of a video described by `info`, for sample seed `seed`.

        The same function picks the frames whichever backend decodes them (and the throughput
        benchmark uses it to decode the very same frames with plain decord).
        """
        temporal = view // self.spatial_views
        timeline = Timeline(info.num_frames, info.fps, info.frame_times, info.is_vfr)
        rng = np.random.default_rng(sample_seed(seed, _SAMPLING_STREAM))
        return self.sampler(timeline, temporal, rng).frame_indices

    def _load(self, video_index: int, view: int, seed: int) -> dict[str, Any]:
        record = self.records[video_index]
        clip = read_clip(
            record.path,
            lambda info: self.clip_indices(info, view, seed),
            backends=self._backends(video_index),
            size=self._decode_size(video_index),
            threads=self.decode.threads,
        )
        self._note_backend(video_index, clip.info.backend, clip.fallback_reason)
        frames = torch.from_numpy(clip.frames)  # (T, H, W, 3) uint8
        if self.train:
            rng = np.random.default_rng(sample_seed(seed, _TRANSFORM_STREAM))
            video = self.transform(frames, rng)
        else:
            video = self.transform(frames, view % self.spatial_views)
        return {
            "video": video,
            "label": record.label,
            "video_index": video_index,
            "view_index": view,
            SEED_KEY: seed,
        }

    def _backends(self, video_index: int) -> tuple[str, ...]:
        if self.status.status(video_index) is DecodeStatus.PYAV and len(self.backends) > 1:
            return (Backend.PYAV.value,)
        return self.backends

    def _decode_size(self, video_index: int) -> tuple[int, int] | None:
        """Reduced decode size, probing the stored size (header only) once per video."""
        if self.decode.short_side is None:
            return None
        size = self.status.frame_size(video_index)
        if size is None:
            try:
                size = stored_frame_size(self.records[video_index].path)
            except VideoDecodeError:
                return None  # decoding will report the problem
            self.status.set_frame_size(video_index, *size)
        return reduced_size(*size, self.decode.short_side)

    def _note_backend(self, video_index: int, backend: str, fallback_reason: str | None) -> None:
        status = DecodeStatus.PYAV if backend == Backend.PYAV.value else DecodeStatus.DECORD
        if self.status.set_status(video_index, status) and fallback_reason is not None:
            log.warning(
                "split %r: %s: decord cannot read it, decoding with PyAV (%s)",
                self.split,
                self.records[video_index].path,
                fallback_reason,
            )

    def clip_shape(self) -> tuple[int, int, int, int]:
        """Shape (T, C, H, W) of the uint8 clips this dataset returns."""
        crop = self.transform.crop_size
        return (self.sampler.num_frames, 3, crop, crop)
