"""Classifying long videos with an export bundle: memory stays flat as the video grows.

``python -m vidlab.export.inference <bundle> <video>`` streams the video through the model
(`vidlab.export.inference.stream_windows`): frames are decoded one at a time, windows are scored as
they complete. This script measures it on synthetic videos of increasing length (FFmpeg's
``testsrc2`` pattern, 320x240, 25 fps, H.264, cached in ``--cache``), each classified in a fresh
process, and prints frames, windows, wall time, decode-and-score speed and the process's peak RSS,
beside the memory a decode-everything-first loop would need for the same frames::

    OMP_NUM_THREADS=1 python benchmarks/classify_long.py --minutes 1 10 60 [--bundle <dir>]

Without ``--bundle`` the quickstart model is trained for two batches (the weights do not matter
for memory or speed) and exported to ONNX first. Needs the ``ffmpeg`` command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT, FPS = 320, 240, 25

_CHILD = """
import json, resource, sys, time
from vidlab.export.inference import classify_video
start = time.perf_counter()
result = classify_video(sys.argv[1], sys.argv[2], threads=1)
print(json.dumps({
    "wall_s": time.perf_counter() - start,
    "windows": len(result.window_starts),
    "last_start": int(result.window_starts[-1]),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def _run(args: list[str], log: Path) -> None:
    with open(log, "w") as out:
        done = subprocess.run(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed (exit {done.returncode}); see {log}")


def make_bundle(cache: Path) -> Path:
    """The quickstart model, two training batches, exported to ONNX (cached)."""
    bundle = cache / "export" / "bundles" / "onnx"
    if (bundle / "card.json").is_file():
        return bundle
    train_dir = cache / "train"
    _run(
        [sys.executable, "train.py", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
         "trainer.limit_val_batches=1", "test=false", f"hydra.run.dir={train_dir}"],
        cache / "train.log",
    )  # fmt: skip
    _run(
        [sys.executable, "export.py", f"ckpt_path={train_dir / 'checkpoints' / 'best.ckpt'}",
         "export=onnx", f"hydra.run.dir={cache / 'export'}"],
        cache / "export.log",
    )  # fmt: skip
    return bundle


def make_video(cache: Path, minutes: float) -> Path:
    """A `minutes`-long 320x240 H.264 test pattern (cached)."""
    video = cache / f"testsrc_{minutes:g}min.mp4"
    if not video.is_file():
        tmp = video.with_suffix(".tmp.mp4")
        _run(
            ["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi",
             "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}", "-t", str(minutes * 60),
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(tmp)],
            cache / "ffmpeg.log",
        )  # fmt: skip
        tmp.rename(video)
    return video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0, 60.0])
    parser.add_argument("--bundle", type=Path, default=None, help="a classifier bundle folder")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "vidlab_classify_long"
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    bundle = args.bundle or make_bundle(args.cache)
    card = json.loads((bundle / "card.json").read_text())
    table = Table(title=f"classify_video on {WIDTH}x{HEIGHT} {FPS} fps H.264, bundle {bundle}")
    for col in ("minutes", "frames", "windows", "wall s", "video s / wall s", "peak RSS MB",
                "all frames decoded first, MB"):  # fmt: skip
        table.add_column(col, justify="right")
    for minutes in args.minutes:
        video = make_video(args.cache, minutes)
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(bundle), str(video)],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.returncode:
            sys.exit(f"classifying {video} failed:\n{out.stderr[-2000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        frames = int(minutes * 60 * FPS)
        table.add_row(
            f"{minutes:g}",
            str(frames),
            str(row["windows"]),
            f"{row['wall_s']:.1f}",
            f"{minutes * 60 / row['wall_s']:.1f}",
            f"{row['peak_rss_mb']:.0f}",
            f"{frames * WIDTH * HEIGHT * 3 / 2**20:,.0f}",
        )
    Console(width=140).print(table)
    sampling = card["sampling"]
    print(
        f"windows of {sampling['num_frames']} frames, stride {sampling['frame_stride']}, every "
        f"{sampling['window_stride']} frames; crop {card['input']['crop_size']}"
    )


if __name__ == "__main__":
    main()
