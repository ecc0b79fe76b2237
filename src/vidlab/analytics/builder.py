"""From an ``analytics`` config (or a scene's layout file) to the analyzers of each camera."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vidlab.analytics.behaviour import LoiteringAnalyzer, SpeedAnalyzer, WrongWayAnalyzer
from vidlab.analytics.heatmap import HeatmapAnalyzer
from vidlab.analytics.layout import CameraLayout, WrongWay, layout_for, parse_layouts
from vidlab.analytics.lines import LineAnalyzer
from vidlab.analytics.zones import ZoneAnalyzer
from vidlab.pipeline.types import Analyzer


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


def analyzers_from_config(
    config: Mapping[str, Any] | None, camera: str, source: str = "analytics"
) -> list[Analyzer]:
    """The analyzers of `camera` from an ``analytics`` config node (its own layout, else the
    ``"*"`` one; none when neither exists). Errors in any camera's layout raise at once."""
    layout = layout_for(parse_layouts(_plain(config), source), camera)
    return [] if layout is None else build_analyzers(layout)
