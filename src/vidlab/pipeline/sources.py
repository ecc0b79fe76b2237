"""Sources: timestamped frames from a video file, a network stream, an image folder, a webcam, or
the synthetic scene generator.

Every source yields `vidlab.pipeline.types.Frame` records (via `AnnotatedFrame`, which may carry the
ground truth and the replay detections that come with the source). A source is told before it
starts the size the detect stage wants (`DecodeTarget`): frames are converted straight to that size
(PyAV's scaler does the colour conversion and the resize in one pass), or not converted at all when
no stage needs pixels (detection replay, the oracle), which is the cost floor of decoding.

Times are presentation times: ``pts * time_base`` for containers (variable frame rate and gaps
kept as they are), the frame rate of ``seqinfo.ini`` for image folders, the live clock for cameras.
Decoding errors of single packets are skipped and counted (``corrupt``).
"""

from __future__ import annotations

import logging
import os
import queue as queue_module
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidlab.errors import UserError
from vidlab.pipeline.types import Frame

log = logging.getLogger(__name__)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
#: Reconnect gaps kept per network source (older ones are only counted).
MAX_GAPS_KEPT = 100


@dataclass(slots=True)
class AnnotatedFrame(Frame):
    """A frame with what its source knows besides pixels.

    Attributes:
        truth: (N, 5) ground-truth boxes xyxy + 1.0 in source pixels (synthetic and MOTChallenge
            sources with gt), or None.
        replay: (N, 5) detections xyxy + score in source pixels that come with the source
            (MOTChallenge det.txt, the synthetic detector model), or None.
    """

    truth: np.ndarray | None = None
    replay: np.ndarray | None = None


