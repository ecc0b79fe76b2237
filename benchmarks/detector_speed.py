"""Speed and AP of a detector checkpoint: eager PyTorch vs its ONNX bundle (vs int8 ONNX).

    python benchmarks/detector_speed.py --ckpt <detector.ckpt> [--threads 2] [--out <dir>]

The checkpoint is exported through the one export stage (``onnx`` and, where ONNX Runtime's static
quantization works, ``onnx_int8``; each verified for parity first) into ``--out``. Every detector is
then run through `vidlab.detection` on 960x540 uint8 frames (letterboxed to the model's fixed input
size inside, boxes back in frame pixels): eager = `TorchvisionDetector` on the checkpoint's
network, the bundles = `Detector`. Frames per second at batch 1 and 8 (median of ``--runs`` calls
after a warm-up, on ``--threads`` threads: torch and ONNX Runtime alike, letterboxing included) and
COCO AP / AP50 of each on the synthetic test split of the checkpoint's data config (its frames,
whatever their size, through the same ``detect``). Printed as one table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf


def _fps(detect, frames: list[np.ndarray], batch: int, runs: int) -> float:
    chunk = frames[:batch]
    detect(chunk)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detect(chunk)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def _ap(detector, records) -> tuple[float, float]:
    from vidlab.data.detection.datamodule import read_rgb
    from vidlab.evaluation.detection import build_map_metric, summarise, to_map_inputs

    metric = build_map_metric()
    for start in range(0, len(records), 8):
        chunk = records[start : start + 8]
        dets = detector.detect([read_rgb(r) for r in chunk])
        preds = [
            {
                "boxes": torch.from_numpy(d[:, :4]),
                "scores": torch.from_numpy(d[:, 4]),
                "labels": torch.ones(len(d), dtype=torch.int64),
            }
            for d in dets
        ]
        targets = [
            {
                "boxes": torch.as_tensor(r.boxes_xyxy).reshape(-1, 4),
                "labels": torch.ones(len(r.boxes_xyxy), dtype=torch.int64),
                "ignore": torch.as_tensor(r.ignore_xyxy).reshape(-1, 4),
            }
            for r in chunk
        ]
        metric.update(*to_map_inputs(preds, targets, 1))
    result = summarise(metric.compute())
    return result.mAP, result.AP50


def _export_config(ckpt: str, out: Path, formats: list[str], threads: int):
    """configs/export.yaml composed as ``python export.py`` would, writing into `out`."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    GlobalHydra.instance().clear()
    overrides = [
        f"ckpt_path={ckpt}",
        f"export.formats=[{','.join(formats)}]",
        f"export.threads={threads}",
        "export.num_parity_images=16",
        "export.num_calibration_images=32",
        "export.timed_runs=1",
        "export.warmup_runs=1",
    ]
    with initialize_config_dir(
        config_dir=str(Path(__file__).parents[1] / "configs"), version_base="1.3"
    ):
        cfg = compose("export", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.hydra.runtime.output_dir = str(out)
    HydraConfig.instance().set_config(cfg)
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--test-images", type=int, default=80, help="test frames for AP")
    parser.add_argument("--out", default=None, help="export folder (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import hydra

    from vidlab.checkpoint import load_network
    from vidlab.detection import Detector, TorchvisionDetector
    from vidlab.export.formats import FORMATS

    net, meta = load_network(args.ckpt)
    size = meta["input"]["image_size"]
    out = Path(args.out or tempfile.mkdtemp(prefix="detector_speed_"))
    formats = ["onnx"] + (
        ["onnx_int8"] if FORMATS["onnx_int8"].unavailable_reason() is None else []
    )
    # The export command itself (configs/export.yaml, its task_fn), on the checkpoint's own data.
    cfg = _export_config(args.ckpt, out, formats, args.threads)
    try:
        hydra.utils.get_method(cfg.task_fn)(cfg)
    except Exception as err:  # an int8 bundle that fails parity is reported, not fatal
        print(f"export: {err}")
    detectors = {"eager (torchvision)": TorchvisionDetector(net, size)}
    for fmt in formats:
        if (out / "bundles" / fmt / "card.json").is_file():
            detectors[fmt] = Detector(out / "bundles" / fmt, threads=args.threads)
    records = hydra.utils.instantiate(OmegaConf.create(meta["config"]["data"])).records("test")
    picks = np.unique(np.linspace(0, len(records) - 1, min(args.test_images, len(records))))
    records = [records[int(i)] for i in picks]
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (540, 960, 3), dtype=np.uint8) for _ in range(8)]
    print(
        f"\ndetector {meta['config']['model']['net']['_target_'].rsplit('.', 1)[-1]} "
        f"({meta['config']['model']['net'].get('backbone')}), input {size[0]}x{size[1]}, "
        f"960x540 frames, {args.threads} threads, AP on {len(records)} test frames"
    )
    print(f"| {'detector':<20} | {'fps b1':>7} | {'fps b8':>7} | {'mAP':>6} | {'AP50':>6} |")
    print(f"|{'-' * 22}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 8}|")
    for name, det in detectors.items():
        det.batch_size = 8
        fps1, fps8 = (_fps(det.detect, frames, b, args.runs) for b in (1, 8))
        ap, ap50 = _ap(det, records)
        print(f"| {name:<20} | {fps1:7.1f} | {fps8:7.1f} | {ap:6.3f} | {ap50:6.3f} |")


if __name__ == "__main__":
    main()
