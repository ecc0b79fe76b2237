"""The synthetic action dataset needs temporal modelling: the proof.

On ``experiment=synthetic_direction`` (no single frame carries the label), the frame-level 2D
baseline (per-frame ResNet, logits averaged over frames) and the synthetic X3D are trained the same
way (same data, schedule, epochs and seed; only the `model` group differs). The frame model must
stay within 10 points of chance, while the 3D model clears 90%.

Each run takes about 5 minutes on 2 cores, hence `slow` (CI runs the slow tests).
"""

from __future__ import annotations

import pytest

from vidlab.tasks import train

# The experiment's data and schedule as `python train.py experiment=synthetic_direction` runs it.
EXPERIMENT = ["experiment=synthetic_direction", "trainer.accelerator=cpu", "test=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """val top-1 of the 3D model and of the frame baseline, and the number of classes."""
    from conftest import compose_config

    root = tmp_path_factory.mktemp("temporal")
    results = {}
    for name, overrides in (("x3d", []), ("frame2d", ["model=frame2d_synthetic"])):
        cfg = compose_config("train", [*EXPERIMENT, *overrides], root / name)
        results[name] = train.run(cfg)["val/top1"]
        results["num_classes"] = cfg.data.num_classes
    return results


@pytest.mark.slow
def test_frame_baseline_stays_near_chance(trained):
    chance = 1.0 / trained["num_classes"]
    assert trained["frame2d"] <= chance + 0.10, trained


@pytest.mark.slow
def test_3d_model_clears_ninety_percent(trained):
    assert trained["x3d"] >= 0.90, trained
