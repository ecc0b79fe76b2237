"""Step schedules, fine-tuning optimizer groups and lr scaling of vidlab.optim."""

from __future__ import annotations

import functools

import pytest
import torch

from vidlab.models.timesformer import create_timesformer
from vidlab.optim import FinetuneOptimizer, linear_scaled_lr, steps_with_warmup


def _lrs(scheduler, optimizer, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_steps_follow_timesformer_schedule():
    # 15 "epochs" of one step: lr x0.1 from epoch 11, x0.01 from epoch 14 (0-based step index).
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.005)
    scheduler = steps_with_warmup(
        optimizer, total_steps=15, milestones=[11 / 15, 14 / 15], factors=[0.1, 0.01]
    )
    expected = [0.005] * 11 + [0.0005] * 3 + [0.00005]
    assert _lrs(scheduler, optimizer, 15) == pytest.approx(expected)


def test_steps_warmup_ramps_linearly():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = steps_with_warmup(
        optimizer,
        total_steps=10,
        milestones=[0.5],
        factors=[0.1],
        warmup_fraction=0.4,
        start_factor=0.2,
    )
    assert _lrs(scheduler, optimizer, 6) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 0.1])


def test_steps_reject_unsorted_milestones():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="milestones"):
        steps_with_warmup(optimizer, total_steps=10, milestones=[0.8, 0.5], factors=[0.1, 0.01])


def test_layer_decay_groups_for_timesformer():
    net = create_timesformer(
        num_classes=3, num_frames=2, crop_size=32, embed_dim=32, depth=3, num_heads=2
    )
    factory = functools.partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.05)
    optimizer = FinetuneOptimizer(factory, net, layer_decay=0.5)(None)
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    assert lr_of[id(net.head.weight)] == pytest.approx(1e-3)
    # 3 blocks: block i gets 0.5 ** (3 + 1 - (i + 1)); embeddings 0.5 ** 4.
    for i, block in enumerate(net.blocks):
        assert lr_of[id(next(block.parameters()))] == pytest.approx(1e-3 * 0.5 ** (3 - i))
    assert lr_of[id(net.cls_token)] == pytest.approx(1e-3 * 0.5**4)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(net.parameters()))


def test_finetune_optimizer_needs_lr():
    with pytest.raises(ValueError, match="lr"):
        FinetuneOptimizer(functools.partial(torch.optim.SGD), torch.nn.Linear(2, 2))


def test_linear_scaling_rule():
    # X3D: lr 0.1 at batch 128; 2 GPUs x 16 clips x 2 accumulated batches = 64 -> 0.05.
    assert linear_scaled_lr(0.1, 128, 2 * 16 * 2) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="batch"):
        linear_scaled_lr(0.1, 0, 16)
