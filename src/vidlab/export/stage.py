"""The one export stage: every model family goes through the same steps.

`export_checkpoint` takes a vidlab checkpoint, picks its family from the checkpoint meta
(`vidlab.export.families`) and, for every requested format (`vidlab.export.formats.FORMATS`):

1. writes the artifact into ``<out>/bundles/<format>/``;
2. verifies parity against the eager network on real inputs (the family's criterion: logits within
   ``atol`` or int8 top-1 agreement; embeddings by cosine similarity);
3. writes ``card.json`` (one schema for all families, with the SHA-256 of every file) for an
   artifact that passes, or renames the failing file(s) to ``*.rejected``;
4. runs the extra verification gates the caller injects (e.g. the embedding family's
   tracking-parity gate, `vidlab.tracking.parity`) on every bundle that passed, through
   `vidlab.export.runtime.load_bundle`, and rejects the bundle when one fails;

then writes one report (``export_report.{csv,md}``, printed) with the eager PyTorch baseline row,
and ``metrics.json``; and raises `ParityError` (non-zero exit) if any artifact was rejected.

The stage reads no config and builds no datamodule: the caller supplies the parity inputs
(`ExportInputs`), so it serves ``export.py`` and benchmarks alike.

A model may take several inputs (SlowFast's ``slow`` and ``fast`` pathways, a two-stream network's
``rgb`` and ``flow``): its samples are then a tuple of one tensor per graph input
(`vidlab.export.inputs`), the family names the inputs, and every step above handles them alike.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from vidlab.checkpoint import family_of, load_network
from vidlab.export.bundle import CARD_NAME, make_card, write_card
from vidlab.export.detector import with_input_size
from vidlab.export.families import Family, Parity, get_family
from vidlab.export.formats import ExportContext, ExportFormat, get_format, scratch_dir
from vidlab.export.inputs import Batch, TensorBatch, batch_len, take, to_numpy
from vidlab.export.report import ExportRow, LatencyOptions, files_size_mb, latencies, write_report
from vidlab.export.runtime import Predictor, load_predictor, torch_predictor
from vidlab.export.verify import ParityError
from vidlab.utils.runinfo import write_metrics

log = logging.getLogger(__name__)

BASELINE = "pytorch_fp32"
PREDICT_BATCH = 8


@dataclass(frozen=True)
class ExportInputs:
    """Real inputs for the checks, in the network's preprocessing.

    Attributes:
        samples: (N, ...) float inputs for parity, accuracy and latency; a multi-input model
            (SlowFast's pathways) gets a tuple of one (N, ...) tensor per graph input.
        labels: (N,) class labels of `samples` (None: the family has no labels).
        calibration: (M, ...) inputs for static int8 calibration (None: no int8 format asked);
            a tuple like `samples` for a multi-input model.
        notes: counts worth reporting (e.g. ``{"real_crops": 2}``), added to the metrics.
    """

    samples: TensorBatch
    labels: np.ndarray | None = None
    calibration: TensorBatch | None = None
    notes: dict[str, float] = field(default_factory=dict)


class GateResult(Protocol):
    """One outcome of an extra verification gate."""

    @property
    def ok(self) -> bool: ...

    def as_dict(self) -> dict[str, Any]: ...


class Gate(Protocol):
    """An extra verification step run on a bundle that passed parity.

    Attributes:
        name: metric name of the gate (``export/<format>/<name>``).
        formats: the formats it checks.
    """

    name: str
    formats: Sequence[str]

    def __call__(self, eager: nn.Module, bundle_dir: Path) -> list[GateResult]: ...


#: Builds the parity inputs once the family and meta are known: (family, meta, calibration?).
InputsFn = Callable[[Family, dict[str, Any], bool], ExportInputs]


def predict_all(predict: Predictor, inputs: Batch) -> np.ndarray:
    """Outputs of (N, ...) inputs (or a tuple of them, one per graph input), `PREDICT_BATCH` at a
    time."""
    return np.concatenate(
        [
            predict(take(inputs, slice(i, i + PREDICT_BATCH)))
            for i in range(0, batch_len(inputs), PREDICT_BATCH)
        ]
    )


def requested_formats(
    family: Family, names: Sequence[str], *, skip_unavailable: bool = False
) -> list[ExportFormat]:
    """The formats to write for `family`.

    Formats the family cannot be written to are skipped with a warning; formats whose package is
    missing here are skipped (logged) when `skip_unavailable`, else raise.
    """
    formats = []
    for name in names:
        fmt = get_format(str(name))
        if fmt.name not in family.formats:
            log.warning(
                "Skipping export format %s: a %s model is exported to %s",
                fmt.name,
                family.name,
                list(family.formats),
            )
            continue
        reason = fmt.unavailable_reason()
        if reason is None:
            formats.append(fmt)
        elif skip_unavailable:
            log.warning("Skipping export format %s: %s", fmt.name, reason)
        else:
            raise RuntimeError(f"export format {fmt.name!r} is unavailable: {reason}")
    if not formats:
        raise ValueError(
            f"none of the export formats {list(names)} can be written for a "
            f"{family.name} model; choose from {list(family.formats)}"
        )
    return formats


def reject(files: Sequence[Path]) -> list[Path]:
    """Rename artifacts to ``<name>.rejected`` (and drop their card) so nothing serves them."""
    rejected = []
    for path in files:
        if path.exists():
            target = path.with_name(path.name + ".rejected")
            os.replace(path, target)
            rejected.append(target)
    if files:
        (files[0].parent / CARD_NAME).unlink(missing_ok=True)
    return rejected


@dataclass
class _Run:
    """What every format's step needs: the family, the networks, the data, the options."""

    family: Family
    eager: nn.Module
    meta: dict[str, Any]
    ckpt_path: Path
    out_dir: Path
    options: dict[str, Any]
    inputs: ExportInputs
    reference: np.ndarray
    bench: LatencyOptions
    threads: int

    @property
    def eager_accuracy(self) -> float:
        return self.family.accuracy(self.reference, self.inputs.labels)


def _row(
    run: _Run,
    name: str,
    files: list[Path],
    predict: Predictor,
    outputs: np.ndarray,
    parity: Parity | None,
) -> ExportRow:
    samples = to_numpy(run.inputs.samples)
    lat = latencies(predict, samples, run.bench)
    accuracy = run.family.accuracy(outputs, run.inputs.labels)
    size = files_size_mb(files) if files else _state_size_mb(run.eager)
    return ExportRow(
        name,
        size,
        lat[1],
        lat[8],
        accuracy,
        True if parity is None else parity.ok,
        run.eager_accuracy - accuracy,
        0.0 if parity is None else parity.max_abs_diff,
        1.0 if parity is None else float(getattr(parity, "top1_agreement", math.nan)),
        _min_cosine(run.family, parity),
        run.threads,
        str(files[0].relative_to(run.out_dir)) if files else "",
    )


def _min_cosine(family: Family, parity: Parity | None) -> float:
    if parity is None:
        return 1.0 if family.name != "classifier" else math.nan
    return float(getattr(parity, "min_cosine", math.nan))


def _state_size_mb(net: nn.Module) -> float:
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    return buffer.tell() / 2**20


def _export_one(
    run: _Run, fmt: ExportFormat, ctx: ExportContext
) -> tuple[ExportRow, Parity, list[Path]]:
    """Write, verify and time one format."""
    files = fmt.write(ctx, run.out_dir / "bundles" / fmt.name)
    predict = load_predictor(files[0], fmt.runtime, run.threads)
    outputs = predict_all(predict, to_numpy(run.inputs.samples))
    parity = run.family.compare(run.reference, outputs, run.options, fmt.quantized)
    log.info("%s: %s -> %s", fmt.name, parity.describe(), "ok" if parity.ok else "REJECTED")
    return _row(run, fmt.name, files, predict, outputs, parity), parity, files


def _run_gates(
    run: _Run,
    gates: Sequence[Gate],
    fmt: str,
    bundle_dir: Path,
    details: dict[str, Any],
    metrics: dict[str, float],
) -> list[str]:
    """Run the gates that check `fmt`; returns the names of those that failed."""
    failed = []
    for gate in gates:
        if fmt not in gate.formats:
            continue
        results = gate(run.eager, bundle_dir)
        ok = all(r.ok for r in results)
        details.setdefault("gates", {}).setdefault(fmt, {})[gate.name] = [
            r.as_dict() for r in results
        ]
        metrics[f"export/{fmt}/{gate.name}"] = float(ok)
        log.info("%s gate %s: %s", fmt, gate.name, "ok" if ok else "FAILED")
        if not ok:
            failed.append(gate.name)
    return failed


def export_checkpoint(
    ckpt_path: str | Path,
    out_dir: str | Path,
    options: dict[str, Any],
    inputs_fn: InputsFn,
    gates: Sequence[Gate] = (),
) -> dict[str, float]:
    """Export a checkpoint of any family to the requested formats (see the module docstring).

    Args:
        ckpt_path: a vidlab checkpoint.
        out_dir: the run directory (bundles, report and metrics.json go here).
        options: the ``export`` settings (``formats``, ``opset``, ``atol``,
            ``min_top1_agreement``, ``min_cosine``, ``threads``, ``warmup_runs``,
            ``timed_runs``, ``skip_unavailable``, ``window_stride``, per-format sections).
        inputs_fn: builds the real parity (and calibration) inputs.
        gates: extra verification steps for bundles that pass parity.

    Returns:
        Flat ``export/<format>/<figure>`` metrics.

    Raises:
        ParityError: an artifact failed parity or a gate (after everything is written).
    """
    ckpt_path, out_dir = Path(ckpt_path), Path(out_dir)
    net, meta = load_network(ckpt_path)
    meta = with_input_size(net, meta, options.get("input_size"))
    family = get_family(family_of(meta)).for_checkpoint(net, meta)
    eager = family.wrap(net).eval()
    threads = int(options.get("threads") or torch.get_num_threads())
    torch.set_num_threads(threads)
    formats = requested_formats(
        family, options["formats"], skip_unavailable=bool(options.get("skip_unavailable", False))
    )
    need_calibration = any(f.quantized for f in formats)
    inputs = inputs_fn(family, meta, need_calibration)
    reference = (
        family.reference(eager, inputs.samples)
        if family.reference is not None
        else predict_all(torch_predictor(eager), to_numpy(inputs.samples))
    )
    run = _Run(
        family,
        eager,
        meta,
        ckpt_path,
        out_dir,
        options,
        inputs,
        reference,
        LatencyOptions(warmup=int(options["warmup_runs"]), runs=int(options["timed_runs"])),
        threads,
    )

    rows = [_row(run, BASELINE, [], torch_predictor(eager), reference, None)]
    metrics: dict[str, float] = {f"export/{k}": float(v) for k, v in inputs.notes.items()}
    metrics["export/num_parity_samples"] = float(batch_len(inputs.samples))
    details: dict[str, Any] = {"family": family.name, "parity": {}, "rejected": {}}
    failures = []
    with scratch_dir() as work:
        ctx = ExportContext(
            eager,
            take(inputs.samples, slice(0, 1)),
            inputs.calibration,
            options,
            Path(work),
            input_names=family.input_names,
            output_name=family.output_name,
            onnx_metadata=family.onnx_metadata(meta),
        )
        for fmt in formats:
            row, parity, files = _export_one(run, fmt, ctx)
            rows.append(row)
            details["parity"][fmt.name] = parity.as_dict()
            failed = [] if parity.ok else [f"parity: {parity.describe()}"]
            if parity.ok:
                write_card(
                    files[0].parent,
                    make_card(
                        family=family,
                        fmt=fmt.name,
                        runtime=fmt.runtime,
                        files=files,
                        meta=meta,
                        ckpt_path=ckpt_path,
                        options=options,
                        parity=parity.as_dict(),
                        extra=options.get(fmt.name)
                        if isinstance(options.get(fmt.name), dict)
                        else None,
                    ),
                )
                failed = [
                    f"gate {g}"
                    for g in _run_gates(run, gates, fmt.name, files[0].parent, details, metrics)
                ]
            if failed:
                moved = reject(files)
                details["rejected"][fmt.name] = [str(p) for p in moved]
                failures.append(
                    f"{fmt.name}: {'; '.join(failed)}; moved to {', '.join(p.name for p in moved)}"
                )
    write_report(rows, out_dir, threads=threads)
    metrics |= _row_metrics(rows)
    details |= {"ok": not failures, "failures": failures, "threads": threads}
    write_metrics(
        out_dir / "metrics.json",
        task="export",
        metrics=metrics,
        details=details,
        provenance=_provenance(ckpt_path),
    )
    if failures:
        raise ParityError("export parity failed for " + "; ".join(failures))
    return metrics


def _row_metrics(rows: list[ExportRow]) -> dict[str, float]:
    """Flat ``export/<format>/<figure>`` metrics of the report rows (NaN figures left out)."""
    keys = (
        "size_mb",
        "latency_ms_b1",
        "latency_ms_b8",
        "top1",
        "top1_drop",
        "max_abs_diff",
        "top1_agreement",
        "min_cosine",
    )
    metrics = {
        f"export/{r.format}/{k}": float(getattr(r, k))
        for r in rows
        for k in keys
        if not math.isnan(float(getattr(r, k)))
    }
    metrics.update({f"export/{r.format}/parity_ok": float(r.parity_ok) for r in rows})
    return metrics


def _provenance(ckpt_path: Path) -> dict[str, Any]:
    from vidlab.utils.runinfo import file_sha256, git_commit, package_versions

    return {
        "checkpoint": {"path": str(ckpt_path), "sha256": file_sha256(ckpt_path)},
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
