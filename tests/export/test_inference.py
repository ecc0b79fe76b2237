"""Sliding-window classification of a video file with an export bundle."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import load_network
from vidlab.data.io import read_frames
from vidlab.data.io.writer import write_video
from vidlab.export import inference
from vidlab.tasks import export

NUM_VIDEO_FRAMES = 11
HEIGHT, WIDTH = 32, 48  # short side = crop size: the eval transform only centre-crops


def _write_video(path: Path) -> Path:
    frames = np.random.default_rng(0).integers(0, 256, (NUM_VIDEO_FRAMES, HEIGHT, WIDTH, 3),
                                               dtype=np.uint8)
    # Encoding in a spawned process: FFmpeg state must not live in the pytest process.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(write_video, path, frames, fps=10.0).result()


def test_window_starts():
    assert inference.window_starts(11, 4, 4).tolist() == [0, 4]
    assert inference.window_starts(12, 4, 2).tolist() == [0, 2, 4, 6, 8]
    assert inference.window_starts(3, 4, 4).tolist() == [0]


@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.slow)])
def test_bundle_classifies_a_video_like_the_eager_model(make_cfg, tiny_checkpoint, tmp_path, fmt,
                                                        capsys):
    ckpt, data = tiny_checkpoint()
    cfg = make_cfg("export", [*data, f"ckpt_path={ckpt}", f"export={fmt}", "export.timed_runs=1",
                              "export.warmup_runs=1", "export.num_parity_clips=8"])
    export.run(cfg)
    bundle = Path(cfg.paths.output_dir) / "bundles" / fmt
    video = _write_video(tmp_path / "clip.mp4")

    result = inference.classify_video(bundle, video, top_k=2)

    # Expected: windows of 4 consecutive frames starting at 0 and 4, centre crop, normalised.
    net, meta = load_network(ckpt)
    windows = []
    for start in (0, 4):
        frames = read_frames(video, np.arange(start, start + 4)).frames  # (4, 32, 48, 3)
        clip = torch.from_numpy(frames[:, :, 8:40]).permute(3, 0, 1, 2).float() / 255.0
        windows.append((clip - 0.45) / 0.225)  # (3, 4, 32, 32)
    with torch.no_grad():
        expected = net(torch.stack(windows))
    assert result.window_starts.tolist() == [0, 4]
    np.testing.assert_allclose(result.window_logits, expected.numpy(), atol=1e-4)
    probabilities = torch.softmax(expected.double(), 1).mean(0)
    best = int(probabilities.argmax())
    assert result.top[0] == (meta["class_names"][best], pytest.approx(float(probabilities[best])))
    assert len(result.top) == 2

    inference.main([str(bundle), str(video), "--top-k", "1"])
    assert meta["class_names"][best] in capsys.readouterr().out
