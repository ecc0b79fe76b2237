"""Pinned outputs of every tracker on one fixed, crowded scene.

The trackers share the Kalman filters, the IoU and the gated assignment, and those are tuned for
speed (fewer numpy calls). Such work must not change what any tracker reports, so this test pins a
fingerprint of each tracker's full output: the rows reported, the ids and the frames they appear
in, and the boxes. Any change to a match, a track's lifetime or its Kalman state shows up here.

A deliberate change of behaviour updates the numbers: ``python tests/tracking/test_golden.py``
prints the current fingerprints.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vidlab.tracking import create_tracker
from vidlab.tracking.types import Detections

NUM_FRAMES = 150
NUM_OBJECTS = 14
#: Ids given to false positives (their embeddings must not match any object's).
FALSE_POSITIVE_ID_BASE = 10_000

#: Per tracker: rows reported, distinct ids, sum of id * frame, and the sum of all box coordinates
#: (recorded before the speed work on the shared tracking code).
EXPECTED: dict[str, tuple[int, int, int, float]] = {
    "botsort": (1470, 14, 861066, 2076074.1696907082),
    "bytetrack": (1639, 14, 944319, 2307069.5866659135),
    "deepsort": (1954, 14, 1129727, 2738506.805804195),
    "ocsort": (186, 16, 106109, 269686.64024906984),
    "sort": (1435, 38, 2243518, 2025715.4846065496),
}

PARAMS: dict[str, dict] = {"botsort": {"cmc": "none"}}
EMBED_DIM = 8


def identity_embeddings(ids: np.ndarray) -> np.ndarray:
    """(N, EMBED_DIM) unit embeddings, one fixed direction per identity."""
    out = np.zeros((len(ids), EMBED_DIM), np.float32)
    for k, i in enumerate(ids.tolist()):
        v = np.random.default_rng(i).standard_normal(EMBED_DIM)
        out[k] = v / np.linalg.norm(v)
    return out


def crowded_scene(seed: int = 7) -> list[Detections]:
    """Objects crossing at different speeds, with box noise, misses, weak detections and false
    positives: every association stage (high, low, unconfirmed, re-found) and the assignment
    solver's conflict path are exercised."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([50.0, 50.0], [900.0, 450.0], (NUM_OBJECTS, 2))
    velocity = rng.normal(0.0, 3.0, (NUM_OBJECTS, 2))
    size = rng.uniform([30.0, 60.0], [60.0, 140.0], (NUM_OBJECTS, 2))
    frames = []
    for f in range(NUM_FRAMES):
        centre = start + velocity * f
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        boxes += rng.normal(0.0, 4.0, boxes.shape)
        score = np.clip(rng.normal(0.6, 0.25, NUM_OBJECTS), 0.02, 1.0)
        seen = rng.random(NUM_OBJECTS) > 0.12
        ids = np.arange(NUM_OBJECTS)[seen]
        boxes, score = boxes[seen], score[seen]
        num_fp = rng.poisson(1.0)
        fp_xy = rng.uniform([0.0, 0.0], [950.0, 500.0], (num_fp, 2))
        fp_boxes = np.concatenate([fp_xy, fp_xy + rng.uniform(30.0, 100.0, (num_fp, 2))], axis=1)
        fp_ids = FALSE_POSITIVE_ID_BASE + f * 10 + np.arange(num_fp)
        frames.append(
            Detections(
                np.concatenate([boxes, fp_boxes]),
                np.concatenate([score, rng.uniform(0.05, 0.7, num_fp)]),
                np.zeros(len(ids) + num_fp, np.int64),
                identity_embeddings(np.concatenate([ids, fp_ids])),
            )
        )
    return frames


def fingerprint(
    name: str, create: Callable[..., object] = create_tracker
) -> tuple[int, int, int, float]:
    """Rows, distinct ids, sum of id * frame and the sum of all boxes of one tracker's output."""
    tracker = create(name, **PARAMS.get(name, {}))
    rows = id_frame = 0
    ids: set[int] = set()
    box_sum = 0.0
    for f, dets in enumerate(crowded_scene(), start=1):
        out = tracker.update(dets)
        rows += len(out)
        track_ids = out[:, 4].astype(np.int64)
        ids.update(track_ids.tolist())
        id_frame += int(track_ids.sum()) * f
        box_sum += float(out[:, :4].sum())
    return rows, len(ids), id_frame, box_sum


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_output_is_pinned(name: str) -> None:
    rows, num_ids, id_frame, box_sum = fingerprint(name)
    want_rows, want_ids, want_id_frame, want_box_sum = EXPECTED[name]
    assert (rows, num_ids, id_frame) == (want_rows, want_ids, want_id_frame)
    # Boxes: equal up to floating-point rounding (BLAS kernels may sum in another order).
    assert box_sum == pytest.approx(want_box_sum, rel=1e-9)


if __name__ == "__main__":
    for tracker_name in sorted(EXPECTED):
        print(f'    "{tracker_name}": {fingerprint(tracker_name)!r},')
