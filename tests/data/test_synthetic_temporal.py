"""The synthetic dataset needs temporal modelling: the 3D model learns it, a frame model cannot.

Both models are trained exactly the same way (the quickstart's data, optimizer, schedule and
epochs); only the network differs. The frame-level baseline averages per-frame logits, so it sees
the frames as an unordered set; the dataset is built so that such a set carries (almost) no
information about the class.
"""

from __future__ import annotations

import pytest

from vidlab.tasks import train

CHANCE = 1 / 8


@pytest.mark.slow
@pytest.mark.integration
def test_3d_model_learns_motion_and_frame_baseline_stays_near_chance(make_cfg, tmp_path):
    shared = ["trainer.accelerator=cpu", "test=false", "logger=csv",
              f"data.cache_dir={tmp_path / 'cache'}"]
    x3d = train.run(make_cfg("train", shared, name="x3d"))
    frames = train.run(make_cfg("train", [*shared, "experiment=synthetic_frame2d"], name="frame2d"))
    assert x3d["val/top1"] >= 0.90, x3d
    assert frames["val/top1"] <= CHANCE + 0.10, frames
