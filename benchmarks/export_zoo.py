"""Export rows of full-size zoo models: ONNX size, latency at batch 1 and 8, parity with eager.

    OMP_NUM_THREADS=1 python benchmarks/export_zoo.py --models swin3d_t tsm_r50 slowfast_r50_8x8 \
        --published --threads 1 --out /tmp/export_zoo [--formats onnx torchscript torch_export]

Each model is the registered full-size architecture (randomly initialised, 400 classes), exported
by the export stage's own writers (`vidlab.export.onnx.export_onnx`, `.torchscript`, `.program`;
a batch-1 example with a dynamic batch; SlowFast through `PathwayInputs` with its two pathways as
graph inputs). Parity is
the max |logit difference| against eager PyTorch on `--parity-clips` random clips run through
ONNX Runtime in one batch; latency is the median of `--runs` calls after one warm-up, for eager
PyTorch and ONNX Runtime side by side, with the same thread count. The rows go to
``<out>/export_report.{csv,md}`` in the export report's layout (`vidlab.export.report`).

``--frames`` is the decoded clip (SlowFast's Fast pathway; Slow gets frames / alpha);
``--published`` uses every model's published clip instead (registry: Swin 32x224, TSM 8x224,
SlowFast 32x224).
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import torch

from vidlab.export.inputs import PathwayInputs, as_tuple, to_numpy
from vidlab.export.onnx import export_onnx
from vidlab.export.program import export_program
from vidlab.export.report import ExportRow, LatencyOptions, files_size_mb, latencies, write_report
from vidlab.export.runtime import load_predictor, torch_predictor
from vidlab.export.torchscript import export_torchscript
from vidlab.models.registry import create_model, example_input, get_spec

log = logging.getLogger("export_zoo")


WRITERS = {
    "onnx": (".onnx", "onnxruntime"),
    "torchscript": (".ts", "torchscript"),
    "torch_export": (".pt2", "torch_export"),
}


def _write(fmt: str, module: torch.nn.Module, example, path: Path, names) -> Path:
    if fmt == "onnx":
        return export_onnx(module, example, path, input_name=names)
    if fmt == "torchscript":
        return export_torchscript(module, example, path)
    return export_program(module, example, path)


def export_rows(
    name: str,
    frames: int | None,
    crop: int | None,
    parity_clips: int,
    bench: LatencyOptions,
    threads: int,
    work: Path,
    formats: tuple[str, ...] = ("onnx",),
) -> list[ExportRow]:
    """Eager and ONNX rows of one registered model at a `frames` x `crop` clip."""
    torch.manual_seed(0)
    spec = get_spec(name)
    frames = spec.num_frames if frames is None else frames
    crop = spec.crop_size if crop is None else crop
    sized = {"num_frames": frames, "crop_size": crop} if spec.sized_builder else {}
    net = create_model(name, num_classes=400, **sized).eval()
    multi = spec.slowfast_alpha is not None
    module = PathwayInputs(net) if multi else net
    names = ("slow", "fast") if multi else ("video",)
    clips = example_input(name, batch_size=parity_clips, num_frames=frames, crop_size=crop)
    clips = tuple(clips) if multi else clips
    example = tuple(c[:1] for c in clips) if multi else clips[:1]
    samples = to_numpy(clips)
    eager = torch_predictor(module)
    reference = eager(samples)
    runs = [("pytorch_fp32", eager, _state_mb(net), 0.0, 1.0, None)]
    for fmt in formats:
        suffix, runtime = WRITERS[fmt]
        path = _write(fmt, module, example, work / f"{name}{suffix}", names)
        predict = load_predictor(path, runtime, threads)
        outputs = predict(samples)
        diff = float(np.abs(reference - outputs).max())
        agreement = float(np.mean(reference.argmax(1) == outputs.argmax(1)))
        runs.append((fmt, predict, files_size_mb([path]), diff, agreement, path))
    rows = []
    for fmt, predict, size, parity, agreement, path in runs:
        lat = latencies(predict, samples, bench)
        shapes = "+".join("x".join(map(str, a.shape[2:])) for a in as_tuple(clips))
        rows.append(
            ExportRow(
                f"{name} {fmt} ({shapes})",
                size,
                lat[1],
                lat[8],
                math.nan,
                parity <= 1e-4,
                math.nan,
                parity,
                agreement,
                math.nan,
                threads,
                path.name if path else "",
            )
        )
        log.info("%s %s: %s", name, fmt, rows[-1])
    return rows


def _state_mb(net: torch.nn.Module) -> float:
    return sum(t.numel() * t.element_size() for t in net.state_dict().values()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["swin3d_t", "tsm_r50", "slowfast_r50_8x8"])
    parser.add_argument("--frames", type=int, default=8, help="decoded clip length T")
    parser.add_argument("--crop", type=int, default=112, help="crop size H = W")
    parser.add_argument("--published", action="store_true", help="each model's published clip")
    parser.add_argument("--formats", nargs="+", default=["onnx"], choices=sorted(WRITERS))
    parser.add_argument("--parity-clips", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("export_zoo"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    bench = LatencyOptions(warmup=1, runs=args.runs)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.models:
            rows += export_rows(
                name,
                None if args.published else args.frames,
                None if args.published else args.crop,
                args.parity_clips,
                bench,
                args.threads,
                Path(work),
                tuple(args.formats),
            )
    write_report(rows, args.out, threads=args.threads)


if __name__ == "__main__":
    main()
