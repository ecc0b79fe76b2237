"""Analytics without the stream runtime: per-frame tracks in, events out.

`run_analytics` is what the analyze stage does, frame by frame, for one camera; `mot_track_frames`
turns MOTChallenge rows (ground truth, or a tracker's results) into those per-frame tracks with
their stream times.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.errors import UserError
from vidlab.pipeline.types import Analyzer, Event, Frame, FrameResult, Tracks
from vidlab.tracking.types import tlwh_to_xyxy


def mot_track_frames(
    frame: np.ndarray, track_id: np.ndarray, tlwh: np.ndarray, pts: np.ndarray
) -> Iterator[tuple[int, float, Tracks]]:
    """Yield ``(index, pts, Tracks)`` for every frame of a sequence from MOTChallenge rows.

    Args:
        frame: (R,) 1-based frame numbers, sorted.
        track_id: (R,) ids.
        tlwh: (R, 4) boxes.
        pts: (F,) stream time of each frame (frame ``f`` is ``pts[f - 1]``, index ``f - 1``).
    """
    order = np.argsort(frame, kind="stable")
    frame, track_id, tlwh = frame[order], track_id[order], np.asarray(tlwh)[order]
    bounds = np.searchsorted(frame, np.arange(1, len(pts) + 2))
    xyxy = tlwh_to_xyxy(np.asarray(tlwh, np.float64).reshape(-1, 4))
    for f in range(1, len(pts) + 1):
        lo, hi = bounds[f - 1], bounds[f]
        tracks = Tracks(xyxy[lo:hi].copy(), track_id[lo:hi].astype(np.int64), np.ones(hi - lo))
        yield f - 1, float(pts[f - 1]), tracks


def run_analytics(
    analyzers: Sequence[Analyzer],
    frames: Iterable[tuple[int, float, Tracks]],
    *,
    camera: str,
    frame_size: tuple[int, int] = (0, 0),
) -> list[Event]:
    """Feed ``(index, pts, tracks)`` frames in order through every analyzer, then close them.

    Returns:
        All events, ordered by start time (then type and item).
    """
    events: list[Event] = []
    for index, pts, tracks in frames:
        frame = Frame(camera, int(index), float(pts), 0.0, None, frame_size)
        result = FrameResult(frame, tracks=tracks)
        for analyzer in analyzers:
            events += analyzer.update(result)
    for analyzer in analyzers:
        events += analyzer.close()
    events.sort(key=lambda e: (e.t_start, e.type, e.item, e.track_id))
    return events


#: Where the tracks of a scene folder come from.
TRACK_SOURCES = ("oracle", "bytetrack", "sort", "deepsort", "botsort", "ocsort")


def scene_track_frames(
    folder: str | Path, source: str = "oracle", **tracker_params: Any
) -> tuple[list[tuple[int, float, Tracks]], tuple[int, int]]:
    """Per-frame tracks of a MOTChallenge scene folder and its (width, height).

    Args:
        folder: a sequence folder (``seqinfo.ini``, ``gt/gt.txt``, ``det/det.txt``).
        source: ``oracle`` (the ground-truth boxes and ids) or a tracker name run on
            ``det/det.txt`` with `tracker_params`.

    Stream times are ``(frame - 1) / frameRate``, what a source reading the folder at its
    nominal rate stamps.
    """
    from vidlab.evaluation.mot.io import read_mot_txt, read_seqinfo
    from vidlab.tracking import create_tracker
    from vidlab.tracking.runner import GT_FILE, load_sequence, track_sequence

    folder = Path(folder)
    info = read_seqinfo(folder)
    pts = np.arange(info.seq_length) / info.frame_rate
    if source == "oracle":
        table = read_mot_txt(folder / GT_FILE, kind="gt", num_frames=info.seq_length)
    elif source in TRACK_SOURCES:
        tracker = create_tracker(source, **tracker_params)
        table = track_sequence(tracker, load_sequence(folder)).results
    else:
        raise ValueError(f"unknown track source {source!r}; expected one of {TRACK_SOURCES}")
    frames = list(mot_track_frames(table.frame, table.track_id, table.tlwh, pts))
    return frames, (info.im_width, info.im_height)


def analyze_scene(folder: str | Path, source: str = "oracle", **tracker_params: Any) -> list[Event]:
    """Events of a synthetic scene folder (its ``analytics.yaml`` layout, camera = folder name)
    from its ground-truth tracks (``oracle``) or a tracker on its simulated detections."""
    from vidlab.analytics.builder import build_analyzers
    from vidlab.analytics.layout import layout_for, load_layouts

    folder = Path(folder)
    layout = layout_for(load_layouts(folder / "analytics.yaml"), folder.name)
    if layout is None:
        raise UserError(f"{folder / 'analytics.yaml'} has no layout for camera {folder.name!r}")
    frames, size = scene_track_frames(folder, source, **tracker_params)
    return run_analytics(build_analyzers(layout), frames, camera=folder.name, frame_size=size)
