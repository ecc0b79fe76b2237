"""Synthetic `FrameResult` streams with known content, for the sinks' tests, benchmarks and demos.

Targets move on straight lines across the frame; each frame carries their tracks, matching
detections, and a line-crossing event whenever a target's centre crosses the vertical middle line.
Everything is a pure function of the arguments (no randomness beyond the seeded generator).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vidlab.pipeline.types import Detections, Event, Frame, FrameResult, Tracks

__all__ = ["synthetic_results"]


def synthetic_results(
    *,
    camera: str = "cam0",
    frames: int = 100,
    targets: int = 8,
    fps: float = 25.0,
    source_size: tuple[int, int] = (960, 540),
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    start_frame: int = 0,
) -> Iterator[FrameResult]:
    """Yield `frames` results of one camera.

    Args:
        camera: the stream id.
        frames: number of frames.
        targets: targets visible at once; a target that leaves the frame is replaced by a new one
            with a new track id.
        fps: frame rate that sets `Frame.pts` (index / fps).
        source_size: (width, height) of the source; boxes are in these pixels.
        image_size: (width, height) of a black RGB image attached to each frame (None: no image).
        seed: seeds the targets' starting points and speeds.
        start_frame: index of the first frame (to continue a stream).
    """
    rng = np.random.default_rng(seed)
    width, height = source_size
    box_w, box_h = width / 20, height / 6

    def spawn(n: int) -> tuple[np.ndarray, np.ndarray]:
        pos = np.column_stack([rng.uniform(0, width - box_w, n), rng.uniform(0, height - box_h, n)])
        vel = rng.uniform(2, 8, (n, 2)) * rng.choice([-1, 1], (n, 2))
        return pos, vel

    pos, vel = spawn(targets)
    ids = np.arange(1, targets + 1, dtype=np.int64)
    next_id = targets + 1
    mid = width / 2
    for i in range(start_frame):  # fast-forward so that a continued stream stays consistent
        pos, vel, ids, next_id = _step(pos, vel, ids, next_id, spawn, width, height, box_w, box_h)
        del i
    for index in range(start_frame, start_frame + frames):
        pts = index / fps
        xyxy = np.column_stack([pos, pos + [box_w, box_h]])
        score = np.full(len(ids), 0.9)
        events = []
        centre = pos[:, 0] + box_w / 2
        crossed = (centre - vel[:, 0] < mid) != (centre < mid)
        for k in np.flatnonzero(crossed):
            events.append(
                Event(
                    type="line_crossing",
                    camera=camera,
                    track_id=int(ids[k]),
                    item="middle",
                    t_start=pts,
                    t_end=pts,
                    frame_start=index,
                    frame_end=index,
                    confidence=0.9,
                    label="in" if vel[k, 0] > 0 else "out",
                    extra={"speed_px_s": float(abs(vel[k, 0]) * fps)},
                )
            )
        image = None
        if image_size is not None:
            image = np.zeros((image_size[1], image_size[0], 3), np.uint8)
        frame = Frame(camera, index, pts, 0.0, image, (width, height))
        yield FrameResult(
            frame=frame,
            detections=Detections(xyxy.copy(), score.copy(), np.zeros(len(ids), np.int64)),
            tracks=Tracks(xyxy, ids.copy(), score),
            events=events,
        )
        pos, vel, ids, next_id = _step(pos, vel, ids, next_id, spawn, width, height, box_w, box_h)


def _step(pos, vel, ids, next_id, spawn, width, height, box_w, box_h):
    """Move every target one frame; targets that left the frame are replaced by new ids."""
    pos = pos + vel
    gone = (
        (pos[:, 0] < 0)
        | (pos[:, 1] < 0)
        | (pos[:, 0] > width - box_w)
        | (pos[:, 1] > height - box_h)
    )
    if gone.any():
        n = int(gone.sum())
        new_pos, new_vel = spawn(n)
        pos[gone], vel[gone] = new_pos, new_vel
        ids = ids.copy()
        ids[gone] = np.arange(next_id, next_id + n)
        next_id += n
    return pos, vel, ids, next_id
