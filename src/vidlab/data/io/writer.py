"""Writing small video files with PyAV, for tests, benchmarks and synthetic datasets.

Encoding creates FFmpeg state like decoding does: call `write_video` in a spawned process (or a
process that will not fork DataLoader workers), as the tests and the benchmark do.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

# Bit rate for codecs without a quality-based mode: high enough that flat test patterns survive.
DEFAULT_BIT_RATE = 4_000_000
# Timestamps of variable-frame-rate files are written in milliseconds.
VFR_TIME_BASE = Fraction(1, 1000)
AUDIO_RATE = 16_000


def write_video(
    path: str | Path,
    frames: np.ndarray,
    *,
    fps: float = 25.0,
    codec: str = "libx264",
    audio: bool = False,
    frame_times_s: Sequence[float] | None = None,
    bit_rate: int | None = DEFAULT_BIT_RATE,
    rotation: int = 0,
) -> Path:
    """Encode uint8 RGB `frames` (T, H, W, 3) to `path`; the container follows the suffix.

    Args:
        path: output file (.mp4, .avi, .mkv, .webm).
        frames: uint8 (T, H, W, 3) RGB frames; H and W must be even (YUV 4:2:0).
        fps: nominal frame rate, frames per second.
        codec: FFmpeg encoder name ("libx264", "mpeg4", "libvpx-vp9", "libsvtav1", ...).
        audio: add a silent AAC (MP3 for .avi) track of the same duration.
        frame_times_s: (T,) presentation times in seconds for a variable frame rate file;
            None for constant `fps`.
        bit_rate: target bit rate in bits per second; None keeps the encoder's own rate control
            (libsvtav1 rejects an explicit bit rate in its default mode).
        rotation: display rotation written to the container (a display matrix, as phones write),
            degrees counter-clockwise; players and vidlab's readers turn the frames by it.

    Raises:
        ValueError: frames of the wrong shape or dtype, or frame_times_s of the wrong length.
    """
    import av  # imported here: importing this module must not load FFmpeg (see the docstring)

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if frame_times_s is not None and len(frame_times_s) != len(frames):
        raise ValueError(f"{len(frame_times_s)} frame times for {len(frames)} frames")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        if frame_times_s is not None:
            stream.codec_context.time_base = VFR_TIME_BASE
        if rotation:
            stream.set_display_rotation(rotation)
        # Every stream must exist before the first packet is muxed (the header is written then).
        audio_stream = None
        if audio:
            codec_name = "libmp3lame" if path.suffix == ".avi" else "aac"
            audio_stream = container.add_stream(codec_name, rate=AUDIO_RATE)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if frame_times_s is not None:
                frame.pts = round(frame_times_s[i] / VFR_TIME_BASE)
                frame.time_base = VFR_TIME_BASE
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if audio_stream is not None:
            _write_silence(container, audio_stream, len(frames) / fps)
    return path


def _write_silence(container: Any, stream: Any, seconds: float) -> None:
    """Encode `seconds` of mono silence into the audio `stream` of `container` (PyAV objects)."""
    import av

    samples = np.zeros((1, max(1, round(seconds * AUDIO_RATE))), dtype=np.float32)
    # PyAV resamples to the encoder's sample format and frame size.
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
    frame.sample_rate = AUDIO_RATE
    container.mux(stream.encode(frame))
    container.mux(stream.encode())
