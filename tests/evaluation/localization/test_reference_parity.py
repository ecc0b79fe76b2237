"""`evaluate_localization` equals the official ActivityNet `compute_average_precision_detection`
to 1e-9 (ActionFormer 1.5.0's copy of it, see vidlab.evaluation.localization.reference; the test
skips when `python -m vidlab.evaluation.localization.reference --fetch` has not been run)."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.evaluation.localization import (
    ACTIVITYNET_TIOU,
    THUMOS14_TIOU,
    SegmentTable,
    evaluate_localization,
)
from vidlab.evaluation.localization.reference import load_reference, reference_ap

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def official():
    module = load_reference()
    if module is None:
        pytest.skip("reference absent: python -m vidlab.evaluation.localization.reference --fetch")
    return module


def scene(seed: int, quantized: bool) -> tuple[SegmentTable, SegmentTable]:
    """Ground truth of 12 videos and 5 classes, and predictions near it: jittered copies,
    duplicates, wrong labels, videos without ground truth and labels outside the classes.
    `quantized` rounds times and scores so that tIoU and score ties are frequent."""
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(5)]
    gv, gs, gl = [], [], []
    for v in range(12):
        t = 0.0
        for _ in range(rng.integers(1, 5)):
            t += rng.uniform(2, 20)
            length = rng.uniform(3, 25)
            gv.append(f"v{v}")
            gs.append((t, t + length))
            gl.append(classes[rng.integers(5)])
            t += length
    gs = np.array(gs)
    pv, ps, pl = [], [], []
    for i in rng.integers(0, len(gv), 300):
        start, end = gs[i] + rng.normal(0, 0.15 * (gs[i, 1] - gs[i, 0]), 2)
        pv.append(gv[i] if rng.random() > 0.05 else "no_gt_video")
        ps.append((min(start, end), max(start, end)))
        pl.append(gl[i] if rng.random() > 0.2 else rng.choice([*classes, "not_a_class"]))
    ps = np.array(ps)
    scores = rng.uniform(size=len(pv))
    if quantized:
        ps, scores = np.round(ps), np.round(scores * 4) / 4
        gs = np.round(gs)
        gs[:, 1] = np.maximum(gs[:, 1], gs[:, 0] + 1)
        ps[:, 1] = np.maximum(ps[:, 1], ps[:, 0] + 1)
    return SegmentTable.from_rows(gv, gs, gl), SegmentTable.from_rows(pv, ps, pl, scores)


@pytest.mark.parametrize("quantized", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_the_official_code(official, seed, quantized):
    gt, pred = scene(seed, quantized)
    thresholds = [*THUMOS14_TIOU, *ACTIVITYNET_TIOU]
    ours = evaluate_localization(gt, pred, thresholds)
    classes, ap = reference_ap(official, gt, pred, thresholds)
    assert ours.classes == classes
    assert 0.05 < ours.average_mAP < 0.95  # a scene where matching decisions matter
    np.testing.assert_allclose(ours.ap, ap, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.mAP, ap.mean(axis=1), rtol=0, atol=1e-9)
