"""Streaming sliding windows: the clips the predictor gets, their times, and bounded batches."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from vidlab.data.io import read_frames
from vidlab.data.io.writer import write_video
from vidlab.localization.windows import WindowSampling, stream_window_scores

FPS = 10.0


def write_in_spawned_process(path: Path, frames: np.ndarray) -> Path:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(write_video, path, frames, fps=FPS).result()


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    frames = np.random.default_rng(0).integers(0, 256, (23, 32, 48, 3), dtype=np.uint8)
    return write_in_spawned_process(tmp_path_factory.mktemp("v") / "clip.mp4", frames)


def test_windows_match_the_decoded_frames_and_batches_stay_bounded(video):
    sampling = WindowSampling(
        num_frames=4, frame_stride=2, window_stride=3, crop_size=32, short_side=32,
        mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
    )  # fmt: skip
    seen: list[np.ndarray] = []

    def predict(clips: np.ndarray) -> np.ndarray:
        seen.append(clips)
        return np.stack([clips.mean(axis=(1, 2, 3, 4)), -clips.mean(axis=(1, 2, 3, 4))], axis=1)

    scores = stream_window_scores(video, predict, sampling, batch_size=2)
    # Span 8 frames; starts 0, 3, ..., 15 (the last window ends at frame 22).
    starts = np.arange(0, 23 - 8 + 1, 3)
    assert scores.frames == 23 and len(scores.starts) == len(starts)
    np.testing.assert_allclose(scores.starts, starts / FPS, atol=1e-6)
    np.testing.assert_allclose(scores.ends, (starts + 8) / FPS, atol=1e-6)
    assert scores.duration == pytest.approx(2.3)
    assert max(len(b) for b in seen) == 2  # never more than one batch of windows at a time
    clips = np.concatenate(seen)
    decoded = read_frames(video, np.arange(23)).frames  # (23, 32, 48, 3)
    for i, start in enumerate(starts):
        window = decoded[start : start + 8 : 2, :, 8:40]  # centre crop of the 48-wide frames
        expected = (window.transpose(3, 0, 1, 2) / 255.0 - 0.5) / 0.25
        np.testing.assert_allclose(clips[i], expected, atol=1e-5)
    np.testing.assert_allclose(scores.probabilities.sum(1), 1.0)


@pytest.fixture(scope="module")
def static_then_moving(tmp_path_factory) -> Path:
    """30 frames of a still scene, then 20 in which a bright square crosses it."""
    background = np.random.default_rng(1).integers(60, 120, (32, 48, 3), dtype=np.uint8)
    frames = np.repeat(background[None], 50, axis=0).copy()
    for i in range(30, 50):
        x = (i - 30) * 2
        frames[i, 8:20, x : x + 10] = 250
    return write_in_spawned_process(tmp_path_factory.mktemp("m") / "still_then_move.mp4", frames)


def test_adaptive_windows_skip_the_classifier_on_still_footage_only(static_then_moving):
    sampling = WindowSampling(
        num_frames=4, frame_stride=1, window_stride=1, crop_size=32, short_side=32,
        mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
    )  # fmt: skip
    calls = []

    def predict(clips: np.ndarray) -> np.ndarray:
        calls.append(len(clips))
        m = clips.mean(axis=(1, 3, 4))  # (N, T): brightness over time separates still from moving
        return np.stack([m.mean(1), m.std(1) * 50, -m.mean(1)], axis=1)

    dense = stream_window_scores(static_then_moving, predict, sampling, batch_size=8)
    adaptive = stream_window_scores(
        static_then_moving, predict, sampling, batch_size=8, motion_threshold=1.0, probe_every=8
    )
    windows = 50 - 4 + 1
    assert len(dense.starts) == len(adaptive.starts) == windows == dense.scored
    # Still windows (starts 0..26) are probed every 8th window; every window that sees the
    # square (starts 27..46) is scored.
    assert adaptive.scored == 4 + 20, adaptive.scored
    np.testing.assert_array_equal(adaptive.starts, dense.starts)
    # A held still window takes a probe's probabilities, which equal its own up to codec noise.
    np.testing.assert_allclose(adaptive.probabilities, dense.probabilities, atol=1e-3)
    np.testing.assert_array_equal(adaptive.probabilities[27:], dense.probabilities[27:])
    assert sum(calls) == dense.scored + adaptive.scored
