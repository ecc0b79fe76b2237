"""Analytics rules on hand-built tracks with exactly known answers (times from pts, not frames)."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.analytics import (
    HeatmapAnalyzer,
    LineAnalyzer,
    LoiteringAnalyzer,
    SpeedAnalyzer,
    WrongWayAnalyzer,
    ZoneAnalyzer,
    run_analytics,
)
from vidlab.analytics.geometry import PolygonSet
from vidlab.analytics.layout import Crowding, Line, Loitering, Speed, WrongWay, Zone
from vidlab.analytics.state import TrackSlots
from vidlab.pipeline.types import Analyzer, Tracks


def _box(x: float, y: float, w: float = 10.0, h: float = 20.0) -> list[float]:
    """xyxy of a box whose bottom centre is (x, y)."""
    return [x - w / 2, y - h, x + w / 2, y]


def _frames(paths: dict[int, list[tuple[float, float] | None]], pts: list[float]):
    """(index, pts, Tracks) frames from per-id bottom-centre paths (None: not seen)."""
    for i, t in enumerate(pts):
        ids = [tid for tid, p in paths.items() if i < len(p) and p[i] is not None]
        xyxy = np.array([_box(*paths[tid][i]) for tid in ids]).reshape(-1, 4)
        yield i, t, Tracks(xyxy, np.array(ids, np.int64), np.ones(len(ids)))


SQUARE = np.array([[40.0, 20.0], [80.0, 20.0], [80.0, 80.0], [40.0, 80.0]])


def test_points_in_many_polygons_agree_with_a_direct_test():
    rng = np.random.default_rng(0)
    tri = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])
    concave = np.array([[0, 0], [100, 0], [100, 100], [50, 40], [0, 100]], float)
    polys = PolygonSet([SQUARE, tri, concave])
    pts = rng.uniform(-10, 110, (500, 2))
    got = polys.contains(pts)
    x, y = pts[:, 0], pts[:, 1]
    assert (got[:, 0] == ((x > 40) & (x < 80) & (y > 20) & (y < 80))).all()
    assert (got[:, 1] == ((x > 0) & (y > 0) & (x + y < 100))).all()
    notch = (y > 40 + 60 * np.abs(x - 50) / 50) & (x > 0) & (x < 100)  # above the notch edges
    assert (got[:, 2] == ((x > 0) & (x < 100) & (y > 0) & (y < 100) & ~notch)).all()


def test_zone_enter_exit_are_dated_at_the_first_frame_and_flicker_is_ignored():
    zone = Zone("z", SQUARE, hysteresis_frames=3)
    # x positions of one walker; variable frame times (a VFR stream): events use these pts
    xs = [30, 35, 45, 50, 55, 35, 60, 65, 70, 85, 90, 95, 100]  # frame 5 flickers out for 1 frame
    pts = [0.0, 0.1, 0.25, 0.3, 0.5, 0.55, 0.7, 0.9, 1.0, 1.2, 1.25, 1.4, 1.6]
    analyzer = ZoneAnalyzer([zone])
    events = run_analytics([analyzer], _frames({7: [(x, 50.0) for x in xs]}, pts), camera="c")
    assert [(e.type, e.t_start, e.frame_start) for e in events] == [
        ("zone_enter", 0.25, 2),
        ("zone_exit", 1.2, 9),
    ]
    assert events[1].extra["dwell_s"] == pytest.approx(0.95)
    assert analyzer.entries.tolist() == [1] and analyzer.exits.tolist() == [1]


def test_zone_born_inside_is_occupancy_without_an_event_and_crowding_fires_once():
    zone = Zone(
        "z", SQUARE, hysteresis_frames=1, crowding=Crowding(max_occupancy=1, min_seconds=1.0)
    )
    pts = [0.5 * i for i in range(8)]
    inside = [(60.0, 50.0)] * 8
    paths = {1: inside, 2: [None, None, *inside[2:6], (200.0, 50.0), (200.0, 50.0)]}
    analyzer = ZoneAnalyzer([zone])
    events = run_analytics([analyzer], _frames(paths, pts), camera="c")
    kinds = [(e.type, e.t_start, e.track_id) for e in events]
    # track 2 appears inside at t=1.0 (no enter), occupancy 2 > 1 from t=1.0, held 1 s at t=2.0
    assert kinds == [("crowding", 2.0, -1), ("zone_exit", 3.0, 2)]
    assert [h[1][0] for h in analyzer.history] == [1, 1, 2, 2, 2, 2, 1, 1]


def test_all_corners_anchor_needs_the_whole_box_inside():
    zone_bc = Zone("bc", SQUARE, hysteresis_frames=1)
    zone_ac = Zone("ac", SQUARE, anchor="all_corners", hysteresis_frames=1)
    analyzer = ZoneAnalyzer([zone_bc, zone_ac])
    xyxy = np.array([_box(60, 50), _box(60, 30)])  # second box sticks out at the top
    assert analyzer.contains(xyxy).tolist() == [[True, True], [True, False]]


def _line(**kw) -> Line:
    return Line("door", np.array([50.0, 0.0]), np.array([50.0, 100.0]), np.array([1.0, 0.0]), **kw)


def test_line_counts_each_crossing_once_with_its_direction_and_time():
    pts = [0.1 * i for i in range(14)]
    xs = [40, 45, 55, 60, 65, 70, 60, 45, 40, 55, 45, 40, 35, 30]  # in, out, then a 1-frame wobble
    analyzer = LineAnalyzer([_line(min_frames=2)])
    events = run_analytics([analyzer], _frames({3: [(x, 50.0) for x in xs]}, pts), camera="c")
    got = [(e.label, round(e.t_start, 3), e.frame_start, e.track_id) for e in events]
    assert got == [("in", 0.2, 2, 3), ("out", 0.7, 7, 3)]
    assert analyzer.counts_in.tolist() == [1] and analyzer.counts_out.tolist() == [1]
    assert analyzer.counts[("door", "in", 0)] == 1


def test_line_segment_ignores_passing_beyond_its_end_unless_infinite():
    path = [(40.0, 150.0), (45.0, 150.0), (55.0, 150.0), (60.0, 150.0), (65.0, 150.0)]  # y=150
    pts = [0.1 * i for i in range(5)]
    for infinite, expected in ((False, 0), (True, 1)):
        analyzer = LineAnalyzer([_line(min_frames=2, infinite=infinite)])
        events = run_analytics([analyzer], _frames({1: path}, pts), camera="c")
        assert len(events) == expected


def test_line_id_switch_after_the_line_is_not_a_crossing():
    pts = [0.1 * i for i in range(6)]
    paths = {
        1: [(40.0, 50.0), (45.0, 50.0)],
        2: [None, None, (55.0, 50.0), (60.0, 50.0), (65.0, 50.0), (70.0, 50.0)],
    }
    assert (
        run_analytics([LineAnalyzer([_line(min_frames=2)])], _frames(paths, pts), camera="c") == []
    )


def test_loitering_uses_stream_time_and_fires_once_per_stay():
    rule = Loitering(radius=5.0, seconds=3.0, space="pixels")
    pts = [0.0, 1.0, 1.5, 3.5, 4.0, 4.2, 9.0, 9.5]  # irregular times
    path = [(0, 50), (20, 50), (21, 50), (22, 51), (20, 49), (21, 50), (21, 50), (60, 50)]
    events = run_analytics([LoiteringAnalyzer(rule)], _frames({5: path}, pts), camera="c")
    assert [(e.type, e.t_start, e.extra["since"]) for e in events] == [("loitering", 4.0, 1.0)]


def test_wrong_way_against_the_allowed_direction_only():
    zone = Zone("c", np.array([[0.0, 0.0], [200.0, 0.0], [200.0, 100.0], [0.0, 100.0]]),
                allowed_direction=np.array([1.0, 0.0]))  # fmt: skip
    rule = WrongWay(window_s=1.0, max_angle_deg=100.0, min_distance_px=10.0)
    pts = [0.25 * i for i in range(12)]
    paths = {
        1: [(20.0 + 10 * i, 50.0) for i in range(12)],  # with the flow
        2: [(190.0 - 10 * i, 50.0) for i in range(12)],  # against it
        3: [(100.0, 90.0 - 2 * i) for i in range(12)],  # across it at 90 degrees: allowed
    }
    events = run_analytics([WrongWayAnalyzer(zone, rule)], _frames(paths, pts), camera="c")
    assert [(e.track_id, e.t_start) for e in events] == [(2, 1.0)]
    assert events[0].extra["angle_deg"] == pytest.approx(180.0)


def test_speed_through_a_homography_and_overspeed_once():
    h = np.diag([0.1, 0.1, 1.0])  # 10 pixels per metre
    rule = Speed(window_s=1.0, max_speed_mps=3.0)
    pts = [0.2 * i for i in range(15)]
    walk = [(10.0 + 14 * t, 50.0) for t in pts]  # 1.4 m/s
    run = [(10.0 + 50 * t, 60.0) for t in pts]  # 5 m/s
    analyzer = SpeedAnalyzer(rule, h)
    events = run_analytics([analyzer], _frames({1: walk, 2: run}, pts), camera="c")
    assert [(e.type, e.track_id, e.t_start) for e in events] == [("overspeed", 2, 1.0)]
    assert events[0].extra["speed_mps"] == pytest.approx(5.0)
    assert analyzer.speeds() == pytest.approx({1: 1.4, 2: 5.0})


def test_heatmap_fades_with_its_half_life():
    heat = HeatmapAnalyzer((100, 100), half_life_s=2.0, cell_px=10)
    frames = list(_frames({1: [(55.0, 55.0), None, None]}, [0.0, 1.0, 4.0]))
    run_analytics([heat], frames, camera="c")
    assert heat.density()[5, 5] == pytest.approx(0.25)  # 4 s = two half-lives
    assert heat.image().max() == pytest.approx(1.0)


def test_per_track_state_is_bounded_and_forgotten():
    slots = TrackSlots(capacity=4, forget_after_s=1.0)
    for t in range(10):
        slots.lookup(np.array([100 + t]), float(t) * 0.1)
    assert len(slots) == 4 and slots.recycled == 6
    slots.expire(5.0)
    assert len(slots) == 0
    analyzer = LineAnalyzer([_line()], max_tracks=8, forget_after_s=0.5)
    frames = (
        (i, 0.1 * i, Tracks(np.array([_box(40, 50)]), np.array([i]), np.ones(1)))
        for i in range(1000)
    )
    run_analytics([analyzer], frames, camera="c")
    assert len(analyzer.slots) <= 8 and analyzer.side.shape[0] == 8


def test_every_analyzer_satisfies_the_protocol():
    zone = Zone("z", SQUARE, allowed_direction=np.array([1.0, 0.0]))
    for analyzer in (
        ZoneAnalyzer([zone]),
        LineAnalyzer([_line()]),
        LoiteringAnalyzer(Loitering(1.0, 1.0, "pixels")),
        WrongWayAnalyzer(zone, WrongWay()),
        SpeedAnalyzer(Speed(), np.eye(3)),
        HeatmapAnalyzer((100, 100)),
    ):
        assert isinstance(analyzer, Analyzer)
        assert run_analytics([analyzer], _frames({1: [(10.0, 10.0)]}, [0.0]), camera="c") == []
