"""The synthetic actions with a flow input: stacked channels, flow that shows the class's motion,
and the flow cache."""

from __future__ import annotations

import numpy as np

from vidlab.data.datamodules.synthetic_flow import SyntheticFlowActionDataModule


def _module(cache_dir) -> SyntheticFlowActionDataModule:
    return SyntheticFlowActionDataModule(
        num_frames=8, crop_size=32, train_size=8, val_size=32, test_size=8, batch_size=4,
        cache_dir=cache_dir, flow_preset="medium",
    )  # fmt: skip


def test_flow_channels_follow_the_class_motion(tmp_path) -> None:
    dm = _module(tmp_path)
    dm.setup()
    val = dm.datasets["val"]
    sample = val[0]
    assert sample["video"].shape == (5, 8, 32, 32)
    # RGB channels are the plain dataset's
    from vidlab.data.datamodules.synthetic import ClipArrayDataset

    plain = ClipArrayDataset(val.videos, val.labels, dm.mean, dm.std)
    assert np.allclose(sample["video"][:3].numpy(), plain[0]["video"].numpy())
    # class = (horizontal, vertical) signs: right-down, left-down, right-up, left-up
    signs = {0: (1, 1), 1: (-1, 1), 2: (1, -1), 3: (-1, -1)}
    agree = 0
    for i in range(len(val)):
        s = val[i]
        flow = s["video"][3:].numpy()  # (2, T, H, W)
        moving = np.hypot(flow[0], flow[1]) > 0.3
        mean = flow[:, moving].mean(axis=1) if moving.any() else np.zeros(2)
        agree += tuple(np.sign(mean).astype(int)) == signs[int(s["label"])]
    assert agree >= 0.8 * len(val)
    # the flow is cached and read back, not recomputed
    caches = sorted(tmp_path.rglob("val_flow_medium_*.npy"))
    assert len(caches) == 1
    again = _module(tmp_path)
    again.setup()
    assert np.array_equal(np.asarray(again.datasets["val"].flow), np.asarray(val.flow))
