"""The two-stream (RGB + optical flow) network through the one export stage: inputs ``rgb`` and
``flow``, a card that records how its training data computed the flow, artifacts with parity, and
video inference that computes the flow from the decoded frames as training did."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import hydra
import numpy as np
import onnx
import pytest
import torch

from tests.export.conftest import write_untrained_checkpoint
from vidlab.checkpoint import load_network
from vidlab.data.io import read_frames
from vidlab.data.io.writer import write_video
from vidlab.data.transforms.flow import ClipFlow
from vidlab.errors import UserError
from vidlab.export import inference
from vidlab.export.families import classifier_inputs
from vidlab.export.inputs import flow_input_specs, split_clip
from vidlab.export.runtime import load_bundle
from vidlab.tasks import export, localize
from vidlab.tasks.export import pathways
from vidlab.video.embed import build_embedder

FRAMES, CROP = 8, 32
# Not the datamodule's defaults (medium, 1.0), so the card must carry the training run's values.
PRESET, SCALE = "fast", 2.0
TWO_STREAM_RUN = [
    "experiment=synthetic_two_stream",
    f"data.num_frames={FRAMES}",
    f"data.crop_size={CROP}",
    "data.train_size=16",
    "data.val_size=12",
    "data.test_size=8",
    "data.batch_size=8",
    f"data.flow_preset={PRESET}",
    f"data.flow_scale={SCALE}",
    "model.net.rgb.width_factor=0.5",
    "model.net.rgb.depth_factor=0.5",
    "model.net.rgb.head_dim_out=32",
    "model.net.flow.widths=[8,16,24]",
    "trainer.accelerator=cpu",
]
NUM_VIDEO_FRAMES = 17
HEIGHT, WIDTH = 32, 48
MEAN, STD = 0.45, 0.225


@pytest.fixture
def two_stream_checkpoint(make_cfg) -> tuple[Path, list[str]]:
    """A two-stream checkpoint as training writes it (seeded, untrained), its data overrides."""
    path = write_untrained_checkpoint(make_cfg, TWO_STREAM_RUN, "two_stream")
    return path, ["data=synthetic_actions_flow", *(o for o in TWO_STREAM_RUN if o[:5] == "data.")]


def _export(make_cfg, ckpt: Path, data: list[str], formats: list[str]) -> Path:
    cfg = make_cfg(
        "export",
        [
            *data,
            f"ckpt_path={ckpt}",
            f"export.formats=[{','.join(formats)}]",
            "export.timed_runs=1",
            "export.warmup_runs=1",
            "export.num_parity_clips=12",
        ],
    )
    metrics = export.run(cfg)
    for fmt in formats:
        assert metrics[f"export/{fmt}/parity_ok"] == 1.0, fmt
        assert metrics[f"export/{fmt}/max_abs_diff"] <= 1e-4, fmt
    return Path(cfg.paths.output_dir)


def _write_video(path: Path) -> Path:
    # A bright square moving 2 px right per frame over noise: the flow is far from zero.
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 60, (NUM_VIDEO_FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for t in range(NUM_VIDEO_FRAMES):
        frames[t, 8:20, 4 + 2 * t : 16 + 2 * t] = 220
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(write_video, path, frames, fps=10.0).result()


def _reference_window(video: Path, start: int) -> torch.Tensor:
    """(5, T, 32, 32): the normalised RGB and the flow of one window, computed here from the
    decoded frames with OpenCV as the synthetic flow data computes it (test-side spec)."""
    frames = read_frames(video, np.arange(start, start + FRAMES)).frames[:, :, 8:40]  # centre
    rgb = (torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255.0 - MEAN) / STD
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    grey = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    flows = [dis.calc(grey[t], grey[t + 1], None) for t in range(FRAMES - 1)]
    flow = np.stack([*flows, flows[-1]]).astype(np.float16).astype(np.float32) / SCALE
    return torch.cat([rgb, torch.from_numpy(flow).permute(3, 0, 1, 2)])  # (5, T, H, W)


def test_the_card_records_the_training_flow_and_inference_computes_it(
    make_cfg, two_stream_checkpoint, tmp_path
):
    ckpt, data = two_stream_checkpoint
    out = _export(make_cfg, ckpt, data, ["torchscript"])
    bundle_dir = out / "bundles" / "torchscript"
    card = json.loads((bundle_dir / "card.json").read_text())
    described = [(i["name"], i["source"], i["channels"], i["shape"]) for i in card["inputs"]]
    assert described == [
        ("rgb", "rgb", [0, 3], ["batch", 3, FRAMES, CROP, CROP]),
        ("flow", "flow", [3, 5], ["batch", 2, FRAMES, CROP, CROP]),
    ]
    assert {k: card["flow"][k] for k in ("method", "preset", "scale", "storage_dtype")} == {
        "method": "dis",
        "preset": PRESET,
        "scale": SCALE,
        "storage_dtype": "float16",
    }
    assert any("DIS, preset fast" in step for step in card["preprocessing"])

    video = _write_video(tmp_path / "clip.mp4")
    result = inference.classify_video(bundle_dir, video, top_k=2)
    net, _ = load_network(ckpt)
    clips = torch.stack([_reference_window(video, start) for start in (0, FRAMES)])
    with torch.no_grad():
        expected = net(clips)
        without_flow = net(torch.cat([clips[:, :3], torch.zeros_like(clips[:, 3:])], 1))
    assert result.window_starts.tolist() == [0, FRAMES]
    np.testing.assert_allclose(result.window_logits, expected.numpy(), atol=1e-4)
    assert np.abs(result.window_logits - without_flow.numpy()).max() > 1e-2  # the flow counts

    # The bundle's predictor takes rgb and flow; an RGB-only clip is refused in one line.
    bundle = load_bundle(bundle_dir)
    rgb, flow = split_clip(clips.numpy(), card["inputs"])
    assert rgb.shape == (2, 3, FRAMES, CROP, CROP) and flow.shape == (2, 2, FRAMES, CROP, CROP)
    np.testing.assert_allclose(bundle.predict((rgb, flow)), expected.numpy(), atol=1e-4)
    with pytest.raises(UserError, match="export data: clips of 3 channels"):
        pathways(clips[:, :3], flow_input_specs(FRAMES, 3, 2))

    # Tools that feed a classifier bundle one RGB clip refuse it by its inputs, in one line.
    with pytest.raises(UserError, match=r"takes 2 inputs \['rgb', 'flow'\]"):
        build_embedder(str(bundle_dir))
    cfg = make_cfg("evaluate", ["task=localize", f"source={video}", f"classifier={bundle_dir}"])
    with pytest.raises(UserError, match="localize feeds it one RGB clip"):
        localize.run(cfg)

    # A card that cannot say how to compute the flow is refused before any decoding.
    for broken, message in (({"method": "farneback"}, "cannot be computed"), (None, "no flow")):
        edited = (
            dict(card, flow=broken) if broken else {k: v for k, v in card.items() if k != "flow"}
        )
        with pytest.raises(UserError, match=message):
            inference.check_card(edited, bundle_dir / "card.json")


def test_training_and_inference_compute_the_same_flow_channels(make_cfg):
    """The flow datamodule's samples are `ClipFlow.channels` of their clips, bit for bit."""
    cfg = make_cfg("train", TWO_STREAM_RUN, name="data")
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("validate")
    dataset = datamodule.datasets["val"]
    for index in (0, 5):
        sample = dataset[index]["video"]  # (5, T, H, W)
        channels = ClipFlow(PRESET, SCALE).channels(np.asarray(dataset.videos[index]))
        np.testing.assert_array_equal(sample[3:].numpy(), channels)
    assert np.abs(channels).max() > 0.1


