"""Keyframe choice, frame embedders, and the task=summarize / task=flow commands end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidlab.data.synthetic.shots import ShotVideoSpec, write_shot_video
from vidlab.video.embed import HistogramEmbedder, build_embedder
from vidlab.video.summary import nearest_to_centroids

REPO = Path(__file__).resolve().parents[2]
SPEC = ShotVideoSpec(
    num_shots=5, shot_frames=(30, 45), fade_prob=0.5, fade_frames=(5, 8), width=160, height=90,
    seed=5,
)  # fmt: skip


def _evaluate(*overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), *overrides],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_nearest_to_centroids_picks_cluster_representatives() -> None:
    rows = np.array([[1, 0], [0.9, 0.1], [0.95, 0.05], [0, 1], [0.1, 0.9]], np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    assert nearest_to_centroids(rows[:3], 1) == [2]  # the middle of the three
    two = nearest_to_centroids(rows, 2)
    assert len(two) == 2 and {0, 1, 2} & set(two) and {3, 4} & set(two)
    assert nearest_to_centroids(rows[:1], 3) == [0] and nearest_to_centroids(rows[:0], 1) == []


def _classifier_checkpoint(make_cfg, tiny_run) -> Path:
    """A 4-class X3D checkpoint as training writes it, with untrained seeded weights."""
    import hydra
    import torch

    from vidlab.tasks.common import build_classifier, checkpoint_meta
    from vidlab.tasks.video_classification import CKPT_META_KEY

    cfg = make_cfg("train", tiny_run)
    datamodule = hydra.utils.instantiate(cfg.data)
    torch.manual_seed(0)
    module = build_classifier(cfg)
    ckpt = Path(cfg.paths.output_dir) / "best.ckpt"
    torch.save(
        {"state_dict": module.state_dict(), CKPT_META_KEY: checkpoint_meta(cfg, datamodule)}, ckpt
    )
    return ckpt


def test_embedders(make_cfg, tiny_run) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (40, 60, 3), dtype=np.uint8) for _ in range(3)]
    red = np.zeros((40, 60, 3), np.uint8)
    red[..., 0] = 200
    hist = HistogramEmbedder().embed([*frames, red, red.copy()])
    assert np.allclose(np.linalg.norm(hist, axis=1), 1, atol=1e-5)
    assert np.allclose(hist[3], hist[4]) and not np.allclose(hist[0], hist[3])
    # a classifier checkpoint: its pre-logit features, not its logits
    ckpt = _classifier_checkpoint(make_cfg, tiny_run)
    embedder = build_embedder(str(ckpt))
    feats = embedder.embed(frames)
    assert "pre-logits" in embedder.name
    assert feats.shape[0] == 3 and feats.shape[1] != 4  # 4 classes: these are not logits
    assert np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="no-such"):
        build_embedder("no-such-bundle")


def test_summarize_command(tmp_path, spawn_pool) -> None:
    video = tmp_path / "edit.mp4"
    truth = spawn_pool.submit(write_shot_video, video, SPEC).result()
    run_dir = tmp_path / "run"
    done = _evaluate(
        "task=summarize", f"source={video}", "summary.video=true", "summary.segment_s=0.4",
        "summary.keyframes_per_shot=2", "sampler.stride=8", f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task"] == "summarize"
    m = metrics["metrics"]
    assert m["test/shot_f1"] == 1.0 and m["summary/shots"] == SPEC.num_shots
    assert m["summary/frames_decoded"] == truth.num_frames
    assert m["summary/frames_analysed"] <= truth.num_frames and m["summary/peak_rss_mb"] > 0
    summary = json.loads((run_dir / "summary.json").read_text())
    starts = [s["start_frame"] for s in summary["shots"]]
    assert starts[1:] == pytest.approx(truth.boundaries, abs=1)
    for shot in summary["shots"]:
        assert 1 <= len(shot["keyframes"]) <= 2
        for k in shot["keyframes"]:
            assert shot["start_frame"] <= k["frame"] < shot["end_frame"]
            image = cv2.imread(str(run_dir / k["file"]))
            assert image is not None and image.shape[:2] == (90, 160)
    sheet = cv2.imread(str(run_dir / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] >= 192
    frames = sum(b - a for a, b in (s["frames"] for s in summary["summary_segments"]))
    from vidlab.data.io.stream import probe

    assert spawn_pool.submit(probe, run_dir / "summary.mp4").result().num_frames == frames
    bad = _evaluate("task=summarize", f"source={tmp_path / 'none.mp4'}", cwd=tmp_path)
    assert bad.returncode == 2 and "none.mp4" in bad.stderr


def test_flow_command(tmp_path, spawn_pool) -> None:
    video = tmp_path / "edit.mp4"
    truth = spawn_pool.submit(write_shot_video, video, SPEC).result()
    run_dir = tmp_path / "run"
    done = _evaluate(
        "task=flow", f"source={video}", "flow.png_every=50", "flow.video=true", "flow.chunk=16",
        f"hydra.run.dir={run_dir}", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    m = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    assert m["flow/pairs"] == truth.num_frames - 1
    rows = (run_dir / "motion.csv").read_text().splitlines()
    assert rows[0].startswith("frame,") and len(rows) == truth.num_frames
    assert (run_dir / "motion.png").is_file() and (run_dir / "flow.mp4").is_file()
    assert len(list((run_dir / "flow_png").glob("*.png"))) == -(-(truth.num_frames - 1) // 50)
    from vidlab.data.io.flow_store import read_flow

    flow = read_flow(run_dir / "flow", [0, truth.num_frames - 2])
    assert flow.shape == (2, 90, 160, 2)


@pytest.mark.slow
def test_summarize_with_a_classifier_embedder(tmp_path, spawn_pool, make_cfg, tiny_run) -> None:
    ckpt = _classifier_checkpoint(make_cfg, tiny_run)
    video = tmp_path / "edit.mp4"
    spawn_pool.submit(write_shot_video, video, SPEC).result()
    run_dir = tmp_path / "run_ckpt"
    done = _evaluate(
        "task=summarize", f"source={video}", f"embedder={ckpt}", f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "pre-logits" in summary["embedder"] and len(summary["shots"]) == SPEC.num_shots
    assert all(len(s["keyframes"]) == 1 for s in summary["shots"])