@dataclass(frozen=True)
class DecodeTarget:
    """What the detect stage needs from the pixels.

    Attributes:
        need_image: convert frames to RGB arrays at all (False: decode only).
        max_size: (width, height) box the frame is shrunk to fit (aspect kept; never enlarged);
            None: the source's own size.
    """

    need_image: bool = True
    max_size: tuple[int, int] | None = None

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) to decode a (width, height) source to."""
        if self.max_size is None:
            return width, height
        scale = min(self.max_size[0] / width, self.max_size[1] / height, 1.0)
        return max(2, round(width * scale)), max(2, round(height * scale))


@dataclass
class SourceStats:
    """Counters of one source (read by the runtime's report)."""

    frames: int = 0
    skipped_stride: int = 0
    corrupt: int = 0
    reconnects: int = 0
    gaps: deque = field(default_factory=lambda: deque(maxlen=MAX_GAPS_KEPT))

    def as_dict(self) -> dict[str, Any]:
        return {
            "decoded": self.frames,
            "skipped_stride": self.skipped_stride,
            "corrupt": self.corrupt,
            "reconnects": self.reconnects,
            "gaps": list(self.gaps),
            "gap_seconds": float(sum(g["wall_gap_s"] for g in self.gaps)),
        }


class Source:
    """Base class: `frames(stop)` yields frames until the source ends or `stop` is set.

    Attributes:
        stream_id: the stream's name.
        live: frames arrive in real time (drop oldest when behind) rather than on demand (block).
        paced: the runtime sleeps to each frame's pts when ``live`` (files and synthetic scenes;
            cameras and network streams are paced by the world).
        fps: nominal frame rate (trackers' frame-based buffers), None when unknown.
    """

    stream_id: str = "cam0"
    live: bool = False
    paced: bool = False
    fps: float | None = None

    def __init__(self) -> None:
        self.stats = SourceStats()
        self.target = DecodeTarget()

    def configure(self, target: DecodeTarget) -> None:
        """Set what the detect stage needs before `frames` starts."""
        self.target = target

    def frames(self, stop: threading.Event) -> Iterator[Frame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "stream_id": self.stream_id, "live": self.live}


# -------------------------------------------------------------------------------- PyAV decoding


def _av():
    import av

    return av


def decoder_threads(threads: int | None, live: bool, streams: int = 1) -> int:
    """FFmpeg decoder threads for ``stream.decode_threads``.

    None: 1 for a live stream (each extra frame thread holds a frame back); for a file run as fast
    as it goes, 0 (FFmpeg's choice, usable CPUs + 1) when it is the only stream, else an equal share
    of CPUs + 1 among the `streams` (at least 1), so that many streams do not start CPUs + 1
    threads each. Four files on two cores: 1215 frames/s in all with one thread each, 1190 with
    FFmpeg's choice each.
    """
    if threads is None:
        if live:
            return 1
        return 0 if streams <= 1 else max(1, (len(os.sched_getaffinity(0)) + 1) // streams)
    if int(threads) < 0:
        raise UserError(f"stream.decode_threads must be >= 0 or null, got {threads}")
    return int(threads)


def decode_container(
    container: Any,
    *,
    target: DecodeTarget,
    stats: SourceStats,
    stream_id: str,
    vid_stride: int = 1,
    start_index: int = 0,
    pts_offset: float = 0.0,
    stop: threading.Event | None = None,
    threads: int = 1,
) -> Iterator[Frame]:
    """Frames of the first video stream of an open PyAV container, decoded with `threads` FFmpeg
    frame threads (0: FFmpeg's choice, one more than the usable CPUs; 1: in the calling thread).

    A packet the decoder rejects is skipped and counted in ``stats.corrupt``; frames the decoder
    flags as corrupt are dropped and counted too. Indices count every decoded frame (so they match
    det.txt rows); only every `vid_stride`-th is converted and yielded. ``pts_offset`` (seconds) is
    added to every time (network reconnects keep stream time increasing).
    """
    av = _av()
    stream = container.streams.video[0]
    stream.codec_context.thread_count = threads
    stream.thread_type = "AUTO"
    src_w, src_h = stream.codec_context.width, stream.codec_context.height
    time_base = stream.time_base
    index = start_index - 1
    last_pts = None
    packets = container.demux(stream)
    while stop is None or not stop.is_set():
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, OSError) as err:  # the container itself is broken: end here
            stats.corrupt += 1
            log.warning("%s: demuxing stopped: %s", stream_id, err)
            return
        try:
            decoded = packet.decode()
        except (av.FFmpegError, ValueError) as err:
            stats.corrupt += 1
            log.debug("%s: skipped a corrupt packet: %s", stream_id, err)
            continue
        for frame in decoded:
            index += 1
            if frame.is_corrupt:
                stats.corrupt += 1
                continue
            if index % vid_stride:
                stats.skipped_stride += 1
                continue
            if frame.pts is not None:
                pts = float(frame.pts * (frame.time_base or time_base))
            else:  # no timestamp: just after the previous one
                pts = (last_pts or 0.0) + 1e-3
            last_pts = pts
            image = None
            if target.need_image:
                w, h = target.size_for(frame.width or src_w, frame.height or src_h)
                image = frame.to_ndarray(width=w, height=h, format="rgb24")
            stats.frames += 1
            yield AnnotatedFrame(
                stream_id, index, pts + pts_offset, time.monotonic(), image, (src_w, src_h)
            )


class VideoFileSource(Source):
    """A video file decoded with PyAV.

    Args:
        path: the file.
        stream_id: stream name (default: the file's stem).
        live: pace at the file's timestamps and drop frames when behind, like a camera.
        vid_stride: process every n-th frame (indices still count every frame).
        threads: FFmpeg decoder threads (0: FFmpeg picks, CPUs + 1); None: see
            `decoder_threads` (FFmpeg's choice for a lone file run as fast as it goes, 1 when
            ``live``: frame threading holds a frame per extra thread, latency). Frame threads
            decode while the pipeline's Python stages hold the GIL, which a single-threaded
            decode cannot (`benchmarks/stream_throughput.py`: 956 -> 1048 frames/s on two cores
            with decode + replay + ByteTrack).
        streams: file streams in the pipeline (their share of the default threads).
    """

    paced = True

    def __init__(
        self,
        path: str | Path,
        *,
        stream_id: str | None = None,
        live: bool = False,
        vid_stride: int = 1,
        threads: int | None = None,
        streams: int = 1,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"source {self.path}: no such video file")
        if vid_stride < 1:
            raise UserError(f"stream.vid_stride must be >= 1, got {vid_stride}")
        self.stream_id = stream_id or self.path.stem
        self.live = live
        self.vid_stride = vid_stride
        self.threads = decoder_threads(threads, live, streams)
        with self._open() as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) / vid_stride if rate else None
            self.size = (stream.codec_context.width, stream.codec_context.height)

    def _open(self):
        av = _av()
        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as err:
            raise UserError(f"source {self.path}: cannot open as a video ({err})") from err
        if not container.streams.video:
            container.close()
            raise UserError(f"source {self.path}: has no video stream")
        return container

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        with self._open() as container:
            yield from decode_container(
                container,
                target=self.target,
                stats=self.stats,
                stream_id=self.stream_id,
                vid_stride=self.vid_stride,
                stop=stop,
                threads=self.threads,
            )

    def describe(self) -> dict[str, Any]:
        return super().describe() | {
            "path": str(self.path),
            "vid_stride": self.vid_stride,
            "decode_threads": self.threads,
        }


