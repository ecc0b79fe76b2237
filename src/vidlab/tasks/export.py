"""`python export.py ckpt_path=<file.ckpt> [export=<format>|all]`: deployable, verified artifacts.

For every requested format (``export.formats``; see `vidlab.export.formats.FORMATS`) this writes a
bundle ``<run dir>/bundles/<format>/`` (model file(s) and ``card.json``) and checks the artifact
against the eager model on real validation clips of the configured datamodule: fp32 formats must
match the logits within ``export.atol``; int8 formats must agree on the top-1 class for at least
``export.min_top1_agreement`` of the clips. Latency (batch 1 and 8), size, top-1 and parity of
every format, with the eager PyTorch model as the baseline row, go to ``export_report.csv`` /
``export_report.md`` and are printed. A failing artifact is renamed ``<file>.rejected`` (no card is
written for it) and, after the report is written, the command raises `ParityError` (non-zero exit).

Re-ID checkpoints (``"task": "reid"`` in their meta) are handed to `vidlab.tasks.reid_export`.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from vidlab.export.bundle import make_card, write_card
from vidlab.export.formats import ExportContext, ExportFormat, get_format, scratch_dir
from vidlab.export.program import make_exportable
from vidlab.export.report import ExportRow, LatencyOptions, files_size_mb, latencies, write_report
from vidlab.export.runtime import Predictor, load_predictor, torch_predictor
from vidlab.export.verify import ParityError, ParityResult, compare_outputs
from vidlab.tasks.common import classifier_from_checkpoint, load_checkpoint
from vidlab.tasks.video_classification import CKPT_META_KEY
from vidlab.utils.runinfo import write_json

log = logging.getLogger(__name__)

BASELINE = "pytorch_fp32"
PREDICT_BATCH = 8


def datamodule_clips(cfg: DictConfig, split: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to `count` clips (N, C, T, H, W) and labels (N,) of `split` ("val" or "train")."""
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit" if split == "train" else "validate")
    loader = datamodule.train_dataloader() if split == "train" else datamodule.val_dataloader()
    clips, labels = [], []
    for batch in loader:
        # Datamodules may finish batches after the device transfer (uint8 -> normalised float).
        batch = datamodule.on_after_batch_transfer(batch, 0)
        clips.append(batch["video"])
        labels.append(batch["label"])
        if sum(len(c) for c in clips) >= count:
            break
    return torch.cat(clips)[:count], torch.cat(labels)[:count]


def validation_clips(cfg: DictConfig, count: int) -> torch.Tensor:
    """Up to `count` real validation clips (N, C, T, H, W) from the configured datamodule."""
    return datamodule_clips(cfg, "val", count)[0]


