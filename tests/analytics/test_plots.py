"""The plot functions write readable PNGs of a small scene's analytics."""

from __future__ import annotations

import cv2
import numpy as np

from vidlab.analytics import (
    HeatmapAnalyzer,
    ZoneAnalyzer,
    build_analyzers,
    mot_track_frames,
    parse_layouts,
    run_analytics,
)
from vidlab.analytics.plots import (
    plot_counts_over_time,
    plot_event_timeline,
    plot_heatmap,
    plot_trajectories,
)
from vidlab.data.synthetic.mot import render_sequence_frames
from vidlab.data.synthetic.scene import ScriptConfig, generate_scene


def test_plots_of_a_scene_are_written(tmp_path):
    scene = generate_scene(3, ScriptConfig(duration_s=30.0, frame_rate=10.0))
    layout = parse_layouts(scene.layout)[scene.camera]
    analyzers = build_analyzers(layout)
    seq = scene.sequence
    frames = mot_track_frames(seq.gt_frame, seq.gt_id, seq.gt_tlwh, scene.pts)
    events = run_analytics(analyzers, frames, camera=scene.camera)
    heat = next(a for a in analyzers if isinstance(a, HeatmapAnalyzer))
    zones = next(a for a in analyzers if isinstance(a, ZoneAnalyzer))
    first = next(render_sequence_frames(seq))[1][:, :, ::-1]
    size = layout.frame_size
    paths = [
        plot_heatmap(heat.image(), tmp_path / "heat.png", frame_size=size, background=first, layout=layout),
        plot_trajectories(heat.trajectories(), tmp_path / "traj.png", frame_size=size, background=first, layout=layout),
        plot_counts_over_time(events, tmp_path / "counts.png", occupancy=list(zones.history), zone_names=zones.names),
        plot_event_timeline(events, tmp_path / "timeline.png", truth=scene.events),
    ]  # fmt: skip
    assert heat.image().max() == 1.0 and len(heat.trajectories()) == len(np.unique(seq.gt_id))
    for path in paths:
        image = cv2.imread(str(path))
        assert image is not None and image.shape[0] > 100 and image.std() > 5, path
