"""AnnotatedVideoSink: a decodable MP4 with the boxes drawn at the decode resolution."""

from __future__ import annotations

import av
import numpy as np
import pytest

from vidlab.pipeline.sinks import AnnotatedVideoSink, SinkError
from vidlab.pipeline.sinks.synthetic import synthetic_results
from vidlab.pipeline.sinks.video import track_color


def _decode(path):
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        return [f.to_ndarray(format="rgb24") for f in frames], [float(f.time) for f in frames]


def test_video_has_every_frame_and_the_boxes_drawn_scaled(tmp_path):
    # Source 960x540, decoded at 480x270: boxes (source pixels) must be halved.
    results = list(synthetic_results(frames=40, targets=4, image_size=(480, 270), fps=20.0))
    sink = AnnotatedVideoSink(run_dir=tmp_path, trail_length=5)
    for r in results:
        sink.write(r)
    sink.close()
    sink.close()  # idempotent
    path = tmp_path / "annotated_cam0.mp4"
    assert sink.paths() == {"cam0": path}
    images, times = _decode(path)
    assert len(images) == len(results)
    assert images[0].shape == (270, 480, 3)
    assert times == pytest.approx([r.frame.pts for r in results], abs=1e-3)  # times from pts

    for k in (5, 30):
        image, tracks = images[k], results[k].tracks
        for box, tid in zip(tracks.xyxy / 2, tracks.track_id, strict=True):
            x1, y1, x2, y2 = box.round().astype(int)
            ym = (y1 + y2) // 2
            edge = image[ym, max(x1, 0)].astype(int)  # left edge, mid height
            inside = image[ym, (x1 + x2) // 2].astype(int)
            assert np.abs(edge - track_color(int(tid))).max() < 60, (k, tid, edge)
            assert inside.max() < 40  # boxes are outlines, the black frame shows inside
    # A frame region far from every box stays black (compression noise aside).
    assert np.median(images[10]) < 10


def test_frames_without_images_are_skipped_and_counted(tmp_path):
    sink = AnnotatedVideoSink(run_dir=tmp_path)
    for r in synthetic_results(frames=5):  # no image
        sink.write(r)
    sink.close()
    assert sink.skipped_frames == 5 and sink.paths() == {}


def test_trails_and_flashes_are_bounded(tmp_path):
    sink = AnnotatedVideoSink(run_dir=tmp_path, trail_length=4, max_trails=3, max_flashes=2)
    for r in synthetic_results(frames=120, targets=10, image_size=(240, 136)):
        sink.write(r)
        writer = sink._writers["cam0"]
        assert len(writer.trails) <= 3 and len(writer.flashes) <= 2
        assert all(len(t) <= 4 for t in writer.trails.values())
    sink.close()
    with pytest.raises(SinkError, match="annotated"):
        sink.write(r)


def test_mpeg4_fallback_and_second_camera_file(tmp_path):
    sink = AnnotatedVideoSink("out.mp4", codec="no_such_encoder", run_dir=tmp_path)
    assert sink.codec == "mpeg4"
    for cam in ("a", "b"):
        for r in synthetic_results(camera=cam, frames=6, image_size=(160, 90)):
            sink.write(r)
    sink.close()
    assert sink.paths() == {"a": tmp_path / "out.mp4", "b": tmp_path / "out_b.mp4"}
    for path in sink.paths().values():
        images, _ = _decode(path)
        assert len(images) == 6 and images[0].shape == (90, 160, 3)