class NetworkSource(Source):
    """A network stream (RTSP, or MPEG-TS over TCP / UDP / HTTP) read with PyAV, reconnecting with
    exponential backoff when the connection drops; each gap is logged and reported.

    Stream time keeps increasing across reconnects: a new connection's first frame continues after
    the last one by the wall-clock time the stream was away (servers restart their timestamps).

    Args:
        url: the stream URL.
        stream_id: stream name (default ``net0``).
        timeout: seconds to wait for the server when opening and reading.
        backoff: first retry delay in seconds (doubled per failed attempt).
        max_backoff: cap of the retry delay.
        max_retries: failed connection attempts in a row before giving up (None: never give up).
        vid_stride: process every n-th frame.
        options: extra FFmpeg protocol options (e.g. ``{"rtsp_transport": "tcp"}``).
        threads: FFmpeg decoder threads (None: 1, a live stream's frames should not wait in
            frame threads; 0: FFmpeg picks).
    """

    live = True

    def __init__(
        self,
        url: str,
        *,
        stream_id: str | None = None,
        timeout: float = 5.0,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retries: int | None = 8,
        vid_stride: int = 1,
        options: dict[str, str] | None = None,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.threads = decoder_threads(threads, live=True)
        self.stream_id = stream_id or "net0"
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retries = max_retries
        self.vid_stride = vid_stride
        self.options = dict(options or {})
        if url.startswith("rtsp") and "rtsp_transport" not in self.options:
            self.options["rtsp_transport"] = "tcp"

    def _connect(self, stop: threading.Event):
        """Open the stream, retrying with backoff; None when retries ran out or stop was set."""
        av = _av()
        failures = 0
        while not stop.is_set():
            try:
                return av.open(self.url, options=self.options, timeout=self.timeout)
            except (av.FFmpegError, OSError) as err:
                failures += 1
                if self.max_retries is not None and failures > self.max_retries:
                    log.warning("%s: giving up after %d attempts: %s", self.url, failures, err)
                    return None
                delay = min(self.backoff * 2 ** (failures - 1), self.max_backoff)
                log.info("%s: connect failed (%s); retry in %.2f s", self.url, err, delay)
                stop.wait(delay)
        return None

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        index, last_pts, last_wall = 0, None, None
        while not stop.is_set():
            container = self._connect(stop)
            if container is None:
                return
            first = True
            offset = 0.0
            try:
                for frame in decode_container(
                    container,
                    target=self.target,
                    stats=self.stats,
                    stream_id=self.stream_id,
                    vid_stride=self.vid_stride,
                    start_index=index,
                    stop=stop,
                    threads=self.threads,
                ):
                    if first:
                        first = False
                        if last_pts is not None:  # a reconnect: report the gap
                            gap = time.monotonic() - last_wall
                            offset = last_pts + gap - frame.pts
                            self.stats.reconnects += 1
                            self.stats.gaps.append(
                                {"after_pts": last_pts, "wall_gap_s": gap, "frame": frame.index}
                            )
                            log.warning("%s: reconnected after a %.2f s gap", self.url, gap)
                        else:
                            offset = -frame.pts  # stream time starts at 0
                    frame.pts += offset
                    index, last_pts, last_wall = frame.index + 1, frame.pts, time.monotonic()
                    if self.fps is None:
                        rate = container.streams.video[0].average_rate
                        self.fps = float(rate) if rate else None
                    yield frame
            finally:
                container.close()
            log.info("%s: stream ended or dropped; reconnecting", self.url)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"url": self.url}


