"""Dataset check: which listed videos exist, which decode, and their durations and frame rates.

Decoding happens in spawned probe processes (`vidlab.data.io.probe`), so the calling process can
start forked DataLoader workers afterwards. Each distinct file is probed once, even when several
splits list it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from vidlab.data.datasets.records import DatasetIndex, SplitIndex
from vidlab.data.io.probe import ProbeResult, probe_many

log = logging.getLogger(__name__)

# Probe progress is logged every this many files.
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class BadFile:
    """A listed video that cannot be used: missing from disk or undecodable."""

    split: str
    problem: str  # "missing" | "undecodable"
    video: str  # path for undecodable files, annotation id for missing ones
    detail: str = ""


@dataclass(frozen=True)
class SplitCheck:
    """Outcome of checking one split.

    Attributes:
        name: split name.
        listed, found, missing, undecodable: video counts.
        pyav: videos only PyAV could decode.
        vfr: videos with a variable frame rate.
        duration_s: (min, max) duration in seconds of decodable videos, or None.
        fps: (min, max) average frame rate of decodable videos, or None.
        error: why the split could not be read, or None.
    """

    name: str
    listed: int
    found: int
    missing: int
    undecodable: int
    pyav: int
    vfr: int
    duration_s: tuple[float, float] | None
    fps: tuple[float, float] | None
    error: str | None = None

    @property
    def usable(self) -> int:
        return self.found - self.undecodable


def check_dataset(
    index: DatasetIndex,
    *,
    workers: int,
    backend: str = "auto",
    splits: Sequence[str] | None = None,
) -> tuple[list[SplitCheck], list[BadFile]]:
    """Probe every found video of `splits` (default: all) of `index`.

    Args:
        index: the built dataset index.
        workers: probe processes.
        backend: "auto", "decord" or "pyav".
        splits: split names to check, None for all.

    Returns:
        One SplitCheck per split, and every missing or undecodable video.
    """
    names = list(splits) if splits else list(index.splits)
    chosen = [index.split(name) for name in names]
    paths = sorted({str(r.path) for split in chosen for r in split.records})
    log.info("%s: probing %d videos with %d processes", index.name, len(paths), workers)
    progress = _Progress(len(paths))
    results = {
        r.path: r for r in probe_many(paths, workers=workers, backend=backend, on_result=progress)
    }
    checks, bad = [], []
    for split in chosen:
        check, split_bad = _check_split(split, results)
        checks.append(check)
        bad.extend(split_bad)
    return checks, bad


def _check_split(split: SplitIndex, results: dict[str, ProbeResult]) -> tuple[SplitCheck, list]:
    probes = [results[str(r.path)] for r in split.records]
    good = [p for p in probes if p.ok]
    bad = [BadFile(split.name, "missing", video_id) for video_id in split.missing]
    bad += [BadFile(split.name, "undecodable", p.path, p.error or "") for p in probes if not p.ok]
    check = SplitCheck(
        name=split.name,
        listed=split.listed,
        found=len(split.records),
        missing=len(split.missing),
        undecodable=len(probes) - len(good),
        pyav=sum(p.backend == "pyav" for p in good),
        vfr=sum(p.vfr for p in good),
        duration_s=_range([p.duration_s for p in good]),
        fps=_range([p.fps for p in good]),
        error=split.error,
    )
    return check, bad


def _range(values: list[float]) -> tuple[float, float] | None:
    return (min(values), max(values)) if values else None


class _Progress:
    """Logs how many files have been probed, every PROGRESS_EVERY files."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def __call__(self, result: ProbeResult) -> None:
        self.done += 1
        if self.done % PROGRESS_EVERY == 0 or self.done == self.total:
            log.info("probed %d / %d videos", self.done, self.total)
