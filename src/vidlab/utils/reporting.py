"""Console tables for the end of a run (rich), written for people rather than parsers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    console: Console | None = None,
) -> None:
    """Print a table with the given header and rows (floats to 4 decimals)."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(format_value(v) for v in row))
    (console or Console()).print(table)


def print_metrics(title: str, metrics: Mapping[str, Any], console: Console | None = None) -> None:
    """Two-column table of scalar metrics, e.g. ``val/top1 0.9425``."""
    print_table(title, ["metric", "value"], [(k, v) for k, v in metrics.items()], console)