def test_a_two_stream_checkpoint_without_flow_settings_is_refused():
    meta = {
        "input": {"num_frames": 8},
        "config": {
            "model": {"net": {"_target_": "vidlab.models.two_stream.TwoStream"}},
            "data": {"_target_": "vidlab.data.datamodules.synthetic.SyntheticActionDataModule"},
        },
    }
    with pytest.raises(UserError, match="records no flow settings"):
        classifier_inputs(meta)
    meta["config"]["data"] |= {"flow_preset": "medium", "flow_scale": 1.0}
    assert [(s.name, s.channels) for s in classifier_inputs(meta)] == [
        ("rgb", (0, 3)),
        ("flow", (3, 5)),
    ]
    meta["config"]["data"]["slowfast_alpha"] = 4
    with pytest.raises(UserError, match="both SlowFast pathways and a flow input"):
        classifier_inputs(meta)


@pytest.mark.slow
def test_two_stream_exports_to_onnx_and_torch_export_with_a_dynamic_batch(
    make_cfg, two_stream_checkpoint
):
    ckpt, data = two_stream_checkpoint
    formats = ["onnx", "torch_export"]
    out = _export(make_cfg, ckpt, data, formats)
    for fmt in formats:
        assert [i["name"] for i in load_bundle(out / "bundles" / fmt).card["inputs"]] == [
            "rgb",
            "flow",
        ]
    graph = onnx.load(str(out / "bundles" / "onnx" / "model.onnx")).graph
    assert [i.name for i in graph.input] == ["rgb", "flow"]
    for tensor, channels in zip(graph.input, (3, 2), strict=True):
        dims = tensor.type.tensor_type.shape.dim
        assert dims[0].dim_param and not dims[0].dim_value
        assert [d.dim_value for d in dims[1:]] == [channels, FRAMES, CROP, CROP]
    net, _ = load_network(ckpt)
    torch.manual_seed(2)
    clips = torch.randn(3, 5, FRAMES, CROP, CROP)  # batch 3: neither 1 nor the parity batches
    with torch.no_grad():
        expected = net(clips).numpy()
    inputs = (clips[:, :3].numpy(), clips[:, 3:].contiguous().numpy())
    for fmt in formats:
        assert np.abs(load_bundle(out / "bundles" / fmt).predict(inputs) - expected).max() <= 1e-4
    report = (out / "export_report.md").read_text()
    assert all(f"| {fmt} |" in report for fmt in formats)
