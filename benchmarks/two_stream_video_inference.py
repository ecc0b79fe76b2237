"""A two-stream (RGB + flow) bundle on video files: flow recomputed from decoded frames at inference
against the flow the training data cached.

The first ``--clips`` test clips of the bundle's own training data (the synthetic actions with DIS
flow, rebuilt from the card's provenance config) are written as H.264 ``.mp4`` files and classified
with ``python -m vidlab.export.inference``'s function (`vidlab.export.inference.classify_video`:
decode, crop, flow with the card's settings). The same bundle also scores the datamodule's clips
(RGB + the cached flow, what evaluation sees), and the decoded frames' RGB with the cached flow
(what the codec alone changes: H.264 at 4 Mbit/s in 4:2:0 chroma). The table gives the top-1 of
each and their top-1 agreement with the cached clips::

    python benchmarks/two_stream_video_inference.py <run>/bundles/onnx --clips 64 \\
        --data-dir /tmp/zoo2_data
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import hydra
import numpy as np
from omegaconf import OmegaConf

from vidlab.data.io import read_frames
from vidlab.data.io.writer import write_video
from vidlab.export.inference import classify_video, load_classifier_bundle
from vidlab.export.inputs import split_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="a two-stream classifier bundle folder")
    parser.add_argument("--clips", type=int, default=64, help="test clips to write and classify")
    parser.add_argument("--data-dir", type=Path, required=True, help="synthetic data cache root")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    card, predict = load_classifier_bundle(args.bundle, args.threads)
    if not card.get("flow"):
        raise SystemExit(f"{args.bundle}: not a two-stream bundle (its card has no flow section)")
    data_cfg = OmegaConf.create(card["provenance"]["config"]["data"])
    data_cfg.cache_dir = str(args.data_dir / "synthetic_actions")
    datamodule = hydra.utils.instantiate(data_cfg)
    datamodule.setup("test")
    dataset = datamodule.datasets["test"]
    count = min(args.clips, len(dataset))
    clips = np.stack([dataset[i]["video"].numpy() for i in range(count)])  # (N, 5, T, H, W)
    labels = np.asarray(dataset.labels[:count])
    cached = predict(split_clip(clips, card["inputs"]))  # (N, K)

    mean = np.asarray(card["input"]["mean"], np.float32).reshape(3, 1, 1, 1)
    std = np.asarray(card["input"]["std"], np.float32).reshape(3, 1, 1, 1)
    decoded, codec_rgb, seconds = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            frames = np.asarray(dataset.videos[i])  # (T, H, W, 3) uint8
            path = write_video(Path(tmp) / f"{i}.mp4", frames, fps=10.0)
            start = time.perf_counter()
            decoded.append(classify_video(args.bundle, path, threads=args.threads).window_logits[0])
            seconds += time.perf_counter() - start
            rgb = read_frames(path, np.arange(len(frames))).frames.transpose(3, 0, 1, 2)
            rgb = (rgb / np.float32(255.0) - mean) / std  # (3, T, H, W)
            codec_rgb.append(np.concatenate([rgb, clips[i, 3:]]))  # with the cached flow
    decoded = np.stack(decoded)
    codec_only = predict(split_clip(np.stack(codec_rgb).astype(np.float32), card["inputs"]))

    print(f"| input | top-1 on {count} test clips | top-1 agreement with the cached clips |")
    print("|---|---|---|")
    for name, logits in (
        ("datamodule clips: RGB + cached flow", cached),
        ("decoded .mp4 RGB + cached flow", codec_only),
        ("decoded .mp4, flow recomputed (classify_video)", decoded),
    ):
        top1 = float(np.mean(logits.argmax(1) == labels))
        agree = float(np.mean(logits.argmax(1) == cached.argmax(1)))
        print(f"| {name} | {top1:.4f} | {agree:.4f} |")
    print(
        f"\nclassify_video: {1000 * seconds / count:.1f} ms per video (load, decode, flow, model)"
    )


if __name__ == "__main__":
    main()
