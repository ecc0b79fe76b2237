"""The threaded runtime end to end: order, batching across streams, drops, errors, task=stream."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vidlab.pipeline import Pipeline, StreamOptions
from vidlab.pipeline.detect import HogDetector, OracleDetector, ReplayDetector
from vidlab.pipeline.sources import AnnotatedFrame, DecodeTarget, Source, SyntheticSource
from vidlab.pipeline.types import Event, FrameResult
from vidlab.tracking import create_tracker


class MemorySink:
    def __init__(self):
        self.results: list[FrameResult] = []
        self.closed = 0

    def write(self, result: FrameResult) -> None:
        self.results.append(result)

    def close(self) -> None:
        self.closed += 1


class CountChange:
    """Emits an event whenever the number of tracks of a stream changes, one more at close."""

    def __init__(self):
        self.last: dict[str, int] = {}

    def update(self, result: FrameResult) -> list[Event]:
        f, n = result.frame, len(result.tracks)
        changed = self.last.get(f.stream_id) not in (None, n)
        self.last[f.stream_id] = n
        if not changed:
            return []
        return [Event("crowding", f.stream_id, -1, "", f.pts, f.pts, f.index, f.index)]

    def close(self) -> list[Event]:
        return [Event("crowding", c, -1, "end", 0.0, 0.0, 0, 0) for c in self.last]


def _synthetic(n, *, sid="synthetic", live=False, fps=25.0, seed=0):
    return SyntheticSource(
        fps=fps, width=480, height=270, num_frames=n, live=live, stream_id=sid, seed=seed
    )


def _bytetrack(source):
    return create_tracker("bytetrack", frame_rate=source.fps)


def test_oracle_tracks_every_frame_in_order_and_analyzers_reach_the_sinks():
    sink, analyzer = MemorySink(), CountChange()
    pipe = Pipeline(
        [_synthetic(80)], OracleDetector(), _bytetrack, analyzers=[analyzer], sinks=[sink]
    )
    results = list(pipe)
    frames = [r for r in results if r.tracks is not None]
    assert [r.frame.index for r in frames] == list(range(80))
    assert sink.closed == 1 and len(sink.results) == len(results)
    # tracking ground truth: after a few frames every true box is tracked with few identities
    late = frames[10:]
    assert np.mean([len(r.tracks) / max(len(r.detections), 1) for r in late]) > 0.9
    ids = np.unique(np.concatenate([r.tracks.track_id for r in frames]))
    assert len(ids) <= 20
    events = [e for r in results for e in r.events]
    assert any(e.item == "end" for e in events) and any(e.item == "" for e in events)
    m = pipe.report()["metrics"]
    assert m["stream/frames"] == 80 and m["stream/dropped_frames"] == 0
    assert m["stream/latency_p50_ms"] <= m["stream/latency_p99_ms"]
    assert all(r.frame.image is None for r in frames)  # released once no stage needed it


class RecordingDetector(ReplayDetector):
    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.batches: list[list[str]] = []
        self.delay = delay

    def __call__(self, frames):
        self.batches.append([f.stream_id for f in frames])
        time.sleep(self.delay)
        return super().__call__(frames)


class ListSource(Source):
    """Frames with replay boxes, made up front; every instance starts at one shared barrier."""

    def __init__(self, sid: str, n: int, barrier: threading.Barrier):
        super().__init__()
        self.stream_id, self.fps, self.n, self.barrier = sid, 25.0, n, barrier

    def frames(self, stop):
        boxes = np.array([[10, 10, 50, 90, 0.9]], np.float32)
        made = [
            AnnotatedFrame(self.stream_id, i, i / 25, 0.0, None, (640, 360), replay=boxes)
            for i in range(self.n)
        ]
        self.barrier.wait(5)
        for frame in made:
            frame.capture_time = time.monotonic()
            yield frame


def test_detection_is_batched_across_streams():
    barrier = threading.Barrier(3)
    sources = [ListSource(f"cam{i}", 40, barrier) for i in range(3)]
    det = RecordingDetector(delay=0.005)
    opts = StreamOptions(batch_size=6, queue_size=4)
    pipe = Pipeline(sources, det, _bytetrack, options=opts)
    per_stream: dict[str, list[int]] = {}
    for r in pipe:
        per_stream.setdefault(r.frame.stream_id, []).append(r.frame.index)
    assert per_stream == {f"cam{i}": list(range(40)) for i in range(3)}
    assert max(len(b) for b in det.batches) == 6
    assert sum(len(set(b)) == 3 for b in det.batches) >= len(det.batches) // 2
    streams = pipe.report()["details"]["streams"]
    assert all(s["frames"] == 40 for s in streams.values())


def test_a_live_source_drops_the_oldest_frames_when_detection_falls_behind():
    # 200 fps live source, a detector that needs 20 ms per frame: ~3 of 4 frames must go
    source = _synthetic(200, live=True, fps=200.0)
    opts = StreamOptions(queue_size=4, batch_size=1)
    pipe = Pipeline([source], RecordingDetector(delay=0.02), _bytetrack, options=opts)
    out = [r.frame.index for r in pipe]
    report = pipe.report()
    dropped = report["metrics"]["stream/dropped_frames"]
    assert dropped > 50 and len(out) + dropped == 200
    assert out == sorted(out) and out[-1] == 199  # the newest frames survive
    q = report["details"]["queues"]["source/synthetic"]
    assert q["max_depth"] <= 4 and q["dropped"] == dropped


def test_a_failing_stage_stops_the_pipeline_and_raises():
    class Broken:
        target = DecodeTarget(need_image=False)

        def __call__(self, frames):
            raise RuntimeError("detector exploded")

    pipe = Pipeline([_synthetic(None, live=False)], Broken(), _bytetrack)
    with pytest.raises(RuntimeError, match="exploded"):
        list(pipe)
    time.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.name in ("detect", "track", "analyze")]


def test_breaking_out_of_an_endless_stream_stops_every_thread():
    sink = MemorySink()
    pipe = Pipeline([_synthetic(None, live=False)], OracleDetector(), _bytetrack, sinks=[sink])
    for i, _ in enumerate(pipe):
        if i == 20:
            break
    assert sink.closed == 1
    time.sleep(0.2)
    names = {t.name for t in threading.enumerate()}
    assert not names & {"detect", "track", "analyze", "source/synthetic"}


def test_hog_finds_boxes_in_source_pixels():
    source = SyntheticSource(width=960, height=540, num_frames=1, live=False, seed=4)
    hog = HogDetector(width=480, hit_threshold=-0.5)
    source.configure(hog.target)
    (frame,) = source.frames(threading.Event())
    assert frame.image.shape == (270, 480, 3)
    (dets,) = hog([frame])
    assert dets.shape[1] == 5 and np.all((dets[:, 4] > 0) & (dets[:, 4] < 1))
    if len(dets):  # boxes are mapped back to 960x540
        assert dets[:, 2].max() <= 960 * 1.01 and dets[:, 2].max() > 100


def test_task_stream_writes_metrics(make_cfg, vfr_video, tmp_path: Path):
    from vidlab.tasks.stream import run

    path, pts = vfr_video
    det = tmp_path / "det.txt"
    det.write_text("".join(f"{f},-1,10,10,40,80,0.9,-1,-1,-1\n" for f in range(1, len(pts) + 1)))
    cfg = make_cfg(
        "evaluate",
        [
            "task=stream",
            "sinks=none",
            f"source={path}",
            "detector=replay",
            f"detect.det_file={det}",
            "tracker=ocsort",
            "stream.max_frames=10",
            "stream.decode_process=true",  # no FFmpeg state in the pytest process
        ],
    )
    metrics = run(cfg)
    saved = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert (
        saved["task"] == "stream"
        and saved["metrics"]["stream/frames"] == 10 == metrics["stream/frames"]
    )
    for key in ("fps", "dropped_frames", "latency_p50_ms", "latency_p99_ms", "peak_rss_mb"):
        assert saved["metrics"][f"stream/{key}"] is not None
    assert saved["details"]["streams"]["vfr"]["source"]["path"] == str(path)


def test_trackers_that_use_images_get_full_size_frames():
    source = _synthetic(3)
    Pipeline([source], OracleDetector(), lambda s: create_tracker("bytetrack"))
    assert source.target.need_image is False  # the oracle needs no pixels
    source = _synthetic(3)
    pipe = Pipeline([source], OracleDetector(), lambda s: create_tracker("botsort"))
    assert source.target == DecodeTarget(need_image=True, max_size=None)  # CMC in source pixels
    results = list(pipe)
    assert len(results) == 3 and all(r.frame.image is None for r in results)  # released after


class ImageShapes:
    """An analyzer that crops: records the image size of every frame it sees."""

    needs_images = True

    def __init__(self):
        self.shapes: list[tuple[int, ...] | None] = []

    def update(self, result: FrameResult) -> list[Event]:
        image = result.frame.image
        self.shapes.append(None if image is None else image.shape)
        return []

    def close(self) -> list[Event]:
        return []


def test_analyzers_that_need_images_get_full_size_frames_released_after_them():
    source, analyzer = _synthetic(4), ImageShapes()
    pipe = Pipeline([source], OracleDetector(), _bytetrack, analyzers=[analyzer])
    assert source.target == DecodeTarget(need_image=True, max_size=None)
    results = list(pipe)
    assert analyzer.shapes == [(270, 480, 3)] * 4
    assert all(r.frame.image is None for r in results)  # released after the analyze stage