# -------------------------------------------------------------------------------- images, camera


def _to_target(bgr: np.ndarray, target: DecodeTarget) -> np.ndarray | None:
    """BGR image -> RGB at the target size (None when no image is needed)."""
    if not target.need_image:
        return None
    h, w = bgr.shape[:2]
    size = target.size_for(w, h)
    if size != (w, h):
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _mot_boxes(path: Path, kind: str, num_frames: int) -> list[np.ndarray] | None:
    """Per 0-based frame, (N, 5) xyxy + score rows of a MOTChallenge file (None if absent)."""
    if not path.is_file():
        return None
    from vidlab.evaluation.mot.io import read_mot_txt

    table = read_mot_txt(path, kind=kind, num_frames=num_frames)
    keep = np.ones(len(table), bool) if kind == "det" else table.score > 0  # gt: considered rows
    xyxy = table.tlwh.copy()
    xyxy[:, 2:] += xyxy[:, :2]
    score = table.score if kind == "det" else np.ones(len(table))
    rows = np.column_stack([xyxy, score])[keep]
    frames = table.frame[keep]
    bounds = np.searchsorted(frames, np.arange(1, num_frames + 2))
    return [rows[bounds[i] : bounds[i + 1]] for i in range(num_frames)]


class ImageFolderSource(Source):
    """Frames from an image folder: a MOTChallenge sequence (``img1/`` at ``seqinfo.ini``'s frame
    rate, with ``det/det.txt`` as replay detections and ``gt/gt.txt`` as the truth when present),
    or any folder of images at `fps`.

    Args:
        folder: the sequence folder (or a folder of images).
        stream_id: stream name (default: the folder's name).
        fps: frame rate of a folder without seqinfo.ini.
        live: pace at the frame rate and drop when behind.
        vid_stride: process every n-th frame.
    """

    paced = True

    def __init__(
        self,
        folder: str | Path,
        *,
        stream_id: str | None = None,
        fps: float = 30.0,
        live: bool = False,
        vid_stride: int = 1,
    ) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.stream_id = stream_id or self.folder.name
        self.live, self.vid_stride = live, vid_stride
        self.replay = self.truth = None
        image_dir = self.folder
        # A MOTChallenge sequence knows its frame size: with replay or oracle boxes (nothing needs
        # pixels) its frames are never read, so a folder without img1/ (a synthetic scene's gt/
        # and det/ only) streams too.
        self.size: tuple[int, int] | None = None
        if (self.folder / "seqinfo.ini").is_file():
            from vidlab.evaluation.mot.io import read_seqinfo

            info = read_seqinfo(self.folder)
            self.size = (info.im_width, info.im_height)
            fps, image_dir = info.frame_rate, self.folder / info.im_dir
            self.files = [
                image_dir / f"{i:06d}{info.im_ext}" for i in range(1, info.seq_length + 1)
            ]
            self.replay = _mot_boxes(self.folder / "det" / "det.txt", "det", info.seq_length)
            self.truth = _mot_boxes(self.folder / "gt" / "gt.txt", "gt", info.seq_length)
        else:
            if (self.folder / "img1").is_dir():
                image_dir = self.folder / "img1"
            self.files = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not self.files:
            raise UserError(f"source {self.folder}: no images ({', '.join(IMAGE_EXTS)})")
        self.fps = float(fps) / vid_stride

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        rate = self.fps * self.vid_stride
        for index in range(0, len(self.files), self.vid_stride):
            if stop.is_set():
                return
            if not self.target.need_image and self.size is not None:
                self.stats.frames += 1
                yield AnnotatedFrame(
                    self.stream_id,
                    index,
                    index / rate,
                    time.monotonic(),
                    None,
                    self.size,
                    truth=None if self.truth is None else self.truth[index],
                    replay=None if self.replay is None else self.replay[index],
                )
                continue
            bgr = cv2.imread(str(self.files[index]), cv2.IMREAD_COLOR)
            if bgr is None:
                self.stats.corrupt += 1
                log.warning("%s: cannot read %s; skipped", self.stream_id, self.files[index])
                continue
            self.stats.frames += 1
            yield AnnotatedFrame(
                self.stream_id,
                index,
                index / rate,
                time.monotonic(),
                _to_target(bgr, self.target),
                (bgr.shape[1], bgr.shape[0]),
                truth=None if self.truth is None else self.truth[index],
                replay=None if self.replay is None else self.replay[index],
            )

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"folder": str(self.folder), "fps": self.fps}