def load_network(ckpt_path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The bare fp32 network of a classification checkpoint (eval mode) and its meta (structurally
    pruned checkpoints come back with their pruned shapes)."""
    module, meta = classifier_from_checkpoint(ckpt_path)
    return make_exportable(module.net).eval(), meta


def predict_all(predict: Predictor, clips: np.ndarray) -> np.ndarray:
    """(N, K) logits of (N, C, T, H, W) clips, `PREDICT_BATCH` at a time."""
    return np.concatenate([predict(clips[i:i + PREDICT_BATCH])
                           for i in range(0, len(clips), PREDICT_BATCH)])


def _requested(cfg: DictConfig) -> list[ExportFormat]:
    """The formats to write; unavailable ones are skipped (logged) or raise, per the config."""
    formats = []
    for name in cfg.export.formats:
        fmt = get_format(str(name))
        reason = fmt.unavailable_reason()
        if reason is None:
            formats.append(fmt)
        elif cfg.export.get("skip_unavailable", False):
            log.warning("Skipping export format %s: %s", fmt.name, reason)
        else:
            raise RuntimeError(f"export format {fmt.name!r} is unavailable: {reason}")
    return formats


def _baseline_row(net: nn.Module, clips: np.ndarray, labels: np.ndarray, reference: np.ndarray,
                  bench: LatencyOptions, threads: int) -> ExportRow:
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    lat = latencies(torch_predictor(net), clips, bench)
    return ExportRow(BASELINE, buffer.tell() / 2**20, lat[1], lat[8],
                     float(np.mean(reference.argmax(1) == labels)), True, 0.0, 0.0, 1.0, threads, "")


def _reject(files: list[Path]) -> None:
    for path in files:
        os.replace(path, path.with_name(path.name + ".rejected"))


def _export_one(fmt: ExportFormat, ctx: ExportContext, data: dict[str, np.ndarray],
                out_dir: Path, bench: LatencyOptions, threads: int) -> tuple[ExportRow, ParityResult,
                                                                            list[Path]]:
    """Write, verify and time one format; returns its report row, parity and files."""
    folder = out_dir / "bundles" / fmt.name
    files = fmt.write(ctx, folder)
    predict = load_predictor(files[0], fmt.runtime, threads)
    logits = predict_all(predict, data["clips"])
    min_agreement = float(ctx.options["min_top1_agreement"]) if fmt.quantized else None
    parity = compare_outputs(data["reference"], logits, float(ctx.options["atol"]), min_agreement)
    lat = latencies(predict, data["clips"], bench)
    top1 = float(np.mean(logits.argmax(1) == data["labels"]))
    row = ExportRow(fmt.name, files_size_mb(files), lat[1], lat[8], top1, parity.ok,
                    data["eager_top1"] - top1, parity.max_abs_diff, parity.top1_agreement,
                    threads, str(files[0].relative_to(out_dir)))
    log.info("%s: %s -> %s", fmt.name, parity.describe(), "ok" if parity.ok else "REJECTED")
    return row, parity, files


def run(cfg: DictConfig) -> dict[str, Any]:
    if not cfg.get("ckpt_path"):
        raise ValueError("export needs a checkpoint: python export.py ckpt_path=<file.ckpt>")
    ckpt_path = Path(cfg.ckpt_path)
    if load_checkpoint(ckpt_path)[CKPT_META_KEY].get("task") == "reid":
        from vidlab.tasks import reid_export

        return reid_export.run(cfg)
    out_dir = Path(cfg.paths.output_dir)
    options = OmegaConf.to_container(cfg.export, resolve=True)
    threads = int(options.get("threads") or torch.get_num_threads())
    torch.set_num_threads(threads)
    bench = LatencyOptions(warmup=int(options["warmup_runs"]), runs=int(options["timed_runs"]))
    formats = _requested(cfg)

    net, meta = load_network(ckpt_path)
    clips, labels = datamodule_clips(cfg, "val", int(options["num_parity_clips"]))
    calibration = None
    if any(f.quantized for f in formats) and int(options["num_calibration_clips"]) > 0:
        calibration = datamodule_clips(cfg, "train", int(options["num_calibration_clips"]))[0]
    reference = predict_all(torch_predictor(net), clips.numpy())
    data = {"clips": clips.numpy(), "labels": labels.numpy(), "reference": reference,
            "eager_top1": float(np.mean(reference.argmax(1) == labels.numpy()))}

    rows = [_baseline_row(net, data["clips"], data["labels"], reference, bench, threads)]
    failures = []
    with scratch_dir() as work:
        ctx = ExportContext(net, clips[:1], calibration, options, Path(work))
        for fmt in formats:
            row, parity, files = _export_one(fmt, ctx, data, out_dir, bench, threads)
            rows.append(row)
            if parity.ok:
                write_card(files[0].parent, make_card(
                    fmt=fmt.name, runtime=fmt.runtime, files=files, meta=meta, ckpt_path=ckpt_path,
                    window_stride=options.get("window_stride"), parity=parity.as_dict(),
                    extra=options.get(fmt.name)))
            else:
                _reject(files)
                failures.append(f"{fmt.name}: {parity.describe()}; moved to "
                                f"{files[0].name}.rejected")
    write_report(rows, out_dir, threads=threads)
    metrics = _metrics(rows)
    write_json(out_dir / "metrics.json", {"task": "export", "metrics": metrics,
                                           "ok": not failures, "failures": failures,
                                           "threads": threads})
    if failures:
        raise ParityError("export parity failed for " + "; ".join(failures))
    return metrics


def _metrics(rows: list[ExportRow]) -> dict[str, float]:
    """Flat ``export/<format>/<figure>`` metrics of the report rows."""
    keys = ("size_mb", "latency_ms_b1", "latency_ms_b8", "top1", "top1_drop", "max_abs_diff",
            "top1_agreement")
    metrics = {f"export/{r.format}/{k}": float(getattr(r, k)) for r in rows for k in keys}
    metrics.update({f"export/{r.format}/parity_ok": float(r.parity_ok) for r in rows})
    return metrics
