"""StageQueue: capacity, block vs drop-oldest, abort."""

from __future__ import annotations

import threading
import time

import pytest

from vidlab.pipeline.queues import Aborted, StageQueue
from vidlab.pipeline.stats import LatencySeries


def test_drop_oldest_keeps_the_newest_and_counts():
    q = StageQueue(3, "drop_oldest")
    dropped = [q.put(i) for i in range(10)]
    assert dropped == [None, None, None, 0, 1, 2, 3, 4, 5, 6]
    assert q.dropped == 7 and len(q) == 3
    assert [q.get(0.1) for _ in range(3)] == [7, 8, 9]
    assert q.stats()["max_depth"] == 3


def test_block_waits_for_the_consumer():
    q = StageQueue(2, "block")
    q.put(0)
    q.put(1)
    done = threading.Event()

    def producer():
        q.put(2)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.2)
    assert not done.is_set() and len(q) == 2  # waiting for room, nothing dropped
    assert q.get(1.0) == 0
    t.join(2.0)
    assert done.is_set() and q.dropped == 0
    assert [q.get(0.1), q.get(0.1)] == [1, 2]


def test_abort_wakes_a_blocked_producer_and_consumer():
    q = StageQueue(1, "block")
    q.put(0)
    errors = []

    def producer():
        try:
            q.put(1)
        except Aborted as err:
            errors.append(err)

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.1)
    q.abort()
    t.join(2.0)
    assert len(errors) == 1
    with pytest.raises(Aborted):
        q.get(0.1)
    with pytest.raises(TimeoutError):
        StageQueue(1).get(0.05)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="drop_newest"):
        StageQueue(2, "drop_newest")
    with pytest.raises(ValueError, match="maxsize"):
        StageQueue(0)


def test_latency_window_is_bounded():
    s = LatencySeries(capacity=100)
    for i in range(1000):
        s.add(1.0 if i < 900 else 0.001)
    p = s.percentiles_ms()
    assert s.count == 1000 and p["p99"] == pytest.approx(1.0)  # only the last 100 samples


class _CountingCondition(threading.Condition):
    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def notify_all(self) -> None:
        self.wakes += 1
        super().notify_all()


def test_a_batching_consumer_is_woken_once_its_share_is_queued():
    cond = _CountingCondition()
    q = StageQueue(8, "block", condition=cond, wake_at=4)
    for i in range(3):
        q.put(i)
    assert cond.wakes == 0  # three frames: not yet worth a thread switch
    q.put(3)
    assert cond.wakes == 1
    q.put("end", force=True)  # an end marker always wakes the consumer
    assert cond.wakes == 2
    with cond:
        assert q.take_nowait() == (True, 0)
    assert cond.wakes == 2  # room was never short: no producer to wake

    live = StageQueue(8, "drop_oldest", condition=cond, wake_at=4)
    live.put("frame")
    assert cond.wakes == 3  # a live frame goes at once, whatever wake_at says


def test_a_consumer_waiting_on_a_lazy_queue_still_gets_a_lone_item_after_its_timeout():
    q = StageQueue(8, "block", wake_at=8)
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(2.0)))
    t.start()
    time.sleep(0.05)
    q.put("lone")  # below wake_at: no notify; the consumer finds it on its next poll
    t.join(2.0)
    assert got == ["lone"]


def test_taking_from_a_full_queue_wakes_the_blocked_producer():
    cond = _CountingCondition()
    q = StageQueue(2, "block", condition=cond, wake_at=2)
    q.put(0)
    q.put(1)
    t = threading.Thread(target=q.put, args=(2,))
    t.start()
    time.sleep(0.05)  # the producer waits for room
    before = cond.wakes
    with cond:
        assert q.take_nowait() == (True, 0)
    assert cond.wakes == before + 1
    t.join(2.0)
    assert not t.is_alive() and [q.get(0.1), q.get(0.1)] == [1, 2]