class WebcamSource(Source):
    """A local camera through OpenCV (`cv2.VideoCapture`); times from the capture clock.

    Args:
        device: a camera index (``source=0``) or anything else ``cv2.VideoCapture`` opens as a
            live feed (a V4L2 device path such as ``/dev/video2``).
        stream_id: stream name (default ``webcam<index>``, or the device file's name).
    """

    live = True

    def __init__(self, device: int | str, *, stream_id: str | None = None) -> None:
        super().__init__()
        self.device = int(device) if str(device).isdigit() else str(device)
        name = f"webcam{self.device}" if isinstance(self.device, int) else Path(self.device).name
        self.stream_id = stream_id or name

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            raise UserError(f"source {self.device}: cannot open camera {self.device!r}")
        self.fps = cap.get(cv2.CAP_PROP_FPS) or None
        start, index = time.monotonic(), 0
        try:
            while not stop.is_set():
                ok, bgr = cap.read()
                now = time.monotonic()
                if not ok:
                    log.warning("camera %s: no frame; ending", self.device)
                    return
                self.stats.frames += 1
                yield AnnotatedFrame(
                    self.stream_id,
                    index,
                    now - start,
                    now,
                    _to_target(bgr, self.target),
                    (bgr.shape[1], bgr.shape[0]),
                )
                index += 1
        finally:
            cap.release()


# -------------------------------------------------------------------------------- synthetic


