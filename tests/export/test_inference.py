"""Sliding-window classification of a video file with an export bundle."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import load_network
from vidlab.data.io import read_frames
from vidlab.data.io.writer import write_video
from vidlab.errors import UserError
from vidlab.export import inference
from vidlab.tasks import export

NUM_VIDEO_FRAMES = 11
HEIGHT, WIDTH = 32, 48  # short side = crop size: the eval transform only centre-crops


def _write_video(path: Path) -> Path:
    frames = np.random.default_rng(0).integers(
        0, 256, (NUM_VIDEO_FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8
    )
    # Encoding in a spawned process: FFmpeg state must not live in the pytest process.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(write_video, path, frames, fps=10.0).result()


def test_window_starts():
    assert inference.window_starts(11, 4, 4).tolist() == [0, 4]
    assert inference.window_starts(12, 4, 2).tolist() == [0, 2, 4, 6, 8]
    assert inference.window_starts(3, 4, 4).tolist() == [0]


@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.slow)])
def test_bundle_classifies_a_video_like_the_eager_model(
    make_cfg, tiny_checkpoint, tmp_path, fmt, capsys
):
    ckpt, data = tiny_checkpoint()
    cfg = make_cfg(
        "export",
        [
            *data,
            f"ckpt_path={ckpt}",
            f"export={fmt}",
            "export.timed_runs=1",
            "export.warmup_runs=1",
            "export.num_parity_clips=8",
        ],
    )
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


# -- bad input: a card or option that cannot work gives one line naming the file -----------------

CLASSES = ["a", "b", "c", "d"]


def _onnx_bundle(folder: Path, *, crop: int = 32, frames: int = 4) -> Path:
    """A bundle whose ONNX model takes (batch, 3, frames, crop, crop) clips and returns 4 logits
    (the channel means through a fixed 3 x 4 matrix); its card is what export.py would write."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "weight")
    axes = numpy_helper.from_array(np.array([2, 3, 4], dtype=np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["video", "axes"], ["pooled"], keepdims=0),
         helper.make_node("MatMul", ["pooled", "weight"], ["logits"])],
        "tiny",
        [helper.make_tensor_value_info("video", TensorProto.FLOAT,
                                       ["batch", 3, frames, crop, crop])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(CLASSES)])],
        initializer=[weight, axes],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    card = {
        "card_version": 1, "format": "onnx", "runtime": "onnxruntime", "file": "model.onnx",
        "files": ["model.onnx"],
        "input": {"name": "video", "shape": ["batch", 3, frames, crop, crop],
                  "num_frames": frames, "frame_stride": 1, "crop_size": crop,
                  "short_side": crop, "mean": [0.45] * 3, "std": [0.225] * 3},
        "output": {"name": "logits", "shape": ["batch", len(CLASSES)]},
        "class_names": CLASSES,
        "sampling": {"num_frames": frames, "frame_stride": 1, "window_stride": frames},
    }  # fmt: skip
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def _edit_card(bundle: Path, edit) -> Path:
    card = json.loads((bundle / "card.json").read_text())
    edit(card)
    (bundle / "card.json").write_text(json.dumps(card))
    return bundle / "card.json"


def test_tiny_onnx_bundle_classifies(tmp_path):
    result = inference.classify_video(_onnx_bundle(tmp_path / "b"), _write_video(tmp_path / "v.mp4"),
                                      top_k=10)  # fmt: skip
    assert result.window_logits.shape == (2, 4) and len(result.top) == 4  # top_k > classes: all


def test_card_that_is_not_json_names_the_file(tmp_path, capsys):
    bundle = _onnx_bundle(tmp_path / "b")
    (bundle / "card.json").write_text('{"format": "onnx",\n "runtime": }')
    with pytest.raises(UserError) as info:
        inference.load_classifier_bundle(bundle)
    assert str(bundle / "card.json") in str(info.value) and "JSON" in str(info.value)
    # The command prints that one line, no traceback, and exits 2.
    with pytest.raises(SystemExit) as code:
        inference.main([str(bundle), str(tmp_path / "unused.mp4")])
    err = capsys.readouterr().err
    assert code.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert str(bundle / "card.json") in err and "Traceback" not in err


def test_card_crop_size_that_contradicts_the_model_input(tmp_path):
    bundle = _onnx_bundle(tmp_path / "b")
    card = _edit_card(bundle, lambda c: c["input"].update(crop_size=48))
    with pytest.raises(UserError, match=r"input\.crop_size=48") as info:
        inference.load_classifier_bundle(bundle)
    assert str(card) in str(info.value)


