"""Batch-hard triplet and center loss on hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from vidlab.models.reid.losses import CenterLoss, batch_hard_triplet_loss, euclidean_distances


def test_euclidean_distances_match_cdist():
    x = torch.randn(6, 5)
    torch.testing.assert_close(euclidean_distances(x), torch.cdist(x, x), atol=1e-3, rtol=0)


def test_batch_hard_on_points_on_a_line():
    # Identities a at 0 and 1, b at 3 and 5. Hardest positive / negative per anchor:
    # 0: ap 1, an 3 ; 1: ap 1, an 2 ; 3: ap 2, an 2 ; 5: ap 2, an 4.
    feats = torch.tensor([[0.0], [1.0], [3.0], [5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    gaps = torch.tensor([1 - 3, 1 - 2, 2 - 2, 2 - 4], dtype=torch.float32)
    hinge = batch_hard_triplet_loss(feats, labels, margin=1.5)
    assert hinge.item() == pytest.approx(torch.relu(gaps + 1.5).mean().item(), abs=1e-5)
    soft = batch_hard_triplet_loss(feats, labels, soft_margin=True)
    assert soft.item() == pytest.approx(torch.nn.functional.softplus(gaps).mean().item(), abs=1e-5)


def test_well_separated_identities_cost_nothing_and_gradients_flow():
    feats = torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0]], requires_grad=True)
    labels = torch.tensor([3, 3, 8, 8])
    assert batch_hard_triplet_loss(feats, labels, margin=0.3).item() == 0.0
    close = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0], [1.5, 0.0]], requires_grad=True)
    loss = batch_hard_triplet_loss(close, labels, margin=0.3)
    loss.backward()
    assert loss.item() > 0 and close.grad.abs().sum() > 0


def test_anchors_without_positive_are_skipped():
    feats = torch.randn(3, 4, requires_grad=True)
    assert batch_hard_triplet_loss(feats, torch.tensor([0, 1, 2])).item() == 0.0
    only_one = batch_hard_triplet_loss(
        torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([0, 0, 1]), margin=0.0
    )
    # anchors 0 and 1 count (gaps 1-3 and 1-2, both negative -> 0); anchor 2 has no positive.
    assert only_one.item() == 0.0


def test_center_loss_is_half_squared_distance_to_the_center():
    loss = CenterLoss(num_classes=2, feat_dim=2)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    feats = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    assert loss(feats, torch.tensor([0, 1])).item() == pytest.approx((0.5 * 25 + 0) / 2)
