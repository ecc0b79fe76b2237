"""The export report: one row per format (latency, size, accuracy, parity) as CSV, Markdown and
a rich table."""

from __future__ import annotations

import csv
import logging
import statistics
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rich.console import Console

from vidlab.export.inputs import Batch, repeat_to
from vidlab.export.runtime import Predictor
from vidlab.utils.reporting import print_table

log = logging.getLogger(__name__)

MS_PER_S = 1000.0
# Wide enough for the report table without truncated cells.
CONSOLE_WIDTH = 140


@dataclass(frozen=True)
class LatencyOptions:
    """How latency is measured: `runs` timed calls after `warmup` untimed ones, per batch size."""

    batch_sizes: tuple[int, ...] = (1, 8)
    warmup: int = 2
    runs: int = 10


@dataclass(frozen=True)
class ExportRow:
    """One format of the report.

    Attributes:
        format: format name (``pytorch_fp32`` is the eager baseline).
        size_mb: model file(s) on disk, MiB.
        latency_ms_b1 / latency_ms_b8: median wall time of one call at batch 1 / 8, ms.
        top1: accuracy against the labels of the validation clips.
        top1_drop: eager fp32 top1 minus this top1 (points of fraction; 0.01 = 1 point).
        max_abs_diff: largest |logit - eager logit|.
        top1_agreement: fraction of clips whose argmax equals the eager model's.
        min_cosine: lowest per-sample cosine similarity to eager outputs (embeddings; else NaN).
        parity_ok: the format's parity criterion holds.
        threads: CPU threads of the runtime.
        file: the artifact's path relative to the run directory ("" for the baseline).
    """

    format: str
    size_mb: float
    latency_ms_b1: float
    latency_ms_b8: float
    top1: float
    parity_ok: bool
    top1_drop: float
    max_abs_diff: float
    top1_agreement: float
    min_cosine: float
    threads: int
    file: str


def median_latency_ms(
    predict: Predictor, clips: Batch, batch: int, options: LatencyOptions
) -> float:
    """Median wall time (ms) of `predict` on a batch of `batch` clips (repeated if too few); a
    multi-input model's clips are a tuple of one batch per input."""
    inputs = repeat_to(clips, batch)
    for _ in range(options.warmup):
        predict(inputs)
    times = []
    for _ in range(options.runs):
        start = time.perf_counter()
        predict(inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * MS_PER_S


def latencies(predict: Predictor, clips: Batch, options: LatencyOptions) -> dict[int, float]:
    """{batch size: median latency in ms} for every batch size of `options`."""
    return {b: median_latency_ms(predict, clips, b, options) for b in options.batch_sizes}


def files_size_mb(paths: list[Path]) -> float:
    """Total size of `paths` in MiB."""
    return sum(p.stat().st_size for p in paths) / 2**20


def write_report(
    rows: list[ExportRow], out_dir: Path, *, threads: int, print_it: bool = True
) -> tuple[Path, Path]:
    """Write ``export_report.csv`` and ``export_report.md`` to `out_dir` (and print the table)."""
    columns = [f.name for f in fields(ExportRow)]
    csv_path = out_dir / "export_report.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    shown = [c for c in columns if c not in ("threads", "file")]
    table = [[_fmt(getattr(r, c)) for c in shown] for r in rows]
    md_path = out_dir / "export_report.md"
    lines = [
        f"# Export report\n\nCPU threads: {threads} (torch.get_num_threads = ORT/OpenVINO "
        "intra-op threads). Latency: median of timed runs after warm-up, ms per call.\n",
        "| " + " | ".join(shown) + " |",
        "|" + "---|" * len(shown),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in table]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if print_it:
        printed = [c for c in shown if c != "top1_drop"]
        print_table(
            f"Export report ({threads} CPU threads)",
            printed,
            [[r[shown.index(c)] for c in printed] for r in table],
            Console(width=CONSOLE_WIDTH),
        )
    log.info("Wrote %s and %s", csv_path, md_path)
    return csv_path, md_path


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return str(value)
