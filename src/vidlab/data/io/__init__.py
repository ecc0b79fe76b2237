"""Video decoding: decord first, PyAV as the automatic fallback, no audio.

`read_clip` opens a file, lets the caller pick frame indices from the stream's real frame count,
frame rate and timestamps, and decodes them; `probe_many` checks files in spawned processes.
"""

from __future__ import annotations

from vidlab.data.io.base import VideoDecodeError, VideoInfo, VideoSource, reduced_size
from vidlab.data.io.reader import (
    Backend,
    DecodedClip,
    open_video,
    read_clip,
    read_frames,
    stored_frame_size,
)

__all__ = [
    "Backend",
    "DecodedClip",
    "VideoDecodeError",
    "VideoInfo",
    "VideoSource",
    "open_video",
    "read_clip",
    "read_frames",
    "reduced_size",
    "stored_frame_size",
]
