"""Bounded measurement of the stream runtime: latency percentiles, rates and memory.

Latencies are kept in fixed-size ring buffers (the most recent `capacity` samples), so an hour-long
stream measures in the same memory as a minute-long one; percentiles are over that window.
"""

from __future__ import annotations

import os
import resource
import threading

import numpy as np

#: Samples kept per latency series (the percentile window).
DEFAULT_CAPACITY = 20_000
PERCENTILES = (50, 95, 99)


class LatencySeries:
    """A ring buffer of durations in seconds; percentiles reported in milliseconds."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._buf = np.zeros(capacity, np.float64)
        self._n = 0
        self.total = 0.0

    def add(self, seconds: float) -> None:
        self._buf[self._n % len(self._buf)] = seconds
        self._n += 1
        self.total += seconds

    @property
    def count(self) -> int:
        return self._n

    def percentiles_ms(self) -> dict[str, float]:
        """``p50``, ``p95``, ``p99`` and ``mean`` in ms (NaN when empty)."""
        window = self._buf[: min(self._n, len(self._buf))]
        if not len(window):
            return {f"p{p}": float("nan") for p in PERCENTILES} | {"mean": float("nan")}
        values = np.percentile(window, PERCENTILES) * 1e3
        out = {f"p{p}": float(v) for p, v in zip(PERCENTILES, values, strict=True)}
        return out | {"mean": float(window.mean() * 1e3)}


class LatencyBook:
    """Named latency series, thread-safe to add to from several stages."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._series: dict[str, LatencySeries] = {}
        self._lock = threading.Lock()

    def add_many(self, name: str, seconds: list[float]) -> None:
        with self._lock:
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = LatencySeries(self.capacity)
            for value in seconds:
                series.add(value)

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: v.percentiles_ms() | {"count": v.count} for k, v in self._series.items()}


def current_rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
