"""PyAV backend: the fallback for files decord cannot open or decode.

Frames are identified by their presentation timestamp (pts), not by counting, so seeking to a
keyframe and decoding forward lands on exactly the requested frames, in constant and variable
frame rate files alike. The frame count and the timestamps come from one demux pass over the
packets (no decoding): header frame counts are not trusted, since truncated or re-muxed files
keep the count of the original.

Do not decode with PyAV in a process that later forks DataLoader workers (see
`vidlab.data.io.reader`); vidlab only calls this backend inside workers or spawned processes.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidlab.data.io.base import (
    VideoDecodeError,
    VideoInfo,
    plausible_frame_times,
    unique_indices,
)
from vidlab.data.io.rotation import rotate_frame

log = logging.getLogger(__name__)

BACKEND = "pyav"
_AV_ERRORS = (av.FFmpegError, OSError, IndexError, ValueError)
# Frames past the target we keep decoding before giving up on it (decoders may emit out of order).
REORDER_WINDOW = 8
# Containers whose timestamps are synthesised from the packet order, not presentation times: AVI
# files with B-frames (DivX / Xvid, as in UCF101 and HMDB51) label decoded frames out of order,
# while the frames themselves come out right. Frames of these are numbered in output order.
COUNTED_FORMATS = frozenset({"avi"})


class PyAVVideo:
    """A video opened with PyAV.

    Args:
        path: video file.
        size: (height, width) to convert frames to, or None for the stored resolution.
        threads: decoder threads (1 in DataLoader workers; 0 lets FFmpeg pick).

    Raises:
        VideoDecodeError: the file cannot be opened, has no video stream or no frames.
    """

    def __init__(self, path: str | Path, *, size: tuple[int, int] | None = None, threads: int = 1):
        self.path = Path(path)
        self.size = size
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
            self._stream.codec_context.thread_count = threads
            pts, keyframe = self._scan_packets()
        except _AV_ERRORS as err:
            self.close()
            raise VideoDecodeError(self.path, BACKEND, str(err)[:300]) from err
        if len(pts) == 0:
            self.close()
            raise VideoDecodeError(self.path, BACKEND, "the video stream has no frames")
        self._rotation_seen = 0  # display rotation last applied (logged once per value)
        self._pts = pts  # (N,) sorted presentation timestamps, stream time base; None if unknown
        self._keyframe = keyframe  # (N,) bool, aligned with _pts
        self.info = self._make_info()

    def _scan_packets(self) -> tuple[np.ndarray, np.ndarray]:
        """Presentation timestamps and keyframe flags of all non-empty packets, sorted by pts."""
        pts, key = [], []
        for packet in self._container.demux(self._stream):
            if packet.size == 0:  # the end-of-stream flush packet
                continue
            pts.append(packet.pts)
            key.append(packet.is_keyframe)
        if any(p is None for p in pts) or self._container.format.name in COUNTED_FORMATS:
            # Without usable timestamps, frames are counted while decoding from the start.
            self._sequential = True
            return np.arange(len(pts), dtype=np.int64), np.zeros(len(pts), dtype=bool)
        self._sequential = False
        order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
        return np.asarray(pts, dtype=np.int64)[order], np.asarray(key, dtype=bool)[order]

    def _make_info(self) -> VideoInfo:
        num_frames = len(self._pts)
        time_base = self._stream.time_base or Fraction(1, 1)
        times = None
        if not self._sequential:
            times = (self._pts - self._pts[0]).astype(np.float64) * float(time_base)
        rate = self._stream.average_rate or self._stream.guessed_rate
        if rate:
            fps = float(rate)
        elif times is not None and times[-1] > 0:
            fps = (num_frames - 1) / float(times[-1])
        else:
            raise VideoDecodeError(self.path, BACKEND, "no frame rate in the container")
        if times is not None:
            times = plausible_frame_times(times, fps)  # None: time frames by count and rate
        return VideoInfo(num_frames=num_frames, fps=fps, backend=BACKEND, frame_times=times)

    def get_frames(self, indices: np.ndarray) -> np.ndarray:
        """Frames at `indices` as uint8 (len(indices), H, W, 3).

        Packets that fail to decode are skipped. A requested frame that never comes out of the
        decoder (a corrupt tail) is replaced by the nearest earlier decoded frame, and this is
        logged; if no requested frame decodes at all, VideoDecodeError is raised.

        Raises:
            IndexError: an index is outside the video.
            VideoDecodeError: nothing could be decoded.
        """
        unique, inverse = unique_indices(indices, self.info.num_frames)
        try:
            if not self._sequential:
                try:
                    decoded = self._decode(unique)
                except _OutOfOrderTimestamps:
                    log.debug("%s: timestamps out of order, numbering frames by count", self.path)
                    self._sequential = True
            if self._sequential:
                decoded = self._decode_sequential(unique)
        except _AV_ERRORS as err:
            raise VideoDecodeError(self.path, BACKEND, str(err)[:300]) from err
        frames = _fill_gaps(decoded, unique, self.path)
        return frames[inverse]

    def _decode(self, wanted: np.ndarray) -> dict[int, np.ndarray]:
        """Decode the sorted frame indices `wanted`, seeking to a keyframe where that is shorter."""
        out: dict[int, np.ndarray] = {}
        wanted_set = set(wanted.tolist())
        key_positions = np.flatnonzero(self._keyframe)
        position = -1  # index of the last frame the decoder produced
        frames = None
        for target in wanted.tolist():
            if target in out:
                continue
            key = _last_keyframe(key_positions, target)
            if frames is None or position >= target or position < key - 1:
                self._container.seek(int(self._pts[key]), stream=self._stream, backward=True)
                frames = self._frames()
            previous_pts = None
            for frame in frames:
                if frame.pts is None:
                    continue
                if previous_pts is not None and frame.pts < previous_pts:
                    raise _OutOfOrderTimestamps
                previous_pts = frame.pts
                position = self._index_of(frame.pts)
                if position in wanted_set and position not in out:
                    out[position] = self._to_rgb(frame)
                # Some containers (AVI with packed B-frames) emit frames slightly out of order.
                if target in out or position > target + REORDER_WINDOW:
                    break
            else:
                break  # end of stream: later targets cannot be decoded either
        return out

    def _index_of(self, pts: int) -> int:
        """Frame index of a timestamp: exact match, else the nearest earlier frame."""
        i = int(np.searchsorted(self._pts, pts, side="right")) - 1
        return min(max(i, 0), len(self._pts) - 1)

    def _decode_sequential(self, wanted: np.ndarray) -> dict[int, np.ndarray]:
        """Decode from the start, numbering frames in output order (files without timestamps)."""
        out: dict[int, np.ndarray] = {}
        wanted_set, last = set(wanted.tolist()), int(wanted[-1])
        self._container.seek(0, stream=self._stream, backward=True)
        for position, frame in enumerate(self._frames()):
            if position in wanted_set:
                out[position] = self._to_rgb(frame)
            if position >= last:
                break
        return out

    def _frames(self):
        """Decoded frames from the current position, skipping packets that fail to decode."""
        for packet in self._container.demux(self._stream):
            try:
                yield from packet.decode()
            except av.InvalidDataError as err:
                log.debug("%s: skipping a corrupt packet: %s", self.path, err)

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB frame, scaled to `size` (stored orientation), then turned as its display matrix
        says (phone videos): a 90-degree rotation swaps the output's height and width."""
        if self.size is None:
            rgb = frame.to_ndarray(format="rgb24")
        else:
            height, width = self.size
            rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
        rotation = frame.rotation
        if rotation:
            if rotation != self._rotation_seen:
                log.debug("%s: turning frames by their display rotation, %d degrees "
                          "counter-clockwise", self.path, rotation)  # fmt: skip
                self._rotation_seen = rotation
            rgb = rotate_frame(rgb, rotation)
        return rgb

    def close(self) -> None:
        """Close the container."""
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None

    def __enter__(self) -> PyAVVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _OutOfOrderTimestamps(Exception):
    """Decoded frames carry decreasing timestamps: they cannot identify frames."""


def _last_keyframe(key_positions: np.ndarray, target: int) -> int:
    """Index of the last keyframe at or before `target` (0 when the file marks none)."""
    i = int(np.searchsorted(key_positions, target, side="right")) - 1
    return int(key_positions[i]) if i >= 0 else 0


def _fill_gaps(decoded: dict[int, np.ndarray], wanted: np.ndarray, path: Path) -> np.ndarray:
    """Stack decoded frames in `wanted` order, filling undecodable ones from earlier frames."""
    if not decoded:
        raise VideoDecodeError(path, BACKEND, f"none of frames {wanted.tolist()} could be decoded")
    available = np.array(sorted(decoded), dtype=np.int64)
    missing = [int(i) for i in wanted if int(i) not in decoded]
    if missing:
        log.warning(
            "%s: frames %s did not decode (corrupt or truncated stream); using the nearest "
            "decoded frames instead",
            path,
            missing,
        )
    picks = []
    for i in wanted.tolist():
        j = int(np.searchsorted(available, i, side="right")) - 1
        picks.append(decoded[int(available[max(j, 0)])])
    return np.stack(picks)
