"""From per-camera layouts (an ``analytics=`` config option, or a scene's layout file) to analyzers:
`build_analyzers` for one camera, `LayoutAnalytics` as the pipeline's analyze stage for all."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidlab.analytics.behaviour import LoiteringAnalyzer, SpeedAnalyzer, WrongWayAnalyzer
from vidlab.analytics.heatmap import HeatmapAnalyzer
from vidlab.analytics.layout import (
    CameraLayout,
    WrongWay,
    layout_for,
    load_layouts,
    parse_layouts,
)
from vidlab.analytics.lines import LineAnalyzer
from vidlab.analytics.zones import ZoneAnalyzer
from vidlab.errors import UserError
from vidlab.pipeline.types import Analyzer, Event, FrameResult


def build_analyzers(layout: CameraLayout) -> list[Analyzer]:
    """The analyzers one camera's layout asks for (an empty list for an empty layout).

    Zones and lines each get one analyzer for all of them (vectorised over tracks and items);
    every zone with an ``allowed_direction`` gets a wrong-way analyzer (default rule if the layout
    has no ``wrong_way`` section).
    """
    bounds = {"max_tracks": layout.max_tracks, "forget_after_s": layout.forget_after_s}
    out: list[Analyzer] = []
    if layout.zones:
        out.append(ZoneAnalyzer(layout.zones, occupancy_hold_s=layout.occupancy_hold_s, **bounds))
    if layout.lines:
        out.append(LineAnalyzer(layout.lines, **bounds))
    if layout.loitering is not None:
        out.append(LoiteringAnalyzer(layout.loitering, layout.homography, **bounds))
    rule = layout.wrong_way or WrongWay()
    for zone in layout.zones:
        if zone.allowed_direction is not None:
            out.append(WrongWayAnalyzer(zone, rule, **bounds))
    if layout.speed is not None and layout.homography is not None:
        out.append(SpeedAnalyzer(layout.speed, layout.homography, **bounds))
    if layout.heatmap is not None:
        out.append(
            HeatmapAnalyzer(
                layout.frame_size,
                half_life_s=layout.heatmap.half_life_s,
                cell_px=layout.heatmap.cell_px,
            )
        )
    return out


def _plain(config: Any) -> Any:
    """An OmegaConf node as plain dicts and lists (other values unchanged)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return config
    if isinstance(config, DictConfig | ListConfig):
        return OmegaConf.to_container(config, resolve=True)
    return config


class LayoutAnalytics:
    """The analyze stage of a pipeline from per-camera layouts: one `Analyzer` for every stream.

    Each stream (``result.frame.stream_id``) gets the analyzers of its camera's layout (else the
    ``"*"`` layout, else `default_camera`'s, else none), built on its first frame, so the state of
    different cameras never mixes. All layouts are checked when this object is built (config
    load), and a mistake is a `UserError` naming the camera, the item and the fault.

    An ``analytics=`` config option is a mapping of such ``_target_`` nodes::

        layout:
          _target_: vidlab.analytics.LayoutAnalytics
          cameras: {"*": {frame_size: [960, 540], zones: [...], lines: [...]}}

    Args:
        cameras: camera name -> layout mapping (see `vidlab.analytics.layout`).
        layout_file: a layout YAML file (``cameras:`` at the top) instead, e.g. the
            ``analytics.yaml`` of a synthetic scene.
        default_camera: the camera whose layout applies to streams without their own (a scene's
            layout names the scene; the runtime may call its stream otherwise).
        source: name for error messages when `cameras` is given inline.
    """

    def __init__(
        self,
        *,
        cameras: Mapping[str, Any] | None = None,
        layout_file: str | Path | None = None,
        default_camera: str | None = None,
        source: str = "analytics",
    ) -> None:
        if (cameras is None) == (layout_file is None):
            raise UserError(f"{source}: give either `cameras` or `layout_file` (not both)")
        if layout_file is not None:
            self.layouts = load_layouts(layout_file)
        else:
            self.layouts = parse_layouts({"cameras": _plain(cameras)}, source)
        if default_camera is not None and default_camera not in self.layouts:
            raise UserError(
                f"{layout_file or source}: default_camera {default_camera!r} is not one of "
                f"{sorted(self.layouts)}"
            )
        self.default_camera = default_camera
        self._streams: dict[str, list[Analyzer]] = {}

    def analyzers(self, stream_id: str) -> list[Analyzer]:
        """The analyzers of one stream (built on first use)."""
        found = self._streams.get(stream_id)
        if found is None:
            layout = layout_for(self.layouts, stream_id)
            if layout is None and self.default_camera is not None:
                layout = self.layouts[self.default_camera]
            found = self._streams[stream_id] = [] if layout is None else build_analyzers(layout)
        return found

    def update(self, result: FrameResult) -> list[Event]:
        events: list[Event] = []
        for analyzer in self.analyzers(result.frame.stream_id):
            events += analyzer.update(result)
        return events

    def close(self) -> list[Event]:
        return [e for analyzers in self._streams.values() for a in analyzers for e in a.close()]


def analyzers_from_config(
    config: Mapping[str, Any] | None, camera: str, source: str = "analytics"
) -> list[Analyzer]:
    """The analyzers of `camera` from a layout mapping (``{"cameras": {...}}``): its own layout,
    else the ``"*"`` one; none when neither exists. Errors in any camera's layout raise at once."""
    layout = layout_for(parse_layouts(_plain(config), source), camera)
    return [] if layout is None else build_analyzers(layout)
