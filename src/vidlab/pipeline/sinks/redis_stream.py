"""Alerts on a message bus: events appended to Redis Streams, one stream per camera, read by
consumer groups.

Each event is one stream entry (``XADD``) with the fields ``type``, ``camera``, ``track_id`` and
``event`` (the `Event.to_dict` JSON). Streams are capped with ``MAXLEN ~`` so Redis memory stays
bounded. Because streams are per camera and entries carry their camera, any number of worker
processes, each with its own cameras, can publish to the same server; consumers in one group
(``XREADGROUP``) share the work so that each event is delivered to one of them, and acknowledge it
(``XACK``) once handled. Entries delivered but never acknowledged stay pending for the group and
can be claimed again after a consumer dies (`EventConsumer.pending`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vidlab.errors import UserError
from vidlab.pipeline.sinks.base import SinkError, dumps, event_record
from vidlab.pipeline.types import Event, FrameResult

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_STREAM", "EventConsumer", "RedisStreamSink", "stream_name"]

#: Stream key template; ``{camera}`` is replaced by the stream id.
DEFAULT_STREAM = "vidlab:events:{camera}"


def stream_name(template: str, camera: str) -> str:
    """The stream key of `camera` under `template` (which must contain ``{camera}``)."""
    return template.format(camera=camera)


def _client(url: str, client: Any | None) -> Any:
    if client is not None:
        return client
    try:
        import redis
    except ImportError as err:  # pragma: no cover - redis is a dependency
        raise UserError("the redis sink needs the `redis` package (pip install redis)") from err
    return redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)


def _ping(redis_client: Any, url: str) -> None:
    """Fail at start, naming the server, rather than at the first event."""
    import redis

    try:
        redis_client.ping()
    except redis.RedisError as err:
        raise SinkError(f"cannot reach the redis server at {url}: {err}") from err


class RedisStreamSink:
    """Publish every event to the Redis stream of its camera.

    Args:
        url: the server, e.g. ``redis://localhost:6379/0``.
        stream: key template with ``{camera}`` (`DEFAULT_STREAM`).
        maxlen: approximate cap on each stream's length (``XADD MAXLEN ~``); None: no cap.
        client: an existing ``redis.Redis`` client (overrides `url`).
        on_error: ``raise`` stops the pipeline with a `SinkError` when the server cannot take
            events; ``drop`` logs, counts the lost events (`events_dropped`) and goes on, so an
            outage of the bus does not stop the analysis (the client reconnects on the next write).
        run_dir: accepted for `build_sinks` and unused (the sink writes no file).
    """

    needs_image = False

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        stream: str = DEFAULT_STREAM,
        maxlen: int | None = 100_000,
        client: Any | None = None,
        on_error: str = "raise",
        run_dir: str | Path | None = None,
    ) -> None:
        if on_error not in ("raise", "drop"):
            raise UserError(
                f"RedisStreamSink: on_error must be 'raise' or 'drop', got {on_error!r}"
            )
        if "{camera}" not in stream:
            raise UserError(f"RedisStreamSink: stream {stream!r} must contain '{{camera}}'")
        if maxlen is not None and maxlen < 1:
            raise UserError(f"RedisStreamSink: maxlen must be >= 1 or null, got {maxlen}")
        del run_dir
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self.on_error = on_error
        self.events_published = 0
        self.events_dropped = 0
        self._redis = _client(url, client)
        _ping(self._redis, url)
        self._closed = False

    def write(self, result: FrameResult) -> None:
        """XADD the frame's events (one round trip per frame that has events)."""
        if self._closed:
            raise SinkError(f"write to the redis sink {self.url} after close()")
        if not result.events:
            return
        import redis

        key = stream_name(self.stream, result.frame.stream_id)
        pipe = self._redis.pipeline(transaction=False)
        for event in result.events:
            fields = {
                "type": event.type,
                "camera": event.camera,
                "track_id": int(event.track_id),
                "event": dumps(event_record(event)),
            }
            pipe.xadd(key, fields, maxlen=self.maxlen, approximate=True)
        try:
            pipe.execute()
        except redis.RedisError as err:
            message = f"cannot publish to redis stream {key} at {self.url}: {err}"
            if self.on_error == "raise":
                raise SinkError(message) from err
            if self.events_dropped == 0:
                log.warning("%s (dropping events until it is back)", message)
            self.events_dropped += len(result.events)
            return
        self.events_published += len(result.events)

    def close(self) -> None:
        """Release the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._redis.close()
        log.info(
            "published %d events to %s (%d dropped)",
            self.events_published,
            self.url,
            self.events_dropped,
        )


class EventConsumer:
    """One consumer of a consumer group reading events from several camera streams.

    Args:
        streams: stream keys to read (see `stream_name`, `discover`).
        group: the consumer group (created at the start of the streams when missing; entries
            already in a stream are delivered too).
        consumer: this consumer's name within the group.
        url: the server.
        client: an existing ``redis.Redis`` client (overrides `url`).
    """

    def __init__(
        self,
        streams: Iterable[str],
        *,
        group: str,
        consumer: str,
        url: str = "redis://localhost:6379/0",
        client: Any | None = None,
    ) -> None:
        self.streams = list(streams)
        if not self.streams:
            raise UserError("EventConsumer needs at least one stream")
        self.group = group
        self.consumer = consumer
        self.url = url
        self._redis = _client(url, client)
        _ping(self._redis, url)
        self.ensure_group()

    @staticmethod
    def discover(
        pattern: str = DEFAULT_STREAM,
        *,
        url: str = "redis://localhost:6379/0",
        client: Any | None = None,
    ) -> list[str]:
        """Stream keys on the server matching the template (``{camera}`` as a wildcard)."""
        redis_client = _client(url, client)
        match = pattern.replace("{camera}", "*")
        keys = redis_client.scan_iter(match=match, _type="stream")
        return sorted(k.decode() if isinstance(k, bytes) else k for k in keys)

    def ensure_group(self) -> None:
        """``XGROUP CREATE ... MKSTREAM`` on every stream; an existing group is kept."""
        import redis

        for key in self.streams:
            try:
                self._redis.xgroup_create(key, self.group, id="0", mkstream=True)
            except redis.ResponseError as err:
                if "BUSYGROUP" not in str(err):
                    raise SinkError(f"cannot create group {self.group} on {key}: {err}") from err

    def read(self, count: int = 100, block_ms: int | None = 100) -> list[tuple[str, str, Event]]:
        """Up to `count` new entries for this consumer as ``(stream, entry_id, event)``; waits at
        most `block_ms` milliseconds when there are none (None: return at once)."""
        import redis

        try:
            reply = self._redis.xreadgroup(
                self.group,
                self.consumer,
                {key: ">" for key in self.streams},
                count=count,
                block=block_ms,
            )
        except redis.RedisError as err:
            raise SinkError(f"cannot read group {self.group} at {self.url}: {err}") from err
        return self._decode(reply)

    @staticmethod
    def _decode(reply: Any) -> list[tuple[str, str, Event]]:
        out = []
        for key, entries in reply or []:
            key = key.decode() if isinstance(key, bytes) else key
            for entry_id, fields in entries:
                entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                raw = fields.get(b"event", fields.get("event"))
                if raw is None:
                    raise SinkError(f"entry {entry_id} of stream {key} has no 'event' field")
                out.append((key, entry_id, Event.from_dict(json.loads(raw))))
        return out

    def ack(self, entries: Iterable[tuple[str, str, Any]]) -> int:
        """``XACK`` the given ``(stream, entry_id, ...)`` entries; returns how many were pending."""
        by_stream: dict[str, list[str]] = {}
        for key, entry_id, *_ in entries:
            by_stream.setdefault(key, []).append(entry_id)
        return sum(int(self._redis.xack(key, self.group, *ids)) for key, ids in by_stream.items())

    def pending(self) -> int:
        """Entries delivered to the group's consumers and not yet acknowledged, over all streams."""
        return sum(int(self._redis.xpending(key, self.group)["pending"]) for key in self.streams)

    def __iter__(self) -> Iterator[tuple[str, str, Event]]:
        """Entries as they arrive, acknowledged after the loop body asked for the next one; stops
        when a read returns nothing."""
        while True:
            batch = self.read()
            if not batch:
                return
            for item in batch:
                yield item
                self.ack([item])

    def close(self) -> None:
        """Release the connection (idempotent)."""
        self._redis.close()
