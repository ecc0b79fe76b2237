"""Scene analytics on tracks: zones, lines, loitering, wrong-way, speed, crowding, heatmaps.

Each analyzer implements `vidlab.pipeline.types.Analyzer` (``update(result) -> events``,
``close()``), keeps bounded per-track state, and is vectorised over the frame's tracks. Layouts are
declared per camera (the ``analytics=`` config group, see `vidlab.analytics.layout`) and checked
when they are loaded; `build_analyzers` turns one camera's layout into its analyzers,
`LayoutAnalytics` is the pipeline's analyze stage for every stream (each stream gets its camera's
analyzers), and `run_analytics` runs analyzers over per-frame tracks without the stream runtime.

Light: numpy and OpenCV only; the tracklet action analytic (`ActionAnalyzer`) loads its classifier
(an export bundle's runtime, or torch for a checkpoint) when it is built.
"""

from __future__ import annotations

from vidlab.analytics.actions import ActionAnalyzer, TubeClassifier
from vidlab.analytics.behaviour import LoiteringAnalyzer, SpeedAnalyzer, WrongWayAnalyzer
from vidlab.analytics.builder import LayoutAnalytics, analyzers_from_config, build_analyzers
from vidlab.analytics.heatmap import HeatmapAnalyzer
from vidlab.analytics.layout import CameraLayout, load_layouts, parse_layouts
from vidlab.analytics.lines import LineAnalyzer
from vidlab.analytics.run import mot_track_frames, run_analytics
from vidlab.analytics.zones import ZoneAnalyzer

__all__ = [
    "ActionAnalyzer",
    "CameraLayout",
    "HeatmapAnalyzer",
    "LayoutAnalytics",
    "LineAnalyzer",
    "LoiteringAnalyzer",
    "SpeedAnalyzer",
    "WrongWayAnalyzer",
    "ZoneAnalyzer",
    "analyzers_from_config",
    "build_analyzers",
    "load_layouts",
    "mot_track_frames",
    "parse_layouts",
    "run_analytics",
    "TubeClassifier",
]