class SyntheticSource(Source):
    """The synthetic MOT scene (`vidlab.data.synthetic.mot`) as a live camera at `fps`.

    The scene is generated in segments of `segment_frames` (seed ``seed + k`` for segment k), so an
    endless stream holds one segment's ground truth at a time; identities are offset per segment.
    Frames carry the ground truth (``truth``, for the oracle) and the simulated detector's boxes
    (``replay``). Pixels are rendered only when a stage needs them.

    Args:
        fps: frame rate (the pts step).
        width, height: scene size in pixels.
        num_frames: frames in all (None: endless; ``stream.max_frames`` bounds a run).
        seed: generator seed.
        segment_frames: frames per generated segment.
        live: pace at `fps` (False: as fast as possible, times still at `fps`).
        stream_id: stream name (default ``synthetic``).
    """

    paced = True

    def __init__(
        self,
        *,
        fps: float = 25.0,
        width: int = 960,
        height: int = 540,
        num_frames: int | None = None,
        seed: int = 0,
        segment_frames: int = 300,
        live: bool = True,
        stream_id: str | None = None,
    ) -> None:
        super().__init__()
        self.fps, self.width, self.height = float(fps), int(width), int(height)
        self.num_frames, self.seed, self.segment_frames = num_frames, seed, int(segment_frames)
        self.live = live
        self.stream_id = stream_id or "synthetic"

    def _segment(self, k: int):
        from vidlab.data.synthetic.mot import SceneConfig, generate_sequence

        cfg = SceneConfig(
            num_frames=self.segment_frames,
            width=self.width,
            height=self.height,
            frame_rate=self.fps,
        )
        return generate_sequence(self.seed + k, cfg, name=f"{self.stream_id}-{k}")

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        from concurrent.futures import ThreadPoolExecutor

        index, k = 0, 0
        # the next segment is generated while this one plays, so a live scene does not stall
        # (and then burst) at every segment boundary
        with ThreadPoolExecutor(1, thread_name_prefix=f"scene/{self.stream_id}") as pool:
            upcoming = pool.submit(self._segment, 0)
            while not stop.is_set():
                seq = upcoming.result()
                upcoming = pool.submit(self._segment, k + 1)
                for frame in self._play(seq, index, images_wanted=self.target.need_image):
                    if stop.is_set() or (self.num_frames is not None and index >= self.num_frames):
                        upcoming.cancel()
                        return
                    index += 1
                    self.stats.frames += 1
                    yield frame
                k += 1

    def _play(self, seq: Any, start: int, *, images_wanted: bool) -> Iterator[Frame]:
        """The frames of one generated segment, numbered from `start`."""
        from vidlab.data.synthetic.mot import PEDESTRIAN_CLASS, render_sequence_frames

        gt = np.column_stack([seq.gt_tlwh, np.ones(len(seq.gt_frame))])
        gt[:, 2:4] += gt[:, :2]
        gt_keep = seq.gt_class == PEDESTRIAN_CLASS
        det = np.column_stack([seq.det_tlwh, seq.det_score])
        det[:, 2:4] += det[:, :2]
        gt_bounds = np.searchsorted(seq.gt_frame, np.arange(1, self.segment_frames + 2))
        det_bounds = np.searchsorted(seq.det_frame, np.arange(1, self.segment_frames + 2))
        images = render_sequence_frames(seq) if images_wanted else None
        for f in range(self.segment_frames):
            lo, hi = gt_bounds[f], gt_bounds[f + 1]
            image = _to_target(next(images)[1], self.target) if images is not None else None
            index = start + f
            yield AnnotatedFrame(
                self.stream_id,
                index,
                index / self.fps,
                time.monotonic(),
                image,
                (self.width, self.height),
                truth=gt[lo:hi][gt_keep[lo:hi]],
                replay=det[det_bounds[f] : det_bounds[f + 1]],
            )

    def describe(self) -> dict[str, Any]:
        return super().describe() | {
            "fps": self.fps,
            "size": [self.width, self.height],
            "seed": self.seed,
        }


# -------------------------------------------------------------------------------- selection


