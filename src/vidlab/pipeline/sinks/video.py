"""An annotated MP4 per camera: track boxes with their ids, short trails, and events flashed.

Written only when asked (the sink needs every frame's image, which the runtime otherwise releases).
Frames are drawn at their decode resolution: boxes arrive in source pixels and are divided by
`Frame.scale`. Frame times come from the frames' presentation times (millisecond time base), so a
variable-frame-rate source or a stream with gaps plays back at its real pace.

Memory is bounded: trails keep at most `trail_length` points for at most `max_trails` tracks (the
least recently seen are forgotten), at most `max_flashes` events are shown at once, and at most
`max_streams` files are open.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.errors import UserError
from vidlab.pipeline.sinks.base import SinkError, resolve_path
from vidlab.pipeline.types import Event, FrameResult

log = logging.getLogger(__name__)

__all__ = ["AnnotatedVideoSink", "track_color"]

_TIME_BASE = Fraction(1, 1000)  # frame times in milliseconds


def track_color(track_id: int) -> tuple[int, int, int]:
    """A bright RGB colour fixed by the track id (golden-ratio hue steps keep neighbours apart)."""
    import colorsys

    hue = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


class _Writer:
    """One camera's MP4 file: PyAV container and stream, the trails and the events on screen."""

    def __init__(self, path: Path, size: tuple[int, int], codec: str, options: dict[str, str]):
        import av

        self.path = path
        self.size = size  # (width, height), even
        self.container = av.open(str(path), "w")
        self.stream = self.container.add_stream(codec, rate=25)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = _TIME_BASE
        self.stream.codec_context.time_base = _TIME_BASE
        self.stream.options = dict(options)
        self.last_pts = -1
        self.frames = 0
        self.trails: OrderedDict[int, deque] = OrderedDict()
        self.flashes: deque[tuple[float, Event]] = deque()

    def encode(self, image: np.ndarray, pts_s: float) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        pts = max(int(round(pts_s * 1000)), self.last_pts + 1)  # strictly increasing
        frame.pts, frame.time_base = pts, _TIME_BASE
        self.last_pts = pts
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


