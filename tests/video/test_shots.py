"""Shot boundaries: scoring on hand-built cases, merging, and PySceneDetect on synthetic cuts and
fades at known frames."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.synthetic.shots import ShotVideoSpec, iter_frames, plan_shots, write_shot_video
from vidlab.errors import UserError
from vidlab.evaluation.shots import BoundaryScore, match_boundaries, score_boundaries
from vidlab.video.shots import Boundary, ShotSettings, detect_shots, merge_boundaries, shot_ranges

SMALL = ShotVideoSpec(
    num_shots=8,
    shot_frames=(30, 50),
    fade_prob=0.4,
    fade_frames=(6, 12),
    width=160,
    height=90,
    seed=2,
)


def test_score_boundaries_hand_cases() -> None:
    # 10 matches 11 and 21 matches 20 (1-frame tolerance); 50 is a false positive, 30 a miss.
    s = score_boundaries([10, 21, 50], [11, 20, 30], tolerance=1)
    assert (s.tp, s.fp, s.fn) == (2, 1, 1)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 / 3)
    # two frames off is outside the tolerance
    assert score_boundaries([12], [10], tolerance=1) == BoundaryScore(0, 1, 1)
    # one true boundary, two candidates: the closer one matches, the other is a false positive
    assert match_boundaries([9, 10], [10], tolerance=1) == [(10, 10)]
    assert score_boundaries([9, 10], [10]).fp == 1
    # empty sides: nothing to find and nothing found is perfect; nothing found is recall 0
    assert score_boundaries([], []).f1 == 1.0
    assert score_boundaries([], [5]).recall == 0.0 and score_boundaries([], [5]).f1 == 0.0
    assert (BoundaryScore(1, 0, 1) + BoundaryScore(1, 1, 0)).as_dict()["f1"] == pytest.approx(2 / 3)


def test_merge_boundaries_prefers_fade_cuts() -> None:
    merged = merge_boundaries(cuts=[0, 40, 95, 100], fade_cuts=[98, 200], merge_gap=8)
    assert merged == [Boundary(40, "cut"), Boundary(98, "fade"), Boundary(200, "fade")]
    assert shot_ranges([40, 98], 120) == [(0, 40), (40, 98), (98, 120)]
    with pytest.raises(UserError, match="shots.detector"):
        ShotSettings(detector="histogramm")


def test_synthetic_fades_and_cuts_are_where_the_truth_says() -> None:
    truth = plan_shots(SMALL)
    assert truth == plan_shots(SMALL)  # deterministic in the seed
    assert len(truth.boundaries) == SMALL.num_shots - 1 and "fade" in truth.kinds
    frames = list(iter_frames(SMALL, truth))
    assert len(frames) == truth.num_frames
    means = np.array([f.mean() for f in frames])
    for b, kind in zip(truth.boundaries, truth.kinds, strict=True):
        if kind == "fade":  # black on both sides of the boundary, bright a fade away
            assert means[b] < 5 and means[b - 1] < 5
        else:  # a cut: a different picture, no black
            assert min(means[b - 1], means[b]) > 15
            diff = np.abs(frames[b].astype(int) - frames[b - 1].astype(int)).mean()
            assert diff > 20


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_pyscenedetect_finds_synthetic_cuts_and_fades(tmp_path, spawn_pool, detector) -> None:
    video = tmp_path / "shots.mp4"
    truth = spawn_pool.submit(write_shot_video, video, SMALL).result()
    found, n = spawn_pool.submit(detect_shots, str(video), ShotSettings(detector=detector)).result()
    assert n == truth.num_frames
    score = score_boundaries([b.frame for b in found], truth.boundaries, tolerance=1)
    assert score.f1 == 1.0, (found, truth.boundaries)
    fades = {b for b, k in zip(truth.boundaries, truth.kinds, strict=True) if k == "fade"}
    assert {b.frame for b in found if b.kind == "fade"} <= {
        f + d for f in fades for d in (-1, 0, 1)
    }
