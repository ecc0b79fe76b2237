"""Sinks: where the stream runtime's results go (`vidlab.pipeline.types.Sink`: ``write(result)``,
``close()``).

- `JsonlSink`: events (and optionally per-frame tracks) as JSON Lines.
- `SQLiteStore`: the default store (tracks, downsampled boxes, events; WAL, batched commits,
  retention); `open_store` reads it back.
- `RedisStreamSink`: events to Redis Streams, one per camera; `EventConsumer` reads them with a
  consumer group.
- `AnnotatedVideoSink`: an annotated MP4 per camera (needs the frames' images: its class attribute
  ``needs_image`` is True, the others' False).

The ``sinks`` config group (configs/sinks/) maps a name to one ``_target_`` node per sink;
`build_sinks` instantiates them with the run directory, so relative paths land in it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vidlab.errors import UserError
from vidlab.pipeline.sinks.base import SinkError
from vidlab.pipeline.sinks.jsonl import JsonlSink, read_jsonl
from vidlab.pipeline.sinks.redis_stream import EventConsumer, RedisStreamSink, stream_name
from vidlab.pipeline.sinks.sqlite import SCHEMA_VERSION, SQLiteStore, StoreReader, open_store
from vidlab.pipeline.sinks.video import AnnotatedVideoSink
from vidlab.pipeline.types import Sink

log = logging.getLogger(__name__)

__all__ = [
    "SCHEMA_VERSION",
    "AnnotatedVideoSink",
    "EventConsumer",
    "JsonlSink",
    "RedisStreamSink",
    "SQLiteStore",
    "SinkError",
    "StoreReader",
    "build_sinks",
    "close_sinks",
    "open_store",
    "read_jsonl",
    "stream_name",
]


def build_sinks(cfg: Mapping[str, Any] | None, run_dir: str | Path) -> list[Sink]:
    """Instantiate every sink of a ``sinks`` config node with ``run_dir=run_dir``.

    Args:
        cfg: name -> ``_target_`` node (a DictConfig or dict); a null node is skipped, so
            ``sinks.jsonl=null`` on the command line turns one sink off. None or empty: no sinks.
        run_dir: the run directory; relative paths in the nodes are inside it.

    Returns:
        The sinks in config order. If one fails to build, those already built are closed.

    Raises:
        UserError: a node is not a mapping with a ``_target_``, or its object is not a Sink.
    """
    import hydra.utils

    sinks: list[Sink] = []
    try:
        for name, node in (cfg or {}).items():
            if node is None:
                continue
            if not isinstance(node, Mapping) or "_target_" not in node:
                raise UserError(f"sinks.{name} must be a config node with a _target_, got {node!r}")
            sink = hydra.utils.instantiate(node, run_dir=str(run_dir))
            if not isinstance(sink, Sink):
                raise UserError(
                    f"sinks.{name}: {node['_target_']} built a {type(sink).__name__}, which has no "
                    "write(result) / close()"
                )
            sinks.append(sink)
    except BaseException:
        close_sinks(sinks, raise_errors=False)
        raise
    return sinks


def close_sinks(sinks: Iterable[Sink], *, raise_errors: bool = True) -> None:
    """Close every sink, even when one of them fails; then re-raise the first failure."""
    first: BaseException | None = None
    for sink in sinks:
        try:
            sink.close()
        except Exception as err:
            log.error("closing %s failed: %s", type(sink).__name__, err)
            first = first or err
    if first is not None and raise_errors:
        raise first
