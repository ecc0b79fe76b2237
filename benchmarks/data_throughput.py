"""Clips per second through `VideoDataModule` vs plain decord decoding of the same frames.

Both pipelines run side by side in one process, on the same videos, with the same DataLoader
settings (workers, batch size) and the same (index, seed) sample order, so both decode exactly
the same frame indices:

* reference: a bare Dataset that opens `decord.VideoReader(path, num_threads=1)` and returns
  `get_batch(indices)` as uint8 (T, H, W, 3): decoding only;
* vidlab: `VideoDataModule.train_dataloader()` (decord with PyAV fallback, reduced-resolution
  decoding where possible, the train transform's random resized crop and flip in the workers,
  uint8 crops out): what feeds an accelerator, which then normalises the batch itself
  (`on_after_batch_transfer`);
* the same followed by `normalize_batch` in this process (uint8 -> normalised float32
  (B, C, T, H, W)): the whole pipeline when training on the CPU.

Passes alternate (reference, vidlab, ...) and each repeat gives a speed ratio (clips/s over the
reference's) and a cost ratio (the reference's CPU time per clip, workers included, over
vidlab's); medians are reported. On a shared machine wall-clock ratios are noisy, so a second
table measures CPU time per clip in one process, alternating the reference and vidlab sample by
sample (both see the same load), and the cost of CPU normalisation separately. The videos are the real clips of VIDLAB_REAL_DATA/videos when it is set (copied to a
folder-per-class layout), else synthetic Kinetics-sized h264 clips (moving texture).

    python benchmarks/data_throughput.py [--workers 2] [--repeats 5] [--videos 24]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import decord
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidlab.data.datamodules.video import VideoDataModule
from vidlab.data.datasets.clip_dataset import VideoClipDataset
from vidlab.data.datasets.generic import VideoFolderIndex
from vidlab.data.datasets.loading import SeededSampler
from vidlab.data.io import VideoInfo
from vidlab.data.io.writer import write_video
from vidlab.utils.reporting import print_table

SYNTH_SIZE = (256, 340)  # (H, W): Kinetics as distributed by most preparation scripts
SYNTH_FPS = 30.0
SYNTH_SECONDS = 10.0  # Kinetics clips are 10 s
NUM_CLASSES = 3
REFERENCE = "plain decord"
SEED = 0


def synthetic_frames(seed: int, num_frames: int) -> np.ndarray:
    """uint8 (T, H, W, 3): a smooth random texture drifting across the frame, plus noise."""
    rng = np.random.default_rng(seed)
    height, width = SYNTH_SIZE
    coarse = rng.uniform(0, 255, size=(height // 16 + 2, width // 16 + 2 + num_frames // 8, 3))
    texture = np.kron(coarse, np.ones((16, 16, 1)))  # blocky texture, wider than the frame
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        shift = 2 * t
        patch = texture[:height, shift : shift + width]
        frames[t] = np.clip(patch + rng.normal(0, 4, patch.shape), 0, 255)
    return frames


def make_layout(root: Path, num_videos: int) -> Path:
    """`<root>/train/<class>/<video>` with real clips (VIDLAB_REAL_DATA) or synthetic ones."""
    real = os.environ.get("VIDLAB_REAL_DATA")
    sources = sorted((Path(real) / "videos").glob("*")) if real else []
    jobs = []
    # Encoding runs in spawned processes: no FFmpeg state in this process before its workers fork.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        for i in range(num_videos):
            target = root / "train" / f"class{i % NUM_CLASSES}"
            target.mkdir(parents=True, exist_ok=True)
            if sources:
                source = sources[i % len(sources)]
                shutil.copyfile(source, target / f"video{i:03d}{source.suffix}")
            else:
                frames = synthetic_frames(i, int(SYNTH_FPS * SYNTH_SECONDS))
                jobs.append(
                    pool.submit(
                        write_video,
                        target / f"video{i:03d}.mp4",
                        frames,
                        fps=SYNTH_FPS,
                        codec="libx264",
                        bit_rate=None,
                    )
                )
        for job in jobs:
            job.result()
    return root


class PlainDecordClips(Dataset):
    """Reference: plain decord decoding of the frames `dataset` would decode for each sample."""

    def __init__(self, dataset: VideoClipDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, seed = key
        path = self.dataset.records[index].path
        reader = decord.VideoReader(str(path), num_threads=1)
        num_frames = len(reader)
        times = reader.get_frame_timestamp(np.arange(num_frames))[:, 0].astype(np.float64)
        info = VideoInfo(num_frames, float(reader.get_avg_fps()), "decord", times - times[0])
        indices = self.dataset.clip_indices(info, 0, seed)
        return torch.from_numpy(reader.get_batch(indices.tolist()).asnumpy())  # (T, H, W, 3)


@dataclass(frozen=True)
class Pass:
    """One full pass over a loader: clips, wall seconds, CPU seconds (main process + workers)."""

    clips: int
    wall_s: float
    cpu_s: float


def timed_pass(loader: DataLoader, finish: Callable[[dict], dict] | None = None) -> Pass:
    """Time one full pass over `loader`, worker start-up and shut-down included; `finish` is
    applied to every batch (the datamodule's normalisation).

    CPU time counts the main process and the workers (reaped at the end of the pass, so their
    usage shows in RUSAGE_CHILDREN): it measures the cost of a pipeline independently of what
    else is running on the machine, where wall time measures its throughput.
    """
    cpu0 = time.process_time() + _children_cpu()
    start = time.perf_counter()
    clips = 0
    for batch in loader:
        if finish is not None:
            batch = finish(batch)
        clips += len(batch["label"]) if isinstance(batch, dict) else len(batch)
    wall = time.perf_counter() - start
    return Pass(clips, wall, time.process_time() + _children_cpu() - cpu0)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(root: Path, args: argparse.Namespace, short_side: str | int | None) -> VideoDataModule:
    datamodule = VideoDataModule(
        index=VideoFolderIndex(root, split_dirs={"train": "train"}),
        name="benchmark", root=str(root), num_classes=NUM_CLASSES,
        num_frames=args.num_frames, frame_stride=args.stride, crop_size=args.crop_size,
        batch_size=args.batch_size, num_workers=args.workers, persistent_workers=False,
        stage_splits={"train": "train", "val": "train", "test": "train"},
        train_crop=args.train_crop, decode={"short_side": short_side}, seed=SEED,
    )  # fmt: skip
    datamodule.setup("fit")
    return datamodule


def reference_loader(dataset: VideoClipDataset, args: argparse.Namespace) -> DataLoader:
    """Plain decord decoding in the same DataLoader setting; batches are lists of clips (the
    real clips differ in size)."""
    return DataLoader(PlainDecordClips(dataset), batch_size=args.batch_size, drop_last=True,
                      sampler=SeededSampler(len(dataset), SEED), num_workers=args.workers,
                      collate_fn=list)  # fmt: skip


def interleaved_cost(datamodule: VideoDataModule, args: argparse.Namespace) -> dict[str, float]:
    """CPU ms per clip of each step, measured in this process sample by sample, alternating
    the reference and vidlab on the same sample so both see the same machine load.

    Runs after the DataLoader passes: decoding here must not precede forking workers.
    """
    dataset = datamodule.datasets["train"]
    reference = PlainDecordClips(dataset)
    keys = list(SeededSampler(len(dataset), SEED)) * args.repeats
    totals = {"reference": 0.0, "loader": 0.0, "normalize": 0.0}
    for key in keys:
        start = time.process_time()
        reference[key]
        middle = time.process_time()
        sample = dataset[key]
        end = time.process_time()
        datamodule.normalize(sample["video"][None])  # (1, T, C, H, W) uint8 -> float
        totals["reference"] += middle - start
        totals["loader"] += end - middle
        totals["normalize"] += time.process_time() - end
    return {name: 1e3 * total / len(keys) for name, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--crop-size", type=int, default=224)
    parser.add_argument("--train-crop", default="random_resized")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = make_layout(Path(tmp) / "videos", args.videos)
        datamodule = build(root, args, "auto")
        dataset = datamodule.datasets["train"]
        normalize = partial(datamodule.normalize_batch, train=True)
        pipelines: dict[str, Callable[[], Pass]] = {
            REFERENCE: lambda: timed_pass(reference_loader(dataset, args)),
            "vidlab loader": lambda: timed_pass(datamodule.train_dataloader()),
            "vidlab + CPU normalize": lambda: timed_pass(datamodule.train_dataloader(), normalize),
        }
        passes: dict[str, list[Pass]] = {name: [] for name in pipelines}
        for _ in range(args.repeats):  # interleaved, so all see the same machine load
            for name, run_once in pipelines.items():
                passes[name].append(run_once())
        torch.set_num_threads(1)  # like a DataLoader worker
        costs = interleaved_cost(datamodule, args)
    report(passes, args)
    report_costs(costs)


def report(passes: dict[str, list[Pass]], args: argparse.Namespace) -> None:
    """Median clips/s and CPU ms per clip; speed ratio (clips/s over the reference's in the same
    repeat) and cost ratio (reference CPU per clip over this pipeline's), medians over repeats."""
    reference = passes[REFERENCE]
    rows = []
    for name, runs in passes.items():
        speed = [
            p.clips / p.wall_s / (r.clips / r.wall_s) for p, r in zip(runs, reference, strict=True)
        ]
        cost = [
            (r.cpu_s / r.clips) / (p.cpu_s / p.clips) for p, r in zip(runs, reference, strict=True)
        ]
        rows.append((
            name,
            f"{statistics.median(p.clips / p.wall_s for p in runs):.2f}",
            f"{statistics.median(1e3 * p.cpu_s / p.clips for p in runs):.1f}",
            f"{statistics.median(speed):.3f}",
            f"{min(speed):.2f}-{max(speed):.2f}",
            f"{statistics.median(cost):.3f}",
        ))  # fmt: skip
    print_table(
        f"{args.num_frames}x{args.stride} train clips, crop {args.crop_size}, {args.workers} "
        f"workers, batch {args.batch_size}, {args.repeats} interleaved repeats",
        ["pipeline", "clips/s", "CPU ms/clip", "speed ratio", "range", "cost ratio"],
        rows,
    )


def report_costs(costs: dict[str, float]) -> None:
    loader_ratio = costs["reference"] / costs["loader"]
    full_ratio = costs["reference"] / (costs["loader"] + costs["normalize"])
    print_table(
        "CPU ms per clip, one process, reference and vidlab alternating sample by sample",
        ["step", "CPU ms/clip", "cost ratio"],
        [
            ("plain decord", f"{costs['reference']:.1f}", "1.000"),
            ("vidlab loader sample", f"{costs['loader']:.1f}", f"{loader_ratio:.3f}"),
            ("+ normalize on CPU", f"{costs['normalize']:.1f}", f"{full_ratio:.3f}"),
        ],
    )


if __name__ == "__main__":
    main()
