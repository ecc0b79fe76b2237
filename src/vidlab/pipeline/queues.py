"""Bounded queues between the stream runtime's stages, with a policy for a full queue.

- ``block``: the producer waits until the consumer takes an item (files: every frame is processed).
- ``drop_oldest``: the oldest queued item is discarded to make room and counted (live sources: the
  consumer sees the newest frames; a stale frame is worth less than a fresh one).

Several queues may share one `threading.Condition` so that one consumer can wait on all of them at
once (the detect stage muxes every stream's queue into batches, as DeepStream's muxer does). A queue
records its depth high-water mark and the mean depth it was seen at; `abort` wakes every waiter
(raising `Aborted`) so that a failing stage stops the whole pipeline.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

POLICIES = ("block", "drop_oldest")


class Aborted(RuntimeError):
    """The pipeline was stopped while a stage waited on a queue."""


class StageQueue:
    """A bounded FIFO with a full-queue policy and counters.

    Args:
        maxsize: capacity (>= 1).
        policy: ``block`` or ``drop_oldest``.
        name: for messages and stats.
        condition: a condition shared with other queues (None: a private one).
        wake_at: depth at which `put` wakes the consumer (end markers and ``drop_oldest`` queues
            always wake it). A consumer that gathers batches gains nothing from waking for every
            item, and each wake-up is a thread switch that both threads pay for in GIL
            hand-offs; a consumer must then wait with a timeout (the detect stage's
            ``batch_timeout_ms``) so that a lone item is not left waiting.
    """

    def __init__(
        self,
        maxsize: int,
        policy: str = "block",
        *,
        name: str = "queue",
        condition: threading.Condition | None = None,
        wake_at: int = 1,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"queue {name!r}: maxsize must be >= 1, got {maxsize}")
        if policy not in POLICIES:
            raise ValueError(f"queue {name!r}: policy {policy!r}; expected one of {POLICIES}")
        self.maxsize = int(maxsize)
        self.policy = policy
        self.name = name
        self.cond = condition or threading.Condition()
        self.wake_at = max(1, int(wake_at)) if policy == "block" else 1
        self._items: deque[Any] = deque()
        self._aborted = False
        self.dropped = 0
        self.put_count = 0
        self.max_depth = 0
        self._depth_sum = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Any, *, force: bool = False) -> Any | None:
        """Append `item`; returns the item dropped to make room (``drop_oldest``) or None.

        ``force`` appends past the capacity (end-of-stream markers must never be lost or wait).

        Raises:
            Aborted: the pipeline stopped while waiting for room.
        """
        dropped = None
        with self.cond:
            if not force:
                while len(self._items) >= self.maxsize and not self._aborted:
                    if self.policy == "drop_oldest":
                        dropped = self._items.popleft()
                        self.dropped += 1
                        break
                    self.cond.wait(0.1)
            if self._aborted:
                raise Aborted(self.name)
            self._items.append(item)
            self.put_count += 1
            if not force:  # end markers ride past the capacity and are not counted
                depth = len(self._items)
                self.max_depth = max(self.max_depth, depth)
                self._depth_sum += depth
            if force or len(self._items) >= self.wake_at:
                self.cond.notify_all()
        return dropped

    def take_nowait(self) -> tuple[bool, Any]:
        """(True, item) if one is queued, else (False, None); the caller holds `cond`."""
        if self._items:
            full = len(self._items) >= self.maxsize
            item = self._items.popleft()
            if full:  # only a full queue has a producer waiting in `put`
                self.cond.notify_all()
            return True, item
        return False, None

    def get(self, timeout: float | None = None) -> Any:
        """Remove and return the oldest item, waiting up to `timeout` s (None: for ever).

        Raises:
            TimeoutError: nothing arrived in time.
            Aborted: the pipeline stopped.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                if self._aborted:
                    raise Aborted(self.name)
                ok, item = self.take_nowait()
                if ok:
                    return item
                left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if left <= 0:
                    raise TimeoutError(self.name)
                self.cond.wait(left)

    def abort(self) -> None:
        """Wake every waiter with `Aborted` and drop what is queued."""
        with self.cond:
            self._aborted = True
            self._items.clear()
            self.cond.notify_all()

    def stats(self) -> dict[str, float]:
        """Capacity, policy-independent counters and depths."""
        return {
            "maxsize": self.maxsize,
            "depth": len(self._items),
            "max_depth": self.max_depth,
            "mean_depth": self._depth_sum / max(self.put_count, 1),
            "dropped": self.dropped,
        }
