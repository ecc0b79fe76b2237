"""Live latency, drops, multi-stream rates and memory of the stream runtime.

    OMP_NUM_THREADS=2 python benchmarks/stream_latency.py [--detector bundle|hog|<bundle dir>]
        [--threads 2] [--seconds 60] [--streams 1] [--soak-minutes 0]

- Live: ``--streams`` synthetic 25 fps cameras at 960x540 (`SyntheticSource`, paced in real time),
  detected by a detector bundle on ``--threads`` CPU threads (``bundle``: an FCOS-ResNet10 at the
  det_synthetic recipe's 192x320 input after one training step, exported to ONNX once into
  ``--cache`` with train.py and export.py; the compute is that of the trained model), or HOG, then ByteTrack. Reports p50 / p99
  capture-to-track and capture-to-output latency, frames dropped by the live queues, per-stream
  and total fps.
- Soak (``--soak-minutes N``): the same scene rendered faster than real time (oracle detection, so
  the loop is the runtime itself) for N minutes of stream time, with the RSS at warm-up (first
  tenth) and its largest growth after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vidlab.pipeline import Pipeline, StreamOptions
from vidlab.pipeline.detect import BundleDetector, HogDetector, OracleDetector
from vidlab.pipeline.sources import ProcessSource, SyntheticSource
from vidlab.pipeline.stats import current_rss_mb
from vidlab.tracking import create_tracker

REPO = Path(__file__).resolve().parents[1]


def make_bundle(cache: Path) -> Path:
    """An ONNX bundle of FCOS-ResNet10 at det_synthetic's input size after one training step (the
    compute of the trained model), made once with the entry scripts."""
    bundle = cache / "fcos_bundle" / "bundles" / "onnx"
    if (bundle / "card.json").is_file():
        return bundle
    train_dir = cache / "fcos_train"
    ckpt = train_dir / "checkpoints" / "last.ckpt"  # one step ends before a best-by-AP50 save
    if not ckpt.is_file():
        tiny = [
            "experiment=det_synthetic",
            "data.source.splits.train.n_sequences=1",
            "data.source.splits.val.n_sequences=1",
            "data.source.splits.test.n_sequences=1",
            "data.source.num_frames=30",
            "data.source.frame_stride=5",
            "trainer.accelerator=cpu",
            "+trainer.max_steps=1",
            "trainer.limit_val_batches=1",
            "trainer.limit_test_batches=1",
            f"paths.data_dir={cache / 'data'}",
            f"hydra.run.dir={train_dir}",
        ]
        subprocess.run([sys.executable, str(REPO / "train.py"), *tiny], check=True)
    export = [
        f"ckpt_path={ckpt}",
        "export.formats=[onnx]",
        "export.warmup_runs=1",
        "export.timed_runs=1",
        f"hydra.run.dir={cache / 'fcos_bundle'}",
    ]
    subprocess.run([sys.executable, str(REPO / "export.py"), *export], check=True)
    return bundle


def live(args, detector) -> dict:
    scenes = [
        SyntheticSource(
            fps=25.0,
            width=960,
            height=540,
            num_frames=int(args.seconds * 25),
            seed=args.seed + 1000 * i,
            live=True,
            stream_id=f"cam{i}",
        )
        for i in range(args.streams)
    ]
    sources = [ProcessSource(s) for s in scenes] if args.source_process else scenes
    pipe = Pipeline(
        sources,
        detector,
        lambda s: create_tracker("bytetrack", frame_rate=s.fps),
        options=StreamOptions(batch_size=max(args.streams, 1), queue_size=2),
    )
    return pipe.run()


def soak(args) -> tuple[dict, float, float]:
    n = int(args.soak_minutes * 60 * 25)
    source = SyntheticSource(fps=25.0, width=960, height=540, num_frames=n, live=False)
    pipe = Pipeline(
        [source], OracleDetector(), lambda s: create_tracker("bytetrack", frame_rate=s.fps)
    )
    rss = []
    for i, _ in enumerate(pipe):
        if i % 500 == 0:
            rss.append(current_rss_mb())
    warm = len(rss) // 10
    return pipe.report(), rss[warm], max(rss[warm:]) - rss[warm]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--detector", default="bundle", help="bundle, hog, oracle or a bundle folder"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--streams", type=int, default=1)
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    parser.add_argument(
        "--source-process", action="store_true", help="render each camera in a child process"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vidlab_bench")
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"stream latency (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})")
    for col in ("run", "frames", "fps", "dropped", "p50 ms", "p99 ms", "note"):
        table.add_column(col, justify="left" if col in ("run", "note") else "right")
    if args.seconds > 0:
        if args.detector == "hog":
            detector, name = HogDetector(), "HOG 480x270"
        elif args.detector == "oracle":
            detector, name = OracleDetector(), "oracle (no pixels)"
        else:
            folder = make_bundle(args.cache) if args.detector == "bundle" else Path(args.detector)
            detector = BundleDetector.load(folder, threads=args.threads, batch_size=8)
            name = f"bundle {folder} ({args.threads} threads)"
        report = live(args, detector)
        m, d = report["metrics"], report["details"]
        per = ", ".join(f"{k} {v['fps']:.1f} fps" for k, v in d["streams"].items())
        table.add_row(
            f"{args.streams} x live 25 fps 960x540, {name}"
            + (", cameras in child processes" if args.source_process else "")
            + ", capture->track",
            str(m["stream/frames"]),
            f"{m['stream/fps']:.1f}",
            str(m["stream/dropped_frames"]),
            f"{m['stream/track_latency_p50_ms']:.0f}",
            f"{m['stream/track_latency_p99_ms']:.0f}",
            per,
        )
        table.add_row(
            "  capture->output",
            "",
            "",
            "",
            f"{m['stream/latency_p50_ms']:.0f}",
            f"{m['stream/latency_p99_ms']:.0f}",
            f"detect p50 {m.get('stream/detect_p50_ms', float('nan')):.0f} ms per batch",
        )
    if args.soak_minutes > 0:
        report, base, growth = soak(args)
        m = report["metrics"]
        table.add_row(
            f"soak {args.soak_minutes:g} min of stream, oracle + ByteTrack",
            str(m["stream/frames"]),
            f"{m['stream/fps']:.0f}",
            str(m["stream/dropped_frames"]),
            f"{m['stream/latency_p50_ms']:.0f}",
            f"{m['stream/latency_p99_ms']:.0f}",
            f"RSS {base:.0f} MB after warm-up, max growth {growth:+.1f} MB",
        )
    console.print(table)


if __name__ == "__main__":
    main()
