"""A two-stream (RGB + flow) bundle on video files: flow recomputed from decoded frames at inference
against the flow the training data cached.

The first ``--clips`` test clips of the bundle's own training data (the synthetic actions with DIS
flow, rebuilt from the card's provenance config) are written as H.264 ``.mp4`` files and classified
with ``python -m vidlab.export.inference``'s function (`vidlab.export.inference.classify_video`:
decode, crop, flow with the card's settings). The same bundle also scores the datamodule's clips
(RGB + the cached flow, what evaluation sees). The table gives the top-1 of both, their top-1
agreement, and the largest logit difference (the video is re-encoded, so the decoded frames and
their flow differ a little from the cached ones)::

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

    decoded, seconds = [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            path = write_video(Path(tmp) / f"{i}.mp4", np.asarray(dataset.videos[i]), fps=10.0)
            start = time.perf_counter()
            decoded.append(classify_video(args.bundle, path, threads=args.threads).window_logits[0])
            seconds += time.perf_counter() - start
    decoded = np.stack(decoded)

    rows = [
        ("cached flow (datamodule clips)", float(np.mean(cached.argmax(1) == labels))),
        ("flow from the decoded .mp4 (inference)", float(np.mean(decoded.argmax(1) == labels))),
    ]
    print(f"| input | top-1 on {count} test clips |\n|---|---|")
    for name, top1 in rows:
        print(f"| {name} | {top1:.4f} |")
    agreement = float(np.mean(cached.argmax(1) == decoded.argmax(1)))
    print(
        f"\ntop-1 agreement {agreement:.4f}; max |logit diff| {np.abs(cached - decoded).max():.4f}"
    )
    print(f"classify_video: {1000 * seconds / count:.1f} ms per video (load, decode, flow, model)")


if __name__ == "__main__":
    main()