def test_card_of_another_model_is_reported_by_the_runtime_in_one_line(tmp_path):
    # Card shape and crop size agree with each other (48) but not with the model file (32):
    # ONNX Runtime rejects the clips; the error names the model file, the card and the shapes.
    bundle = _onnx_bundle(tmp_path / "b")

    def other_model(card):
        card["input"].update(crop_size=48, short_side=48)
        card["input"]["shape"][-2:] = [48, 48]

    _edit_card(bundle, other_model)
    video = _write_video(tmp_path / "v.mp4")
    with pytest.raises(UserError) as info:
        inference.classify_video(bundle, video)
    message = str(info.value)
    assert message.startswith(f"{bundle / 'model.onnx'}: the model rejected clips of shape")
    assert "[2, 3, 4, 48, 48]" in message and "\n" not in message


def test_card_without_a_required_field(tmp_path):
    bundle = _onnx_bundle(tmp_path / "b")
    _edit_card(bundle, lambda c: c["sampling"].pop("window_stride"))
    with pytest.raises(UserError, match=r"no sampling\.window_stride"):
        inference.load_classifier_bundle(bundle)


@pytest.mark.parametrize("top_k", ["0", "-1", "two"])
def test_top_k_must_be_a_positive_integer(tmp_path, capsys, top_k):
    with pytest.raises(SystemExit) as code:
        inference.main([str(tmp_path), str(tmp_path / "v.mp4"), "--top-k", top_k])
    assert code.value.code == 2 and "--top-k" in capsys.readouterr().err
    with pytest.raises(UserError, match="top_k=-1"):
        inference.classify_video(tmp_path, tmp_path / "v.mp4", top_k=-1)


# -- streaming: windows leave as soon as they are complete, one span of frames is held ------------


def _card(frames: int, frame_stride: int, window_stride: int, crop: int = 8) -> dict:
    return {
        "input": {"crop_size": crop, "short_side": 12, "mean": [0.4, 0.5, 0.6],
                  "std": [0.2, 0.25, 0.3]},
        "sampling": {"num_frames": frames, "frame_stride": frame_stride,
                     "window_stride": window_stride},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("length", "frames", "frame_stride", "window_stride"),
    [(20, 4, 2, 3), (23, 3, 1, 5), (8, 4, 2, 8), (5, 4, 2, 4), (1, 2, 3, 1)],
)
def test_window_assembler_builds_the_windows_of_the_whole_video(
    length, frames, frame_stride, window_stride
):
    video = np.random.default_rng(length).integers(0, 256, (length, 18, 24, 3), dtype=np.uint8)
    card = _card(frames, frame_stride, window_stride)
    windows = inference.WindowAssembler(card)
    got = [windows.push(i, video[i] if windows.needs(i) else None) for i in range(length)]
    got = [w for w in got if w is not None] + [w for w in [windows.finish()] if w is not None]

    # Reference: the window starts over the whole video, frame indices clamped to the last
    # frame, the eval transform over each window at once.
    span = frames * frame_stride
    starts = inference.window_starts(length, span, window_stride)
    transform = inference.VideoEvalTransform(crop_size=8, short_side=12)
    mean = torch.tensor([0.4, 0.5, 0.6]).view(3, 1, 1, 1)
    std = torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1, 1)
    assert [s for s, _ in got] == starts.tolist()
    for start, clip in got:
        indices = np.minimum(start + np.arange(frames) * frame_stride, length - 1)
        window = transform(torch.from_numpy(video[indices])).float() / 255.0  # (T, 3, 8, 8)
        expected = (window.permute(1, 0, 2, 3) - mean) / std
        torch.testing.assert_close(clip, expected, rtol=0, atol=1e-6)


def test_window_assembler_holds_at_most_one_window_span():
    card = _card(frames=8, frame_stride=2, window_stride=4)
    windows = inference.WindowAssembler(card)
    image = np.zeros((18, 24, 3), np.uint8)
    held, converted, emitted = 0, 0, 0
    for i in range(2000):  # an "hour" would be the same: nothing accumulates
        needed = windows.needs(i)
        converted += needed
        emitted += windows.push(i, image if needed else None) is not None
        held = max(held, len(windows.crops))
    assert emitted == len(inference.window_starts(2000, 16, 4))
    assert held <= 16  # one window span (8 frames x stride 2), whatever the video's length
    assert converted < 2000 * 0.55  # frames no window uses are never converted


def test_stream_windows_yields_before_the_video_is_decoded(monkeypatch):
    from vidlab.data.io import stream

    pulled = []

    class FakeFrame:
        def to_ndarray(self, format):
            return np.zeros((18, 24, 3), np.uint8)

    def decoded(path):
        for i in range(10_000):
            pulled.append(i)
            yield stream.DecodedFrame(i, i / 25.0, FakeFrame())

    monkeypatch.setattr(stream, "iter_decoded", decoded)
    batches = inference.stream_windows(_card(4, 1, 4), "never-opened.mp4", batch=2)
    starts, clips = next(batches)
    assert starts.tolist() == [0, 4] and clips.shape == (2, 3, 4, 8, 8)
    assert len(pulled) == 8  # decoded up to the second window's last frame, not further
