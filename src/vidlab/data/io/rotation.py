"""Display rotation of videos: phones store portrait videos as landscape frames plus a matrix
that tells players to turn them.

The PyAV backend reads the rotation FFmpeg attaches to each decoded frame and turns the frame
(`rotate_frame`). decord 0.6 applies the rotation inconsistently (the right turn at full size, a
stretched frame at a reduced decode size, a failed copy for some widths), so the decord backend
hands rotated files to PyAV; it finds them with `mp4_display_rotation`, which reads the track
header of MP4 / MOV files in pure Python: no FFmpeg state in the calling process (see the fork
safety note of `vidlab.data.io.reader`).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

QUARTER_TURN = 90  # degrees
# ISO-BMFF (MP4 / MOV / 3GP) parsing limits: a movie header ("moov") larger than this is not
# read, and a file is given up on after this many top-level boxes (it is not ISO-BMFF).
MAX_MOOV_BYTES = 64 * 1024 * 1024
MAX_TOP_LEVEL_BOXES = 64
_HEADER = struct.Struct(">I4s")
_LARGE_SIZE = struct.Struct(">Q")
_MATRIX = struct.Struct(">9i")
_FIXED_16_16 = 65536.0
# Offset of the matrix in a "tkhd" box body: version and flags (4), then times, track id and
# duration (20 bytes in version 0, 32 in version 1), then reserved, layer, group, volume (16).
_TKHD_MATRIX_OFFSET = {0: 4 + 20 + 16, 1: 4 + 32 + 16}
_HDLR_TYPE_OFFSET = 8  # version and flags (4), pre_defined (4), then the handler type
_VIDEO_HANDLER = b"vide"


def rotation_steps(degrees: float) -> int:
    """Quarter turns (0..3, counter-clockwise) nearest to a rotation in degrees."""
    return round(degrees / QUARTER_TURN) % 4


def rotate_frame(frame: np.ndarray, degrees: float) -> np.ndarray:
    """Turn a (H, W, C) frame counter-clockwise by `degrees` (nearest quarter turn); contiguous."""
    steps = rotation_steps(degrees)
    return frame if steps == 0 else np.ascontiguousarray(np.rot90(frame, steps))


def mp4_display_rotation(path: str | Path) -> int:
    """Counter-clockwise display rotation (0, 90, 180 or 270 degrees) of the first video track of
    an MP4 / MOV file, from its track header matrix, as FFmpeg reports it (`VideoFrame.rotation`).

    Returns 0 for files that are not ISO-BMFF (AVI, MKV, WebM), have no video track, or cannot be
    read: the decoder reports those problems itself. The movie-level matrix ("mvhd"), identity in
    practice, is not applied.
    """
    try:
        with open(path, "rb") as f:
            moov = _find_top_level_box(f, b"moov")
    except OSError:
        return 0
    if moov is None:
        return 0
    for trak in _boxes(moov, b"trak"):
        tkhd = next(_boxes(trak, b"tkhd"), None)
        if tkhd is None or not _is_video_track(trak):
            continue
        offset = _TKHD_MATRIX_OFFSET.get(tkhd[0]) if tkhd else None  # by the box version
        if offset is None or len(tkhd) < offset + _MATRIX.size:
            return 0
        m = _MATRIX.unpack_from(tkhd, offset)
        a, b, c, d = (v / _FIXED_16_16 for v in (m[0], m[1], m[3], m[4]))
        scale_0, scale_1 = math.hypot(a, c), math.hypot(b, d)
        if scale_0 == 0 or scale_1 == 0:
            return 0
        # FFmpeg's av_display_rotation_get on the same matrix.
        degrees = -math.degrees(math.atan2(b / scale_1, a / scale_0))
        return rotation_steps(degrees) * QUARTER_TURN
    return 0


def _find_top_level_box(f: BinaryIO, wanted: bytes) -> bytes | None:
    """Body of the first top-level box of type `wanted`, seeking past the others (media data)."""
    for _ in range(MAX_TOP_LEVEL_BOXES):
        start = f.tell()
        header = f.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        size, kind = _HEADER.unpack(header)
        header_size = _HEADER.size
        if size == 1:
            large = f.read(_LARGE_SIZE.size)
            if len(large) < _LARGE_SIZE.size:
                return None
            (size,) = _LARGE_SIZE.unpack(large)
            header_size += _LARGE_SIZE.size
        if not kind.isascii() or (size != 0 and size < header_size):
            return None  # not ISO-BMFF
        if kind == wanted:
            length = size - header_size if size else MAX_MOOV_BYTES
            return f.read(length) if length <= MAX_MOOV_BYTES else None
        if size == 0:
            return None  # the box runs to the end of the file
        f.seek(start + size)
    return None


def _boxes(data: bytes, wanted: bytes):
    """Bodies of the child boxes of type `wanted` in a container box body."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        size, kind = _HEADER.unpack_from(data, offset)
        header_size = _HEADER.size
        if size == 1 and offset + _HEADER.size + _LARGE_SIZE.size <= len(data):
            (size,) = _LARGE_SIZE.unpack_from(data, offset + _HEADER.size)
            header_size += _LARGE_SIZE.size
        elif size == 0:
            size = len(data) - offset
        if size < header_size:
            return
        if kind == wanted:
            yield data[offset + header_size : offset + size]
        offset += size


def _is_video_track(trak: bytes) -> bool:
    for mdia in _boxes(trak, b"mdia"):
        for hdlr in _boxes(mdia, b"hdlr"):
            handler = hdlr[_HDLR_TYPE_OFFSET : _HDLR_TYPE_OFFSET + len(_VIDEO_HANDLER)]
            return handler == _VIDEO_HANDLER
    return False
