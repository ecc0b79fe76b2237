"""Bounded per-track state: track ids mapped to rows of fixed-size state arrays.

Every analyzer keeps what it knows about a track (its side of each line, its zone membership, its
recent positions) in rows of preallocated numpy arrays. `TrackSlots` hands out those rows, frees
the rows of tracks unseen for `forget_after_s` stream seconds, and, when all `capacity` rows are
taken, recycles the row of the track seen longest ago. Memory therefore stays constant on a 24/7
stream whatever the number of ids the tracker hands out.
"""

from __future__ import annotations

import numpy as np


class TrackSlots:
    """Track id -> state row, with expiry by stream time and a hard cap.

    Args:
        capacity: rows available (tracks remembered at once).
        forget_after_s: a track unseen for this many stream seconds is forgotten.
    """

    def __init__(self, capacity: int, forget_after_s: float) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.forget_after_s = float(forget_after_s)
        self.track_id = np.full(self.capacity, -1, np.int64)
        self.last_seen = np.full(self.capacity, -np.inf)
        self._slot: dict[int, int] = {}
        self._free = list(range(self.capacity - 1, -1, -1))
        self.recycled = 0  # rows taken from live tracks because the cap was reached
        self._last_expiry = -np.inf

    def __len__(self) -> int:
        return len(self._slot)

    def lookup(self, track_ids: np.ndarray, pts: float) -> tuple[np.ndarray, np.ndarray]:
        """Rows of these tracks (allocated for new ids) and a mask of the new ones.

        Returns:
            (N,) int rows and (N,) bool "first seen now" (their rows must be initialised).
        """
        rows = list(map(self._slot.get, track_ids.tolist()))
        new = np.zeros(len(rows), bool)
        if None in rows:  # first sight of some ids
            for k, row in enumerate(rows):
                if row is None:
                    rows[k] = self._allocate(int(track_ids[k]), pts)
                    new[k] = True
        out = np.array(rows, np.intp)
        self.last_seen[out] = pts
        return out, new

    def _allocate(self, tid: int, pts: float) -> int:
        if self._free:
            row = self._free.pop()
        else:  # cap reached: recycle the row of the track seen longest ago
            row = int(np.argmin(self.last_seen))
            del self._slot[int(self.track_id[row])]
            self.recycled += 1
        self._slot[tid] = row
        self.track_id[row] = tid
        self.last_seen[row] = pts
        return row

    def expire(self, pts: float) -> np.ndarray:
        """Free the rows of tracks unseen for more than `forget_after_s`; returns those rows.

        The scan runs at most four times per `forget_after_s` of stream time (it is cheap, but
        runs on every frame of every analyzer otherwise).
        """
        if pts - self._last_expiry < self.forget_after_s / 4:
            return np.zeros(0, np.intp)
        self._last_expiry = pts
        stale = np.flatnonzero((self.track_id >= 0) & (pts - self.last_seen > self.forget_after_s))
        for row in stale.tolist():
            del self._slot[int(self.track_id[row])]
            self.track_id[row] = -1
            self.last_seen[row] = -np.inf
            self._free.append(row)
        return stale

    def row_of(self, track_id: int) -> int | None:
        """The row of a remembered track, else None."""
        return self._slot.get(int(track_id))
