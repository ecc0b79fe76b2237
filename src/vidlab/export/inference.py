"""Classify a video file with an export bundle: ``python -m vidlab.export.inference <bundle> <video>``.

Windows of ``num_frames`` frames, ``frame_stride`` apart, start every ``window_stride`` source
frames (all from the bundle's card); each is resized, centre-cropped and normalised as the card
says, the model scores every window, and the per-window softmax probabilities are averaged.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidlab.data.io import VideoInfo, read_clip
from vidlab.data.transforms.video import VideoEvalTransform
from vidlab.export.runtime import load_bundle

log = logging.getLogger(__name__)

UINT8_MAX = 255.0
DEFAULT_TOP_K = 5
MAX_WINDOWS_PER_BATCH = 8


@dataclass(frozen=True)
class VideoPrediction:
    """Result of `classify_video`.

    Attributes:
        window_starts: (W,) first source frame of each window.
        window_logits: (W, K) logits of each window.
        probabilities: (K,) mean softmax probability over windows.
        top: the `top_k` (class name, probability) pairs, most likely first.
    """

    window_starts: np.ndarray
    window_logits: np.ndarray
    probabilities: np.ndarray
    top: list[tuple[str, float]]


def window_starts(num_video_frames: int, span: int, stride: int) -> np.ndarray:
    """(W,) start frames of windows spanning `span` frames every `stride` frames.

    A video shorter than one window gets a single window at 0 (its frames are clamped to the
    last one, see `window_clips`).
    """
    if num_video_frames <= span:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, num_video_frames - span + 1, stride, dtype=np.int64)


def window_clips(card: dict, video_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode and preprocess every sliding window of `video_path` as the card prescribes.

    Returns:
        starts (W,) and clips float32 (W, 3, T, crop, crop), normalised.
    """
    spec, sampling = card["input"], card["sampling"]
    frames_per_clip, frame_stride = int(sampling["num_frames"]), int(sampling["frame_stride"])
    transform = VideoEvalTransform(crop_size=int(spec["crop_size"]),
                                   short_side=int(spec["short_side"]))
    mean = torch.tensor(spec["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec["std"], dtype=torch.float32).view(1, 3, 1, 1)
    offsets = np.arange(frames_per_clip, dtype=np.int64) * frame_stride
    shape: list[tuple[int, int]] = []

    def choose(info: VideoInfo) -> np.ndarray:
        starts = window_starts(info.num_frames, frames_per_clip * frame_stride,
                               int(sampling["window_stride"]))
        indices = np.minimum(starts[:, None] + offsets[None, :], info.num_frames - 1)  # (W, T)
        shape[:] = [indices.shape]
        return indices.reshape(-1)

    decoded = read_clip(video_path, choose)  # decord first, PyAV as the fallback
    starts = decoded.indices.reshape(shape[0])[:, 0]
    frames = torch.from_numpy(decoded.frames).reshape(*shape[0], *decoded.frames.shape[1:])
    clips = []
    for window in frames:  # (T, H, W, 3) uint8
        clip = transform(window).float() / UINT8_MAX  # (T, 3, crop, crop)
        clips.append(((clip - mean) / std).permute(1, 0, 2, 3))  # (3, T, crop, crop)
    return starts, torch.stack(clips).numpy()


def classify_video(bundle_dir: str | Path, video_path: str | Path, top_k: int = DEFAULT_TOP_K,
                   threads: int | None = None) -> VideoPrediction:
    """Classify `video_path` with the bundle in `bundle_dir` (any format) over sliding windows."""
    bundle = load_bundle(bundle_dir, threads)
    card, predict = bundle.card, bundle.predict
    starts, clips = window_clips(card, video_path)
    logits = np.concatenate([predict(clips[i:i + MAX_WINDOWS_PER_BATCH])
                             for i in range(0, len(clips), MAX_WINDOWS_PER_BATCH)])
    probabilities = torch.softmax(torch.from_numpy(logits).double(), dim=1).mean(0).numpy()
    names = card["class_names"]
    order = np.argsort(-probabilities)[:top_k]
    top = [(names[i], float(probabilities[i])) for i in order]
    return VideoPrediction(starts, logits, probabilities, top)


def main(argv: list[str] | None = None) -> None:
    from vidlab.utils.reporting import print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle_dir", help="an export bundle folder (holds card.json)")
    parser.add_argument("video", help="video file to classify")
    parser.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the runtime")
    args = parser.parse_args(argv)
    result = classify_video(args.bundle_dir, args.video, args.top_k, args.threads)
    print_table(f"{Path(args.video).name}: {len(result.window_starts)} windows",
                ["class", "probability"], result.top)


if __name__ == "__main__":
    main()