def open_source(spec: Any, **options: Any) -> Source:
    """The source a plain ``source=`` value names: ``synthetic``, a camera index, a URL, an image
    folder or a video file. `options` are the ``stream.*`` settings the source takes, and
    ``streams``, the number of sources in the pipeline (their share of decoder threads).

    Raises:
        UserError: the value names nothing that exists.
    """
    live = options.get("live")
    stride = int(options.get("vid_stride") or 1)
    sid = options.get("stream_id")
    threads = options.get("decode_threads")
    text = str(spec).strip()
    if text == "synthetic":
        syn = dict(options.get("synthetic") or {})
        scene = SyntheticSource(live=True if live is None else bool(live), stream_id=sid, **syn)
        return ProcessSource(scene) if options.get("decode_process") else scene
    if text.isdigit() or text.startswith("/dev/video"):
        return WebcamSource(text, stream_id=sid)
    if "://" in text:
        net = dict(options.get("network") or {})
        stream = NetworkSource(text, stream_id=sid, vid_stride=stride, threads=threads, **net)
        return ProcessSource(stream) if options.get("decode_process") else stream
    path = Path(text).expanduser()
    if path.is_dir():
        fps = float(options.get("fps") or 30.0)
        return ImageFolderSource(path, stream_id=sid, fps=fps, live=bool(live), vid_stride=stride)
    if path.is_file():
        video = VideoFileSource(
            path,
            stream_id=sid,
            live=bool(live),
            vid_stride=stride,
            threads=threads,
            streams=int(options.get("streams") or 1),
        )
        return ProcessSource(video) if options.get("decode_process") else video
    raise UserError(
        f"source={text!r}: not 'synthetic', a camera index, a URL (rtsp://, tcp://, udp://, "
        "http://), an image folder or a video file"
    )


# -------------------------------------------------------------------------------- in a process


def _run_in_child(source: Source, frames_out: Any, stop: Any) -> None:
    """Child process body: decode and send frames, then the source's counters."""
    logging.basicConfig(level=logging.WARNING)
    flag = threading.Event()

    def watch() -> None:  # polled: a process that exits while waiting on an mp.Event would
        while not stop.is_set():  # block the parent's set() for ever
            time.sleep(0.05)
        flag.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        for frame in source.frames(flag):
            while not flag.is_set():
                try:
                    frames_out.put(("frame", frame), timeout=0.1)
                    break
                except queue_module.Full:
                    continue
    except Exception as err:  # noqa: BLE001 - re-raised in the parent
        frames_out.put(("error", f"{type(err).__name__}: {err}"))
    finally:
        frames_out.put(("end", source.stats, source.fps))


class ProcessSource(Source):
    """Runs another source in a child process (``spawn``) and hands its frames over a bounded
    multiprocessing queue.

    A busy Python thread slows a PyAV decode loop about threefold (the loop needs the GIL for every
    frame and a busy thread yields it only every switch interval; a busy process slows it less:
    benchmarks/decode_gil.py), so decoding in the pipeline's own process competes with tracking
    and the sinks. In a child it runs beside them. Frames cross as pickles (an image at
    the detector's size is small; replay / oracle frames carry no pixels).

    Args:
        inner: the source to run (picklable: built, not yet started).
        buffer: frames in flight between the processes.
    """

    def __init__(self, inner: Source, *, buffer: int = 8) -> None:
        super().__init__()
        self.inner = inner
        self.buffer = buffer
        self.stream_id, self.live, self.paced = inner.stream_id, inner.live, inner.paced
        self.fps = inner.fps

    def configure(self, target: DecodeTarget) -> None:
        super().configure(target)
        self.inner.configure(target)

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        frames_in, child_stop = ctx.Queue(self.buffer), ctx.Event()
        child = ctx.Process(
            target=_run_in_child,
            args=(self.inner, frames_in, child_stop),
            name=f"source/{self.stream_id}",
            daemon=True,
        )
        child.start()
        try:
            while True:
                try:
                    message = frames_in.get(timeout=0.2)
                except queue_module.Empty:
                    if stop.is_set() or not child.is_alive():
                        return
                    continue
                if message[0] == "frame":
                    self.stats.frames += 1
                    yield message[1]
                elif message[0] == "error":
                    raise RuntimeError(f"source {self.stream_id} (child process): {message[1]}")
                else:
                    _, stats, fps = message
                    self.stats = stats
                    self.fps = fps or self.fps
                    return
        finally:
            child_stop.set()
            while child.is_alive():  # drain so the child's feeder thread can finish
                try:
                    message = frames_in.get(timeout=0.1)
                    if message[0] == "end":
                        self.stats = message[1]
                except queue_module.Empty:
                    pass
            child.join(5)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe() | {"process": True}
