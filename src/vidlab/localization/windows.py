"""Dense sliding-window scores of a video, streamed through a classifier in bounded memory.

The video is decoded with PyAV one frame at a time; each frame is resized, centre-cropped and
normalised as the classifier's card says, and only the last ``num_frames * frame_stride`` frames
are kept (a ring buffer). Every ``window_stride`` frames the buffer's window (every
``frame_stride``-th frame) joins a batch, and full batches go through the predictor. Memory is
the ring buffer plus one batch, whatever the video's length. Times come from the frames'
presentation timestamps, not from frame counts.

Adaptive sampling (``motion_threshold``): every frame is still decoded (a window needs its
consecutive frames), but a window in which nothing moves (the largest mean absolute difference
between consecutive 64x36 grey thumbnails of its frames is below the threshold, in 8-bit units) is
not run through the classifier: it takes the probabilities of the last window that was, and a
static stretch is still probed every ``probe_every`` windows. The network, not the decoder, is the
cost of dense windows, so static footage (most of a long surveillance video) becomes nearly free.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from vidlab.data.transforms.video import VideoEvalTransform

log = logging.getLogger(__name__)

UINT8_MAX = 255.0
DEFAULT_BATCH = 32
#: Grey thumbnail (width, height) that motion between frames is measured on.
THUMB_SIZE = (64, 36)


@dataclass(frozen=True)
class WindowScores:
    """Class probabilities of the sliding windows of one video.

    Attributes:
        starts / ends: (W,) seconds: the first frame's timestamp, and the last frame's timestamp
            plus one frame duration.
        probabilities: (W, K) softmax over the classifier's classes.
        duration: seconds covered by the decoded frames.
        frames: frames decoded.
        scored: windows that went through the classifier (the rest held the last scored one's
            probabilities: adaptive sampling); equal to the number of windows otherwise.
    """

    starts: np.ndarray
    ends: np.ndarray
    probabilities: np.ndarray
    duration: float
    frames: int
    scored: int = -1

    @property
    def centers(self) -> np.ndarray:
        return (self.starts + self.ends) / 2


@dataclass(frozen=True)
class WindowSampling:
    """How windows are cut: ``num_frames`` frames ``frame_stride`` apart, a window every
    ``window_stride`` frames, preprocessed to ``crop_size`` after a resize to ``short_side``."""

    num_frames: int
    frame_stride: int
    window_stride: int
    crop_size: int
    short_side: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def span(self) -> int:
        return self.num_frames * self.frame_stride


def decode_frames(path: str | Path) -> Iterator[tuple[np.ndarray, float, float]]:
    """(RGB uint8 (H, W, 3), timestamp s, duration s) of each frame, decoded one at a time."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        default = 1.0 / float(rate) if rate else 0.0
        for frame in container.decode(stream):
            step = float(frame.duration * frame.time_base) if frame.duration else default
            yield frame.to_ndarray(format="rgb24"), float(frame.time or 0.0), step


def stream_window_scores(
    path: str | Path,
    predict: Callable[[np.ndarray], np.ndarray],
    sampling: WindowSampling,
    batch_size: int = DEFAULT_BATCH,
    motion_threshold: float | None = None,
    probe_every: int = 8,
) -> WindowScores:
    """Score every sliding window of `path` with `predict` (clips (N, 3, T, S, S) -> logits).

    A video shorter than one window gets no window (empty arrays). With `motion_threshold`, static
    windows hold the last scored window's probabilities (module docstring); `probe_every` bounds
    how many windows in a row may be held.
    """
    if probe_every < 1:
        raise ValueError(f"probe_every={probe_every}: expected a positive integer")
    transform = VideoEvalTransform(crop_size=sampling.crop_size, short_side=sampling.short_side)
    mean = torch.tensor(sampling.mean, dtype=torch.float32).view(3, 1, 1) * UINT8_MAX
    std = torch.tensor(sampling.std, dtype=torch.float32).view(3, 1, 1) * UINT8_MAX
    ring: deque[tuple[torch.Tensor, float, float]] = deque(maxlen=sampling.span)
    # Motion of each ring frame from the frame before it (the first frame's entry is unused).
    motion: deque[float] = deque(maxlen=sampling.span)
    previous_thumb: np.ndarray | None = None
    batch: list[torch.Tensor] = []
    starts, ends, outputs = [], [], []
    # Per window: the index of the scored window whose probabilities it takes.
    source: list[int] = []
    scored, held_in_a_row = 0, 0
    count, last_end = 0, 0.0

    def flush() -> None:
        if batch:
            clips = torch.stack(batch).numpy()  # (B, 3, T, S, S)
            outputs.append(predict(clips))
            batch.clear()

    for rgb, time, step in decode_frames(path):
        chw = transform(torch.from_numpy(rgb)[None])[0].float()  # (3, S, S)
        ring.append(((chw - mean) / std, time, step))
        if motion_threshold is not None:
            thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), THUMB_SIZE).astype(np.float32)
            moved = 0.0 if previous_thumb is None else float(np.abs(thumb - previous_thumb).mean())
            motion.append(moved)
            previous_thumb = thumb
        count += 1
        last_end = max(last_end, time + step)
        if len(ring) == sampling.span and (count - sampling.span) % sampling.window_stride == 0:
            starts.append(ring[0][1])
            ends.append(ring[-1][1] + ring[-1][2])
            static = (
                motion_threshold is not None
                and scored > 0
                and held_in_a_row < probe_every - 1
                and max(list(motion)[1:], default=0.0) < motion_threshold
            )
            if static:
                source.append(scored - 1)
                held_in_a_row += 1
                continue
            frames = [ring[i][0] for i in range(0, sampling.span, sampling.frame_stride)]
            batch.append(torch.stack(frames, dim=1))  # (3, T, S, S)
            source.append(scored)
            scored += 1
            held_in_a_row = 0
            if len(batch) == batch_size:
                flush()
    flush()
    logits = np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)
    probabilities = softmax(logits.astype(np.float64)) if len(logits) else logits
    if len(probabilities):
        probabilities = probabilities[np.asarray(source)]
    return WindowScores(
        starts=np.asarray(starts, dtype=np.float64),
        ends=np.asarray(ends, dtype=np.float64),
        probabilities=probabilities,
        duration=last_end,
        frames=count,
        scored=scored,
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (W, K) logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
