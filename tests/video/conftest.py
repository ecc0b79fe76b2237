"""Video-analysis test helpers: FFmpeg work (encoding, decoding) runs in a spawned process, never
in the pytest process (which may later fork DataLoader workers; see tests/data/conftest.py)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest


@pytest.fixture(scope="session")
def spawn_pool() -> Iterator[ProcessPoolExecutor]:
    """One spawned process for work that must not touch FFmpeg in the pytest process."""
    with ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        yield pool
