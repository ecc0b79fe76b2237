"""Optical flow: known shifts recovered by DIS and Farneback, RAFT from a local state_dict, the
stored chunks read back, and the colour wheel."""

from __future__ import annotations

import numpy as np
import pytest

from vidlab.data.io.flow_store import FLOW_UNIT, read_clip_flow, read_flow
from vidlab.errors import UserError
from vidlab.video.flow import (
    DISFlow,
    FarnebackFlow,
    RaftFlow,
    build_flow,
    flow_to_color,
    magnitude_stats,
)
from vidlab.video.flow_video import _ChunkWriter

SHIFT = (3, -2)  # (dx, dy) pixels


def _shifted_pair(h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and the same texture moved by SHIFT (content moves right/up)."""
    import cv2

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 20, w + 20, 3)).astype(np.float32), (0, 0), 2)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    dx, dy = SHIFT
    first = big[10 : 10 + h, 10 : 10 + w]
    second = big[10 - dy : 10 - dy + h, 10 - dx : 10 - dx + w]
    return np.ascontiguousarray(first), np.ascontiguousarray(second)


@pytest.mark.parametrize(
    "estimator", [DISFlow("medium"), FarnebackFlow()], ids=["dis", "farneback"]
)
def test_classical_flow_recovers_a_known_shift(estimator) -> None:
    first, second = _shifted_pair()
    flow = estimator(first, second)
    assert flow.shape == (*first.shape[:2], 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16].reshape(-1, 2)
    assert np.median(inner, axis=0) == pytest.approx(SHIFT, abs=0.3)
    mean, p95 = magnitude_stats(flow)
    assert mean == pytest.approx(np.hypot(*SHIFT), abs=0.5) and p95 >= mean * 0.9


def test_raft_loads_a_local_state_dict(tmp_path) -> None:
    import torch
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    path = tmp_path / "raft_small.pt"
    torch.save(raft_small(weights=None).state_dict(), path)
    estimator = build_flow("raft_small", weights=path, num_flow_updates=2)
    assert isinstance(estimator, RaftFlow)
    reference = raft_small(weights=None)
    reference.load_state_dict(torch.load(path, weights_only=True))
    for key, value in reference.state_dict().items():  # the file's weights, not a new init
        assert torch.equal(value, estimator.model.state_dict()[key])
    first, second = _shifted_pair(36, 52)  # not a multiple of 8: padded, then cropped back
    flow = estimator(first, second)
    assert flow.shape == (36, 52, 2) and np.isfinite(flow).all()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="bad.pt"):
        build_flow("raft_small", weights=bad)
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(RuntimeError, match="state_dict"):
        build_flow("raft_small", weights=bad)
    with pytest.raises(UserError, match="flow.method"):
        build_flow("pwcnet")


def test_flow_chunks_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(1)
    flows = rng.uniform(-20, 20, (5, 6, 8, 2)).astype(np.float32)
    writer = _ChunkWriter(tmp_path, size=2)
    for i, f in enumerate(flows):
        writer.add(10 + i, i / 25, f)
    writer.close()
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [
        "flow_0000010.npz", "flow_0000012.npz", "flow_0000014.npz",
    ]  # fmt: skip
    back = read_flow(tmp_path, [14, 10, 11])
    np.testing.assert_allclose(back, flows[[4, 0, 1]], atol=FLOW_UNIT / 2 + 1e-6)
    with pytest.raises(FileNotFoundError, match="frame 9"):
        read_flow(tmp_path, [9])
    clip = read_clip_flow(tmp_path, [13, 14, 15])  # 15: the last frame has no flow after it
    assert clip.shape == (2, 3, 6, 8)
    np.testing.assert_allclose(clip[:, 2], clip[:, 1])
    np.testing.assert_allclose(clip[:, 0], flows[3].transpose(2, 0, 1), atol=FLOW_UNIT)


def test_color_wheel() -> None:
    flow = np.zeros((4, 4, 2), np.float32)
    flow[0, 0] = (5, 0)
    flow[1, 1] = (0, 5)
    image = flow_to_color(flow)
    assert image.shape == (4, 4, 3) and image.dtype == np.uint8
    assert image[3, 3].max() == 0  # no motion: black
    assert image[0, 0].max() == 255 and not np.array_equal(image[0, 0], image[1, 1])
