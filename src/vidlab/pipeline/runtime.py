"""The stream runtime: source -> detect -> track -> analyze + sinks, one thread per stage.

::

    source 0 ─┐ (queue per source: block for files,
    source 1 ─┼─ drop_oldest for live)  ──> detect (batched across streams) ──> track (a tracker
    source k ─┘                                                                  per stream)
                 ──> analyze (analyzers, then every sink) ──> results (`for r in pipeline`)

Each source runs in its own thread and decodes there; the detector runtimes (ONNX Runtime,
OpenVINO, torch) and OpenCV release the GIL while they work, so inference overlaps the rest. Python
work beside a decoder slows it (it must win the GIL back for every frame: see
benchmarks/decode_gil.py), so ``stream.decode_process=true`` moves decoding into a child process
(`vidlab.pipeline.sources.ProcessSource`). The stage
queues after the source block: when a later stage falls behind, the detect stage stops taking
frames, and a live source's queue drops its oldest frame (counted) instead of growing.

Latencies are measured per frame from `Frame.capture_time` (when the source produced it): to the
end of tracking (``capture_to_track``) and to the end of the sinks (``capture_to_output``), plus
each stage's own time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidlab.pipeline.queues import Aborted, StageQueue
from vidlab.pipeline.sources import DecodeTarget, Source
from vidlab.pipeline.stats import LatencyBook, current_rss_mb, peak_rss_mb
from vidlab.pipeline.types import Analyzer, Detections, Frame, FrameResult, Sink

log = logging.getLogger(__name__)

_END = object()  # end of all streams, passed down the stages


@dataclass(frozen=True)
class StreamOptions:
    """Runtime settings (``stream.*`` in the configs).

    Attributes:
        queue_size: capacity of each source's queue.
        stage_queue_size: capacity of the queues between later stages, in batches (the detect
            stage's batches move on whole).
        drop_policy: full-queue policy of every source queue (None: ``drop_oldest`` for live
            sources, ``block`` for files).
        batch_size: frames per detector call, across streams.
        batch_timeout_ms: how long the detect stage waits to fill a batch once it has a frame
            (live streams: a batch with a frame of every stream goes at once).
        max_frames: frames per stream before its source is stopped (None: until it ends).
        keep_images: results keep their decoded image (annotated video); otherwise it is released
            after the last stage that needs it.
        sample_every_s: period of the queue depth / RSS samples.
    """

    queue_size: int = 8
    stage_queue_size: int = 16
    drop_policy: str | None = None
    batch_size: int = 8
    batch_timeout_ms: float = 10.0
    max_frames: int | None = None
    keep_images: bool = False
    sample_every_s: float = 0.5


class Pipeline:
    """A running set of streams: iterate it for `FrameResult` records, then read `report()`.

    Args:
        sources: the streams (distinct ``stream_id`` each).
        detector: maps a list of frames to per-frame (N, 5) xyxy + score arrays in source pixels
            and has a ``target`` (`DecodeTarget`) (see `vidlab.pipeline.detect`).
        make_tracker: builds the tracker of one source (called once per stream).
        analyzers: analytics run on every result, in order; an analyzer with a true
            ``needs_images`` attribute (the tracklet action analytic) gets the frames in source
            resolution (or the detector's decode size), released after the analyze stage.
        sinks: receive every result after the analyzers.
        options: runtime settings.

    Example::

        pipeline = Pipeline.from_config(cfg)
        for result in pipeline:
            print(result.frame.pts, len(result.tracks))
        print(pipeline.report()["metrics"])
    """

    def __init__(
        self,
        sources: Sequence[Source],
        detector: Callable[[list[Frame]], list[np.ndarray]],
        make_tracker: Callable[[Source], Any] | None = None,
        *,
        analyzers: Sequence[Analyzer] = (),
        sinks: Sequence[Sink] = (),
        options: StreamOptions | None = None,
    ) -> None:
        ids = [s.stream_id for s in sources]
        if not sources or len(set(ids)) != len(ids):
            raise ValueError(f"sources need distinct stream ids, got {ids}")
        self.sources = list(sources)
        self.detector = detector
        self.make_tracker = make_tracker
        self.analyzers = list(analyzers)
        self.sinks = list(sinks)
        self.options = options or StreamOptions()
        self._trackers: dict[str, Any] = {}
        if make_tracker is not None:
            self._trackers = {s.stream_id: make_tracker(s) for s in self.sources}
        target = getattr(detector, "target", DecodeTarget())
        self._analysis_images = any(getattr(a, "needs_images", False) for a in self.analyzers)
        if any(_needs_frames(t) for t in self._trackers.values()):
            # camera-motion compensation and Re-ID crops work in source pixels: full frames
            target = DecodeTarget(need_image=True, max_size=None)
        elif (self.options.keep_images or self._analysis_images) and not target.need_image:
            target = DecodeTarget(need_image=True, max_size=None)
        for source in self.sources:
            source.configure(target)
        self.latency = LatencyBook()
        self.stop_event = threading.Event()
        self._error: BaseException | None = None
        self._started = self._finished = None
        self._frames: dict[str, int] = dict.fromkeys(ids, 0)
        self._rss: list[float] = []
        self._max_rss_samples = 1000
        self._build_queues()

    @classmethod
    def from_config(cls, cfg: Any, *, run_dir: Any = None) -> Pipeline:
        """Build from a composed ``task=stream`` config (see `vidlab.pipeline.config`)."""
        from vidlab.pipeline.config import pipeline_from_config

        return pipeline_from_config(cfg, run_dir=run_dir)

    # ----------------------------------------------------------------------------- wiring

    def _build_queues(self) -> None:
        opts = self.options
        self._mux = threading.Condition()
        self.source_queues = {}
        # A blocking (file) queue wakes the detect stage once it holds its share of a batch, not
        # for every frame (benchmarks/stream_throughput.py, decode + replay + ByteTrack: with the
        # decode times booked in groups, 592 -> about 750 frames/s on one core, +2-3% on two).
        share = min(opts.queue_size, max(1, opts.batch_size // len(self.sources)))
        for s in self.sources:
            policy = opts.drop_policy or ("drop_oldest" if s.live else "block")
            self.source_queues[s.stream_id] = StageQueue(
                opts.queue_size,
                policy,
                name=f"source/{s.stream_id}",
                condition=self._mux,
                wake_at=share,
            )
        size = opts.stage_queue_size
        self.track_queue = StageQueue(size, name="track")
        self.analyze_queue = StageQueue(size, name="analyze")
        self.output_queue = StageQueue(size, name="output")
        self._ended: set[str] = set()
        self._ids = {s.stream_id for s in self.sources}
        self._live = all(s.live for s in self.sources)

    def _all_queues(self) -> list[StageQueue]:
        return [
            *self.source_queues.values(),
            self.track_queue,
            self.analyze_queue,
            self.output_queue,
        ]

    def _guard(self, name: str, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Aborted:
                pass
            except BaseException as err:  # noqa: BLE001 - handed to the consuming thread
                log.exception("stage %s failed", name)
                if self._error is None:
                    self._error = err
                self._abort()

        return run

    def _abort(self) -> None:
        self.stop_event.set()
        for q in self._all_queues():
            q.abort()

    # ----------------------------------------------------------------------------- stages

    def _source_stage(self, source: Source) -> None:
        queue = self.source_queues[source.stream_id]
        pace = source.live and source.paced
        t0 = pts0 = None
        count = 0
        decode_times: list[float] = []  # added to the book in groups: one lock per 32 frames
        try:
            frames = source.frames(self.stop_event)
            while not self.stop_event.is_set():
                if self.options.max_frames is not None and count >= self.options.max_frames:
                    break
                start = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    break
                decode_times.append(time.perf_counter() - start)
                if len(decode_times) >= 32:
                    self.latency.add_many("decode", decode_times)
                    decode_times = []
                if pace:  # play a file / synthetic scene at its timestamps
                    if t0 is None:
                        t0, pts0 = time.monotonic(), frame.pts
                    wait = t0 + (frame.pts - pts0) - time.monotonic()
                    if wait > 0 and self.stop_event.wait(wait):
                        break
                    frame.capture_time = time.monotonic()
                queue.put(frame)
                count += 1
        finally:
            self.latency.add_many("decode", decode_times)
            queue.put((_END, source.stream_id), force=True)

    def _next_batch(self) -> list[Frame] | None:
        """Up to ``batch_size`` frames from the source queues (round robin), waiting at most
        ``batch_timeout_ms`` after the first; None when every stream has ended."""
        opts = self.options
        queues = list(self.source_queues.values())
        batch: list[Frame] = []
        first_at = None
        with self._mux:
            while True:
                progress = True
                while progress and len(batch) < opts.batch_size:
                    progress = False
                    for q in queues:
                        ok, item = q.take_nowait()
                        if not ok:
                            continue
                        progress = True
                        if isinstance(item, tuple) and item[0] is _END:
                            self._ended.add(item[1])
                        else:
                            batch.append(item)
                            first_at = first_at or time.monotonic()
                        if len(batch) >= opts.batch_size:
                            break
                all_done = len(self._ended) == len(queues)
                if len(batch) >= opts.batch_size or (batch and all_done):
                    return batch
                if (
                    batch
                    and self._live
                    and {f.stream_id for f in batch} >= (self._ids - self._ended)
                ):  # a frame of every live stream: waiting longer only adds latency
                    return batch
                if all_done:
                    return None
                if self.stop_event.is_set():
                    raise Aborted("detect")
                if batch:
                    left = first_at + opts.batch_timeout_ms / 1e3 - time.monotonic()
                    if left <= 0:
                        return batch
                    self._mux.wait(left)
                else:
                    self._mux.wait(0.1)

    def _detect_stage(self) -> None:
        need_image_later = (
            self.options.keep_images
            or self._analysis_images
            or any(_needs_frames(self._tracker_for(s)) for s in self.sources)
        )
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            start = time.perf_counter()
            boxes = self.detector(batch)
            elapsed = time.perf_counter() - start
            results = []
            for frame, dets in zip(batch, boxes, strict=True):
                if not need_image_later:
                    frame.image = None
                result = FrameResult(frame, detections=Detections.from_array(dets))
                result.timings["detect"] = elapsed
                results.append(result)
            self.latency.add_many("detect", [elapsed] * len(results))
            self.track_queue.put(results)  # the batch moves on as one item: fewer hand-offs
        self.track_queue.put(_END, force=True)

    def _tracker_for(self, source: Source) -> Any:
        tracker = self._trackers.get(source.stream_id)
        if tracker is None and self.make_tracker is not None:
            tracker = self._trackers[source.stream_id] = self.make_tracker(source)
        return tracker

    def _track_stage(self) -> None:
        by_id = {s.stream_id: s for s in self.sources}
        keep = self.options.keep_images or self._analysis_images
        while (results := self.track_queue.get()) is not _END:
            spent, waited = [], []
            for result in results:
                frame = result.frame
                tracker = self._tracker_for(by_id[frame.stream_id])
                start = time.perf_counter()
                if tracker is not None:
                    bgr = None
                    if frame.image is not None and _needs_frames(tracker):
                        bgr = np.ascontiguousarray(frame.image[..., ::-1])
                    result.tracks = tracker.update_tracks(result.detections, bgr)
                elapsed = time.perf_counter() - start
                result.timings["track"] = elapsed
                spent.append(elapsed)
                waited.append(time.monotonic() - frame.capture_time)
                if not keep:
                    frame.image = None
            self.latency.add_many("track", spent)
            self.latency.add_many("capture_to_track", waited)
            self.analyze_queue.put(results)
        self.analyze_queue.put(_END, force=True)

    def _analyze_stage(self) -> None:
        last: dict[str, Frame] = {}
        while (results := self.analyze_queue.get()) is not _END:
            analyze, sinks, waited = [], [], []
            for result in results:
                start = time.perf_counter()
                for analyzer in self.analyzers:
                    result.events.extend(analyzer.update(result))
                mid = time.perf_counter()
                for sink in self.sinks:
                    sink.write(result)
                end = time.perf_counter()
                result.timings["analyze"], result.timings["sinks"] = mid - start, end - mid
                if self._analysis_images and not self.options.keep_images:
                    result.frame.image = None
                analyze.append(mid - start)
                sinks.append(end - mid)
                frame = result.frame
                waited.append(time.monotonic() - frame.capture_time)
                self._frames[frame.stream_id] += 1
                last[frame.stream_id] = frame
            self.latency.add_many("analyze", analyze)
            self.latency.add_many("sinks", sinks)
            self.latency.add_many("capture_to_output", waited)
            self.output_queue.put(results)
        self._flush_analyzers(last)
        self.output_queue.put(_END, force=True)

    def _flush_analyzers(self, last: dict[str, Frame]) -> None:
        """Events the analyzers complete at the end of the streams go to the sinks as results of
        each stream's last frame with no detections or tracks (so no box is written twice)."""
        pending: dict[str, list] = {}
        for analyzer in self.analyzers:
            for event in analyzer.close():
                pending.setdefault(event.camera, []).append(event)
        for camera, events in pending.items():
            frame = last.get(camera) or Frame(camera, -1, 0.0, time.monotonic(), None, (0, 0))
            closing = FrameResult(
                Frame(
                    frame.stream_id,
                    frame.index,
                    frame.pts,
                    frame.capture_time,
                    None,
                    frame.source_size,
                ),
                events=events,
            )
            for sink in self.sinks:
                sink.write(closing)
            self.output_queue.put([closing], force=True)

    # ----------------------------------------------------------------------------- running

    def __iter__(self) -> Iterator[FrameResult]:
        if self._started is not None:
            raise RuntimeError("a Pipeline runs once; build a new one")
        self._started = time.monotonic()
        threads = [
            threading.Thread(
                target=self._guard(f"source/{s.stream_id}", lambda s=s: self._source_stage(s)),
                name=f"source/{s.stream_id}",
                daemon=True,
            )
            for s in self.sources
        ]
        for name, body in (
            ("detect", self._detect_stage),
            ("track", self._track_stage),
            ("analyze", self._analyze_stage),
        ):
            threads.append(threading.Thread(target=self._guard(name, body), name=name, daemon=True))
        for t in threads:
            t.start()
        next_sample = 0.0
        try:
            while True:
                try:
                    results = self.output_queue.get()
                except Aborted:
                    break
                if results is _END:
                    break
                now = time.monotonic()
                if now >= next_sample:
                    self._sample(now)
                    next_sample = now + self.options.sample_every_s
                yield from results
        finally:
            self.stop_event.set()
            if self._error is not None or any(t.is_alive() for t in threads[len(self.sources) :]):
                self._abort()
            for t in threads:
                t.join(timeout=10)
            self._finished = time.monotonic()
            for sink in self.sinks:
                sink.close()
        if self._error is not None:
            raise self._error

    def run(self, on_result: Callable[[FrameResult], None] | None = None) -> dict[str, Any]:
        """Consume every result (calling `on_result` on each) and return `report()`."""
        for result in self:
            if on_result is not None:
                on_result(result)
        return self.report()

    def _sample(self, now: float) -> None:
        if len(self._rss) < self._max_rss_samples:
            self._rss.append(current_rss_mb())
        else:  # keep a bounded, evenly thinned history
            self._rss = self._rss[::2]

    # ----------------------------------------------------------------------------- report

    def snapshot(self) -> dict[str, Any]:
        """Live numbers for the terminal display: frames, fps, drops, queue depths."""
        elapsed = max((self._finished or time.monotonic()) - (self._started or 0.0), 1e-9)
        frames = sum(self._frames.values())
        return {
            "elapsed_s": elapsed,
            "frames": frames,
            "fps": frames / elapsed,
            "dropped": sum(q.dropped for q in self.source_queues.values()),
            "queues": {q.name: len(q) for q in self._all_queues()},
            "latency": self.latency.summary(),
        }

    def report(self) -> dict[str, Any]:
        """``metrics`` (the ``stream/*`` scalars of metrics.json) and ``details`` (per stream,
        per stage, per queue)."""
        snap = self.snapshot()
        lat = snap["latency"]
        out = lat.get("capture_to_output", {})
        trk = lat.get("capture_to_track", {})
        per_stream = {}
        for s in self.sources:
            q = self.source_queues[s.stream_id]
            per_stream[s.stream_id] = {
                "frames": self._frames[s.stream_id],
                "fps": self._frames[s.stream_id] / snap["elapsed_s"],
                "dropped": q.dropped,
                "policy": q.policy,
                **s.stats.as_dict(),
                "source": s.describe(),
            }
        metrics = {
            "stream/frames": snap["frames"],
            "stream/fps": snap["fps"],
            "stream/dropped_frames": snap["dropped"],
            "stream/corrupt_frames": sum(s.stats.corrupt for s in self.sources),
            "stream/reconnects": sum(s.stats.reconnects for s in self.sources),
            "stream/latency_p50_ms": out.get("p50", float("nan")),
            "stream/latency_p95_ms": out.get("p95", float("nan")),
            "stream/latency_p99_ms": out.get("p99", float("nan")),
            "stream/track_latency_p50_ms": trk.get("p50", float("nan")),
            "stream/track_latency_p99_ms": trk.get("p99", float("nan")),
            "stream/peak_rss_mb": peak_rss_mb(),
            "stream/wall_s": snap["elapsed_s"],
        }
        for stage in ("decode", "detect", "track", "analyze", "sinks"):
            if stage in lat:
                metrics[f"stream/{stage}_p50_ms"] = lat[stage]["p50"]
                metrics[f"stream/{stage}_p99_ms"] = lat[stage]["p99"]
        details = {
            "streams": per_stream,
            "latency_ms": lat,
            "queues": {q.name: q.stats() for q in self._all_queues()},
            "rss_mb_samples": [round(v, 2) for v in self._rss],
            "options": self.options.__dict__,
        }
        return {"metrics": metrics, "details": details}


def _needs_frames(tracker: Any) -> bool:
    """Whether a tracker wants images (camera-motion compensation or an appearance encoder)."""
    if tracker is None:
        return False
    from vidlab.tracking.runner import needs_frames

    return needs_frames(tracker) or (
        getattr(tracker, "uses_appearance", False) and getattr(tracker, "encoder", None) is not None
    )
