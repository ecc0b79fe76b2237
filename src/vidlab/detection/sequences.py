"""Detections for MOTChallenge sequence folders, written as det.txt files.

A sequence folder holds its frames in ``img1/`` (or the ``imDir`` of its ``seqinfo.ini``), named by
1-based frame number (``000001.jpg``). `detect_sequence` runs a detector over them in order and
returns the rows of a ``det/det.txt`` (``frame,-1,x,y,w,h,score,-1,-1,-1``); `detect_folder`
writes ``<out_dir>/<sequence>.txt`` for each sequence, the layout ``task=track
detections=<out_dir>`` reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from vidlab.detection.detector import FrameDetector
from vidlab.errors import UserError
from vidlab.evaluation.mot.io import MotTable, read_seqinfo, write_mot_txt

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def frame_files(folder: str | Path) -> list[tuple[int, Path]]:
    """(1-based frame number, image file) of a sequence folder, in frame order.

    With a ``seqinfo.ini`` the frames are 1..seqLength in its imDir; without one, every image in
    ``img1/`` named by its frame number.

    Raises:
        UserError: no frames, a missing frame, or an image not named by a number.
    """
    folder = Path(folder)
    if (folder / "seqinfo.ini").is_file():
        info = read_seqinfo(folder)
        files = [
            (f, folder / info.im_dir / f"{f:06d}{info.im_ext}")
            for f in range(1, info.seq_length + 1)
        ]
        missing = [str(p) for _, p in files if not p.is_file()]
        if missing:
            raise UserError(
                f"{folder}: {len(missing)} of the {info.seq_length} frames its "
                f"seqinfo.ini lists are missing, e.g. {missing[0]}"
            )
        return files
    images = sorted(p for p in (folder / "img1").glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not images:
        raise UserError(
            f"{folder}: no frames: expected images in {folder / 'img1'} (000001.jpg, ...)"
        )
    bad = [p.name for p in images if not p.stem.isdigit()]
    if bad:
        raise UserError(f"{folder / 'img1'}: image {bad[0]} is not named by its frame number")
    return sorted((int(p.stem), p) for p in images)


def _read_batches(
    files: list[tuple[int, Path]], size: int
) -> Iterator[tuple[list[int], list[np.ndarray]]]:
    for start in range(0, len(files), size):
        numbers, frames = [], []
        for number, path in files[start : start + size]:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise UserError(f"{path}: not a readable image")
            numbers.append(number)
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        yield numbers, frames


def detect_sequence(detector: FrameDetector, folder: str | Path) -> tuple[MotTable, float]:
    """The detections of every frame of a sequence folder as det.txt rows, and the seconds spent
    in the detector (reading frames excluded)."""
    frames_out, boxes_out, scores_out = [], [], []
    seconds = 0.0
    for numbers, frames in _read_batches(frame_files(folder), max(1, detector.batch_size)):
        start = time.perf_counter()
        detections = detector.detect(frames)
        seconds += time.perf_counter() - start
        for number, dets in zip(numbers, detections, strict=True):
            frames_out.append(np.full(len(dets), number, np.int64))
            boxes_out.append(np.column_stack([dets[:, :2], dets[:, 2:4] - dets[:, :2]]))
            scores_out.append(dets[:, 4])
    frame = np.concatenate(frames_out) if frames_out else np.zeros(0, np.int64)
    tlwh = np.concatenate(boxes_out) if boxes_out else np.zeros((0, 4))
    score = np.concatenate(scores_out) if scores_out else np.zeros(0)
    table = MotTable.from_arrays(frame, np.full(len(frame), -1), tlwh, score)
    return table, seconds


def detect_folder(
    detector: FrameDetector, sequence_dirs: list[Path], out_dir: str | Path
) -> dict[str, float]:
    """Write ``<out_dir>/<sequence>.txt`` (det.txt format) for every sequence folder; returns
    ``{"frames": n, "boxes": n, "seconds": s}`` (detector time, frames read excluded)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    totals = {"frames": 0.0, "boxes": 0.0, "seconds": 0.0}
    for folder in sequence_dirs:
        table, seconds = detect_sequence(detector, folder)
        write_mot_txt(out_dir / f"{Path(folder).name}.txt", table)
        frames = len(frame_files(folder))
        log.info(
            "%s: %d boxes on %d frames, %.1f frames/s",
            Path(folder).name,
            len(table),
            frames,
            frames / max(seconds, 1e-9),
        )
        totals["frames"] += frames
        totals["boxes"] += len(table)
        totals["seconds"] += seconds
    return totals
