"""Tiny scenarios whose CLEAR / Identity / HOTA values are derived by hand in each test.

Boxes are (x, y, w, h). Unless a test says otherwise ground-truth rows are pedestrians (class 1)
with the consider flag 1, tracker boxes coincide exactly with ground truth (IoU = 1), and the
formulas are the published ones:

    MOTA = (TP - FP - IDSW) / GT          IDF1 = IDTP / (IDTP + 0.5 IDFP + 0.5 IDFN)
    DetA = TP / (TP + FN + FP)            AssA = sum over matches of A(c) / TP,
    A(c) = TPA / (TPA + FNA + FPA) = n(g,t) / (|g| + |t| - n(g,t)) for the match's id pair.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

NUM_ALPHAS = 19
BOX = (0.0, 0.0, 10.0, 20.0)
FAR = (300.0, 300.0, 10.0, 20.0)


def gt_row(frame: int, gid: int, box=BOX, consider: int = 1, cls: int = 1) -> tuple:
    return (frame, gid, *box, consider, cls, 1.0)


def tr_row(frame: int, tid: int, box=BOX) -> tuple:
    return (frame, tid, *box, 1.0, -1, -1)


def test_perfect_tracking(score_one) -> None:
    second = (100.0, 20.0, 20.0, 40.0)
    gt = [gt_row(f, 1) for f in (1, 2, 3)] + [gt_row(f, 2, second) for f in (1, 2, 3)]
    res = [tr_row(f, 7) for f in (1, 2, 3)] + [tr_row(f, 9, second) for f in (1, 2, 3)]
    m = score_one(gt, res, num_frames=3)
    for field in ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "CLR_Re", "CLR_Pr"):
        assert m[field] == 1.0, field
    assert (m["CLR_TP"], m["CLR_FN"], m["CLR_FP"], m["IDSW"], m["Frag"]) == (6, 0, 0, 0, 0)
    assert (m["MT"], m["PT"], m["ML"], m["IDTP"]) == (2, 0, 0, 6)
    assert (m["GT_IDs"], m["IDs"], m["GT_Dets"], m["Dets"]) == (2, 2, 6, 6)
    assert m["HOTA_per_alpha"] == [1.0] * NUM_ALPHAS


def test_one_id_switch(score_one) -> None:
    # One person over 4 frames, tracked as id 5 then id 6.
    gt = [gt_row(f, 1) for f in (1, 2, 3, 4)]
    res = [tr_row(1, 5), tr_row(2, 5), tr_row(3, 6), tr_row(4, 6)]
    m = score_one(gt, res, num_frames=4)
    assert (m["CLR_TP"], m["CLR_FN"], m["CLR_FP"], m["IDSW"], m["Frag"]) == (4, 0, 0, 1, 0)
    assert m["MOTA"] == pytest.approx((4 - 0 - 1) / 4)
    assert m["MODA"] == 1.0
    # Identity: gt 1 can be paired with id 5 or id 6, each covering 2 of its 4 boxes.
    assert (m["IDTP"], m["IDFN"], m["IDFP"]) == (2, 2, 2)
    assert m["IDF1"] == pytest.approx(2 / (2 + 1 + 1))
    # HOTA: every match is a TP at every alpha; both id pairs have n=2, |g|=4, |t|=2.
    ass_a = (2 * 2 / (4 + 2 - 2) + 2 * 2 / (4 + 2 - 2)) / 4
    assert m["DetA"] == 1.0
    assert m["AssA"] == pytest.approx(ass_a)  # 0.5
    assert m["AssRe"] == pytest.approx((2 * 2 / 4 + 2 * 2 / 4) / 4)  # 0.5
    assert m["AssPr"] == pytest.approx((2 * 2 / 2 + 2 * 2 / 2) / 4)  # 1.0
    assert m["HOTA"] == pytest.approx(math.sqrt(1.0 * ass_a))


@pytest.mark.parametrize("new_id_after_gap", [False, True])
def test_track_interrupted_for_one_frame(score_one, new_id_after_gap: bool) -> None:
    # One person over 5 frames; the tracker misses frame 3 (and has a box elsewhere then, so
    # frame 3 counts as evaluated for fragmentation) and resumes with the same or a new id.
    gt = [gt_row(f, 1) for f in range(1, 6)]
    later = 6 if new_id_after_gap else 5
    res = [tr_row(1, 5), tr_row(2, 5), tr_row(3, 9, FAR), tr_row(4, later), tr_row(5, later)]
    m = score_one(gt, res, num_frames=5)
    idsw = 1 if new_id_after_gap else 0
    assert (m["CLR_TP"], m["CLR_FN"], m["CLR_FP"], m["IDSW"], m["Frag"]) == (4, 1, 1, idsw, 1)
    assert m["MOTA"] == pytest.approx((4 - 1 - idsw) / 5)
    # Tracked 4/5 = 0.8 of its life: not more than 80%, so partially tracked.
    assert (m["MT"], m["PT"], m["ML"]) == (0, 1, 0)
    assert m["FP_per_frame"] == pytest.approx(1 / 5)
    idtp = 2 if new_id_after_gap else 4
    assert (m["IDTP"], m["IDFN"], m["IDFP"]) == (idtp, 5 - idtp, 5 - idtp)
    assert m["IDF1"] == pytest.approx(idtp / (idtp + 0.5 * (5 - idtp) + 0.5 * (5 - idtp)))
    det_a = 4 / (4 + 1 + 1)
    if new_id_after_gap:  # two id pairs, n=2 each, |g|=5, |t|=2
        ass_a = (2 * 2 / (5 + 2 - 2)) * 2 / 4
    else:  # one id pair, n=4, |g|=5, |t|=4
        ass_a = 4 * 4 / (5 + 4 - 4) / 4
    assert m["DetA"] == pytest.approx(det_a)
    assert m["AssA"] == pytest.approx(ass_a)
    assert m["HOTA"] == pytest.approx(math.sqrt(det_a * ass_a))


def test_empty_ground_truth(score_one) -> None:
    res = [tr_row(1, 1), tr_row(2, 1), tr_row(2, 2, FAR)]
    m = score_one([], res, num_frames=2)
    assert (m["CLR_TP"], m["CLR_FP"], m["IDFP"], m["Dets"], m["GT_Dets"]) == (0, 3, 3, 3, 0)
    assert m["HOTA_FP"] == 3.0 and m["HOTA"] == 0.0 and m["IDF1"] == 0.0
    # TrackEval's convention for a sequence without ground truth: ratios are 0 (not -inf),
    # MLR is 1, no frame is counted, and LocA of no match is 1.
    assert (m["MOTA"], m["MODA"], m["MLR"], m["CLR_Frames"], m["LocA"]) == (0.0, 0.0, 1.0, 0, 1.0)


def test_empty_tracker_output(score_one) -> None:
    gt = [gt_row(1, 1), gt_row(2, 1), gt_row(1, 2, FAR), gt_row(2, 2, FAR)]
    m = score_one(gt, [], num_frames=2)
    assert (m["CLR_FN"], m["ML"], m["IDFN"], m["HOTA_FN"], m["GT_IDs"]) == (4, 2, 4, 4.0, 2)
    assert (m["MOTA"], m["MLR"], m["HOTA"], m["DetRe"], m["IDF1"], m["IDR"]) == (0, 1, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("cls", "consider", "benchmark", "removed"),
    [
        (7, 0, "MOT17", True),  # static person: a distractor
        (8, 0, "MOT17", True),  # distractor
        (2, 0, "MOT16", True),  # person on vehicle
        (12, 0, "MOT17", True),  # reflection
        (6, 0, "MOT17", False),  # non-MOT vehicle: only a distractor in MOT20 ...
        (6, 0, "MOT20", True),  # ... where it is
        (3, 0, "MOT17", False),  # car: not a distractor, the box stays a false positive
        (1, 0, "MOT17", False),  # zero-marked pedestrian: ignored gt, box stays a FP
    ],
)
def test_distractor_matched_boxes_are_removed(score_one, cls, consider, benchmark, removed) -> None:
    other = (100.0, 0.0, 10.0, 20.0)
    gt = [gt_row(1, 1), gt_row(1, 2, other, consider=consider, cls=cls)]
    res = [tr_row(1, 1), tr_row(1, 2, other)]
    m = score_one(gt, res, num_frames=1, benchmark=benchmark)
    assert m["GT_Dets"] == 1  # only the considered pedestrian is ground truth
    assert m["CLR_TP"] == 1
    assert (m["Dets"], m["CLR_FP"]) == ((1, 0) if removed else (2, 1))
    assert m["MOTA"] == (1.0 if removed else 0.0)


def test_distractor_overlapping_less_than_half_keeps_the_box(score_one) -> None:
    # Shifted by half its width: IoU = (5 * 20) / (2 * 200 - 100) = 1/3 < 0.5.
    gt = [gt_row(1, 1), gt_row(1, 2, (100.0, 0.0, 10.0, 20.0), consider=0, cls=7)]
    res = [tr_row(1, 1), tr_row(1, 2, (105.0, 0.0, 10.0, 20.0))]
    assert score_one(gt, res, num_frames=1)["CLR_FP"] == 1


def test_mot15_ignores_classes_but_drops_zero_marked_gt(score_one) -> None:
    # MOT15 gt has ten columns and no classes: nothing is a distractor.
    gt = [(1, 1, *BOX, 1, -1, -1, -1), (1, 2, *FAR, 0, -1, -1, -1)]
    res = [tr_row(1, 1), tr_row(1, 2, FAR)]
    m = score_one(gt, res, num_frames=1, benchmark="MOT15")
    assert (m["GT_Dets"], m["Dets"], m["CLR_TP"], m["CLR_FP"]) == (1, 2, 1, 1)


def test_localisation_threshold_per_alpha(score_one) -> None:
    # IoU = (10 * 4.2) / 100 = 0.42: below CLEAR's and Identity's 0.5, but a HOTA match for the
    # 8 alphas 0.05 ... 0.40 and not for the 11 alphas 0.45 ... 0.95.
    gt = [gt_row(1, 1, (0.0, 0.0, 10.0, 10.0))]
    res = [tr_row(1, 1, (0.0, 0.0, 10.0, 4.2))]
    m = score_one(gt, res, num_frames=1)
    assert (m["CLR_TP"], m["CLR_FN"], m["CLR_FP"], m["IDTP"]) == (0, 1, 1, 0)
    assert m["MOTA"] == -1.0
    assert m["HOTA_TP_per_alpha"] == [1.0] * 8 + [0.0] * 11
    assert m["HOTA_per_alpha"] == [1.0] * 8 + [0.0] * 11
    assert m["HOTA"] == pytest.approx(8 / 19)
    # LocA: mean IoU of the matches, 1 where there are none.
    np.testing.assert_allclose(m["LocA_per_alpha"], [0.42] * 8 + [1.0] * 11, rtol=1e-12)
    assert m["LocA"] == pytest.approx((8 * 0.42 + 11) / 19)


def test_matching_prefers_continuing_the_previous_match(score_one) -> None:
    # Frame 1: tracker 5 sits on the person. Frame 2: tracker 6 fits better (IoU 1) but
    # tracker 5 still overlaps enough (IoU 2/3); CLEAR keeps 5 (no switch), counting 6 as a FP.
    gt = [gt_row(1, 1), gt_row(2, 1)]
    res = [tr_row(1, 5), tr_row(2, 5, (0.0, 4.0, 10.0, 20.0)), tr_row(2, 6)]
    m = score_one(gt, res, num_frames=2)
    assert (m["CLR_TP"], m["CLR_FP"], m["IDSW"]) == (2, 1, 0)
    assert m["MOTP"] == pytest.approx((1 + 16 / 24) / 2)
