"""Multi-input models through the one export stage: a SlowFast checkpoint (slow + fast pathways)
exported to ONNX / TorchScript / torch.export (and int8), its card describing both inputs, and
video inference building both pathways from the decoded frames."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from tests.export.conftest import write_untrained_checkpoint
from vidlab.checkpoint import load_network
from vidlab.data.io import read_frames
from vidlab.data.io.writer import write_video
from vidlab.export import inference
from vidlab.export.inputs import clip_input_specs, split_clip
from vidlab.export.runtime import load_bundle
from vidlab.models.slowfast import pack_pathways
from vidlab.tasks import export

FRAMES, CROP, ALPHA = 8, 32, 4
# A SlowFast on 8-frame 32x32 clips (slow pathway: 2 frames), pytorchvideo's shallowest depth.
SLOWFAST_RUN = [
    "experiment=synthetic_slowfast",
    f"data.num_frames={FRAMES}",
    f"data.crop_size={CROP}",
    "data.train_size=32",
    "data.val_size=16",
    "data.test_size=16",
    "data.batch_size=8",
    "trainer.accelerator=cpu",
]
NUM_VIDEO_FRAMES = 17
HEIGHT, WIDTH = 32, 48


@pytest.fixture
def slowfast_checkpoint(make_cfg) -> tuple[Path, list[str]]:
    """A SlowFast checkpoint as training writes it (seeded, untrained) and its data overrides."""
    path = write_untrained_checkpoint(make_cfg, SLOWFAST_RUN, "slowfast")
    return path, [o for o in SLOWFAST_RUN if o.startswith(("data.", "experiment"))]


def _export(make_cfg, ckpt: Path, data: list[str], formats: list[str], packed: bool) -> Path:
    # packed=False: the export data config leaves clips whole; the stage builds the pathways.
    cfg = make_cfg(
        "export",
        [
            *[o for o in data if o.startswith("data.")],
            f"data.slowfast_alpha={ALPHA if packed else 'null'}",
            f"ckpt_path={ckpt}",
            f"export.formats=[{','.join(formats)}]",
            "export.timed_runs=1",
            "export.warmup_runs=1",
            "export.num_parity_clips=12",
            "export.num_calibration_clips=16",
            # The tiny untrained network's logits are near ties; int8 is judged on 12 clips.
            "export.min_top1_agreement=0.75",
        ],
    )
    metrics = export.run(cfg)
    for fmt in formats:
        assert metrics[f"export/{fmt}/parity_ok"] == 1.0, fmt
    return Path(cfg.paths.output_dir)


def test_split_clip_builds_the_pathways():
    clips = np.arange(2 * 3 * 8 * 2 * 2, dtype=np.float32).reshape(2, 3, 8, 2, 2)
    specs = clip_input_specs(8, 4)
    assert [(s.name, s.num_frames, s.temporal_stride) for s in specs] == [
        ("slow", 2, 4),
        ("fast", 8, 1),
    ]
    slow, fast = split_clip(clips, specs)
    expected = pack_pathways(torch.from_numpy(clips), 4)
    np.testing.assert_array_equal(slow, expected[0].numpy())
    np.testing.assert_array_equal(fast, clips)
    assert split_clip(clips, clip_input_specs(8, None)) is clips
    with pytest.raises(ValueError, match="divisible by alpha=4"):
        clip_input_specs(6, 4)


def _write_video(path: Path) -> Path:
    frames = np.random.default_rng(1).integers(
        0, 256, (NUM_VIDEO_FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(write_video, path, frames, fps=10.0).result()


def test_slowfast_bundle_card_and_video_inference(make_cfg, slowfast_checkpoint, tmp_path):
    ckpt, data = slowfast_checkpoint
    out = _export(make_cfg, ckpt, data, ["torchscript"], packed=False)
    bundle_dir = out / "bundles" / "torchscript"
    card = json.loads((bundle_dir / "card.json").read_text())
    assert [(i["name"], i["num_frames"], i["temporal_stride"]) for i in card["inputs"]] == [
        ("slow", 2, 4),
        ("fast", 8, 1),
    ]
    assert card["inputs"][0]["shape"] == ["batch", 3, 2, CROP, CROP]
    assert card["inputs"][1]["shape"] == ["batch", 3, 8, CROP, CROP]
    assert card["input"]["num_frames"] == FRAMES  # the decoded clip both are built from

    video = _write_video(tmp_path / "clip.mp4")
    result = inference.classify_video(bundle_dir, video, top_k=2)
    net, _ = load_network(ckpt)
    windows = []
    for start in (0, FRAMES):
        frames = read_frames(video, np.arange(start, start + FRAMES)).frames  # (8, 32, 48, 3)
        clip = torch.from_numpy(frames[:, :, 8:40]).permute(3, 0, 1, 2).float() / 255.0
        windows.append((clip - 0.45) / 0.225)  # (3, 8, 32, 32)
    with torch.no_grad():
        expected = net(pack_pathways(torch.stack(windows), ALPHA))
    assert result.window_starts.tolist() == [0, FRAMES]
    np.testing.assert_allclose(result.window_logits, expected.numpy(), atol=1e-4)

    # The bundle's predictor takes the two pathways, and refuses one clip in one line.
    bundle = load_bundle(bundle_dir)
    clips = torch.stack(windows).numpy()
    np.testing.assert_allclose(
        bundle.predict(split_clip(clips, card["inputs"])), expected.numpy(), atol=1e-4
    )
    card["inputs"][0]["temporal_stride"] = 3
    with pytest.raises(Exception, match="inputs\\[0\\]"):
        inference.check_card(card, bundle_dir / "card.json")


@pytest.mark.slow
def test_slowfast_exports_to_every_format_with_parity(make_cfg, slowfast_checkpoint):
    ckpt, data = slowfast_checkpoint
    formats = ["onnx", "torch_export", "onnx_int8"]
    out = _export(make_cfg, ckpt, data, formats, packed=True)
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["export/onnx/max_abs_diff"] <= 1e-4
    assert metrics["export/torch_export/max_abs_diff"] <= 1e-4
    assert metrics["export/onnx_int8/top1_agreement"] >= 0.75
    for fmt in formats:
        bundle = load_bundle(out / "bundles" / fmt)
        assert [i["name"] for i in bundle.card["inputs"]] == ["slow", "fast"]
    # The ONNX graph takes both pathways, with a symbolic batch (exported from a batch-1 example;
    # parity ran 12 clips in batches of 8 and 4).
    graph = onnx.load(str(out / "bundles" / "onnx" / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["slow", "fast"]
    for tensor, frames in zip(graph.input, (FRAMES // ALPHA, FRAMES), strict=True):
        dims = tensor.type.tensor_type.shape.dim
        assert dims[0].dim_param and not dims[0].dim_value
        assert [d.dim_value for d in dims[1:]] == [3, frames, CROP, CROP]
    session_batch = load_bundle(out / "bundles" / "onnx").predict
    net, _ = load_network(ckpt)
    clips = pack_pathways(torch.randn(3, 3, FRAMES, CROP, CROP), ALPHA)  # batch 3
    with torch.no_grad():
        expected = net(clips).numpy()
    assert np.abs(session_batch(tuple(c.numpy() for c in clips)) - expected).max() <= 1e-4
    report = (out / "export_report.md").read_text()
    assert all(f"| {fmt} |" in report for fmt in formats)