class AnnotatedVideoSink:
    """Draw each frame's tracks and events and encode the frames to ``path`` (one file per camera).

    Args:
        path: output file; ``{camera}`` in it is replaced by the stream id (relative paths are
            inside `run_dir`).
        codec: PyAV encoder; falls back to ``mpeg4`` when it is not available.
        crf: x264 constant rate factor (quality; lower is better).
        preset: x264 speed preset.
        trail_length: points kept per trail (0: no trails).
        max_trails: tracks whose trails are kept, per camera.
        flash_s: stream seconds an event stays on screen.
        max_flashes: events on screen at once.
        max_streams: cameras with an open file; frames of further cameras are skipped (logged).
        thickness: box line width in output pixels.
        run_dir: the run directory (passed by `build_sinks`).
    """

    needs_image = True

    def __init__(
        self,
        path: str | Path = "annotated_{camera}.mp4",
        *,
        codec: str = "libx264",
        crf: int = 23,
        preset: str = "veryfast",
        trail_length: int = 30,
        max_trails: int = 256,
        flash_s: float = 1.0,
        max_flashes: int = 8,
        max_streams: int = 16,
        thickness: int = 2,
        run_dir: str | Path | None = None,
    ) -> None:
        if trail_length < 0 or max_trails < 1 or max_flashes < 1 or max_streams < 1:
            raise UserError(
                "AnnotatedVideoSink: trail_length must be >= 0 and max_trails, max_flashes, "
                f"max_streams >= 1 (got {trail_length}, {max_trails}, {max_flashes}, {max_streams})"
            )
        self.path_template = str(path)
        self.run_dir = run_dir
        self.codec, self.options = _pick_codec(codec, crf, preset)
        self.trail_length = trail_length
        self.max_trails = max_trails
        self.flash_s = flash_s
        self.max_flashes = max_flashes
        self.max_streams = max_streams
        self.thickness = thickness
        self.skipped_frames = 0  # frames without an image, or of cameras beyond max_streams
        self._writers: dict[str, _Writer] = {}
        self._closed = False

    def paths(self) -> dict[str, Path]:
        """The file of each camera written so far."""
        return {camera: w.path for camera, w in self._writers.items()}

    def _writer(self, camera: str, image: np.ndarray) -> _Writer | None:
        writer = self._writers.get(camera)
        if writer is not None:
            return writer
        if len(self._writers) >= self.max_streams:
            if self.skipped_frames == 0:
                log.warning(
                    "annotated video: more than %d cameras, skipping %s", self.max_streams, camera
                )
            return None
        template = self.path_template
        if "{camera}" not in template and self._writers:  # a second camera: name files apart
            p = Path(template)
            template = str(p.with_name(f"{p.stem}_{{camera}}{p.suffix}"))
        path = resolve_path(template.format(camera=camera), self.run_dir)
        height, width = image.shape[:2]
        size = (width - width % 2, height - height % 2)  # yuv420p needs even sizes
        try:
            writer = _Writer(path, size, self.codec, self.options)
        except Exception as err:  # PyAV raises several error types (FFmpegError, ValueError)
            raise SinkError(f"cannot open {path} for the annotated video: {err}") from err
        self._writers[camera] = writer
        return writer

    def write(self, result: FrameResult) -> None:
        """Draw the frame's tracks, trails and recent events and encode it."""
        if self._closed:
            raise SinkError(f"write to the annotated video {self.path_template} after close()")
        frame = result.frame
        if frame.image is None:
            if self.skipped_frames == 0:
                log.warning(
                    "annotated video: frame %d of %s has no image (skipped)",
                    frame.index,
                    frame.stream_id,
                )
            self.skipped_frames += 1
            return
        writer = self._writer(frame.stream_id, frame.image)
        if writer is None:
            self.skipped_frames += 1
            return
        image = self._draw(writer, result)
        try:
            writer.encode(image, frame.pts)
        except Exception as err:
            raise SinkError(f"cannot encode frame {frame.index} to {writer.path}: {err}") from err

    def _draw(self, writer: _Writer, result: FrameResult) -> np.ndarray:
        import cv2

        frame = result.frame
        width, height = writer.size
        image = np.array(frame.image[:height, :width], dtype=np.uint8, order="C")  # own copy
        if image.shape[:2] != (height, width):  # decode size changed: fit to the file's size
            image = np.ascontiguousarray(cv2.resize(frame.image, (width, height)))
        sx, sy = frame.source_size[0] / width, frame.source_size[1] / height
        while writer.flashes and frame.pts - writer.flashes[0][0] > self.flash_s:
            writer.flashes.popleft()  # events arrive in time order: the oldest is first
        for event in result.events:
            writer.flashes.append((event.t_end, event))
            while len(writer.flashes) > self.max_flashes:
                writer.flashes.popleft()
        flashing = {e.track_id for _, e in writer.flashes}
        tracks = result.tracks
        if tracks is not None and len(tracks):
            boxes = tracks.xyxy / [sx, sy, sx, sy]
            for box, tid in zip(
                boxes.round().astype(int).tolist(), tracks.track_id.tolist(), strict=True
            ):
                color = track_color(tid)
                thick = self.thickness * (2 if tid in flashing else 1)
                cv2.rectangle(image, (box[0], box[1]), (box[2], box[3]), color, thick)
                cv2.putText(
                    image,
                    str(tid),
                    (box[0], max(box[1] - 4, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.5,
                    color,
                    1,
                    cv2.LINE_AA,
                )
                self._trail(writer, tid, ((box[0] + box[2]) // 2, box[3]))
            for tid, trail in writer.trails.items():
                if len(trail) > 1:
                    pts = np.array(trail, np.int32).reshape(-1, 1, 2)
                    cv2.polylines(image, [pts], False, track_color(tid), 1, cv2.LINE_AA)
        for row, (_, event) in enumerate(writer.flashes):
            text = f"{event.type} {event.item} #{event.track_id} {event.label}".strip()
            y = 18 + 18 * row
            cv2.putText(
                image, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA
            )
        return image

    def _trail(self, writer: _Writer, tid: int, point: tuple[int, int]) -> None:
        if self.trail_length == 0:
            return
        trail = writer.trails.get(tid)
        if trail is None:
            trail = writer.trails[tid] = deque(maxlen=self.trail_length)
            if len(writer.trails) > self.max_trails:
                writer.trails.popitem(last=False)
        else:
            writer.trails.move_to_end(tid)
        trail.append(point)

    def close(self) -> None:
        """Flush the encoders and close the files (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for writer in self._writers.values():
            try:
                writer.close()
                log.info("wrote %d annotated frames to %s", writer.frames, writer.path)
            except Exception as err:
                errors.append(f"{writer.path}: {err}")
        if errors:
            raise SinkError("cannot finish the annotated video " + "; ".join(errors))


def _pick_codec(codec: str, crf: int, preset: str) -> tuple[str, dict[str, Any]]:
    """The encoder to use and its options (x264 options only for x264)."""
    import av

    try:
        av.codec.Codec(codec, "w")
    except Exception:
        log.warning("encoder %s is not available in this PyAV build; using mpeg4", codec)
        codec = "mpeg4"
    if codec in ("libx264", "h264"):
        return codec, {"crf": str(crf), "preset": preset}
    return codec, {"qscale": "4"} if codec == "mpeg4" else {}
