"""Unstructured pruning: the cubic schedule, L1 masks, and a short run whose saved checkpoint is
plain, permanent and as sparse as scheduled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from vidlab.checkpoint import load_checkpoint
from vidlab.compression.pruning import (
    apply_sparsity,
    cubic_sparsity,
    plain_state_dict,
    prunable_layers,
    sparsity_report,
)
from vidlab.tasks import train
from vidlab.tasks.common import classifier_from_checkpoint


def test_cubic_schedule_by_hand():
    kwargs = {"final": 0.8, "start_step": 10, "end_step": 30}
    assert cubic_sparsity(0, **kwargs) == 0.0
    assert cubic_sparsity(10, **kwargs) == pytest.approx(0.0)
    # halfway: 0.8 - 0.8 * 0.5 ** 3
    assert cubic_sparsity(20, **kwargs) == pytest.approx(0.7)
    assert cubic_sparsity(30, **kwargs) == pytest.approx(0.8)
    assert cubic_sparsity(99, **kwargs) == pytest.approx(0.8)
    ramp = [cubic_sparsity(s, **kwargs) for s in range(10, 31)]
    assert all(b >= a for a, b in zip(ramp, ramp[1:], strict=False))


def test_per_layer_and_global_l1_masks_nest():
    net = nn.Sequential(nn.Conv3d(3, 8, 3), nn.Conv3d(8, 8, 1), nn.Linear(5, 4))
    layers = prunable_layers(net, ("Conv3d", "Linear"))
    apply_sparsity(layers, 0.5, "layer")
    first_zeros = [(m.weight == 0).clone() for _, m in layers]
    rows = sparsity_report(layers)
    for row, (_, m) in zip(rows, layers, strict=False):
        assert row.zeros == round(0.5 * m.weight.numel())
        # the kept weights are the largest by magnitude
        kept = m.weight[m.weight != 0].abs().min()
        assert kept >= m.weight_orig[m.weight == 0].abs().max()
    apply_sparsity(layers, 0.75, "global")
    rows = sparsity_report(layers)
    assert rows[-1].zeros == round(0.75 * rows[-1].numel)
    for before, (_, m) in zip(first_zeros, layers, strict=True):
        assert bool((m.weight[before] == 0).all())  # zeros stay zero


def test_plain_state_dict_folds_masks():
    net = nn.Sequential(nn.Linear(6, 4))
    apply_sparsity(prunable_layers(net, ("Linear",)), 0.5, "layer")
    plain = plain_state_dict(net.state_dict())
    assert set(plain) == {"0.weight", "0.bias"}
    assert torch.equal(plain["0.weight"], net[0].weight)
    fresh = nn.Sequential(nn.Linear(6, 4))
    fresh.load_state_dict(plain)  # strict: plain keys only


@pytest.mark.parametrize("scope", ["global", pytest.param("layer", marks=pytest.mark.slow)])
def test_run_reaches_scheduled_sparsity_and_saves_plain_weights(make_cfg, short_run, scope):
    sparsity = 0.6
    cfg = make_cfg(
        "train",
        [
            *short_run,
            "callbacks=prune_unstructured",
            f"callbacks.prune_unstructured.sparsity={sparsity}",
            f"callbacks.prune_unstructured.scope={scope}",
            "callbacks.prune_unstructured.end_fraction=0.5",
            "callbacks.prune_unstructured.update_every_n_steps=1",
            "validate=false",
            "test=false",
        ],
    )
    train.run(cfg)
    out = Path(cfg.paths.output_dir)
    report = json.loads((out / "sparsity_report.json").read_text())["layers"]
    total = report[-1]
    assert total["name"] == "global"
    assert total["sparsity"] == pytest.approx(sparsity, abs=1e-3)
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = load_checkpoint(out / "checkpoints" / name)
        assert not any(k.endswith(("_orig", "_mask")) for k in ckpt["state_dict"])
    module, _ = classifier_from_checkpoint(out / "checkpoints" / "best.ckpt")  # plain network
    layers = prunable_layers(module.net)
    zeros = sum(int((m.weight == 0).sum()) for _, m in layers)
    numel = sum(m.weight.numel() for _, m in layers)
    if scope == "global":
        assert zeros / numel == pytest.approx(sparsity, abs=1e-3)
    else:
        for _, m in layers:
            tolerance = 0.5 / m.weight.numel() + 1e-6  # rounding to whole weights
            assert float((m.weight == 0).float().mean()) == pytest.approx(sparsity, abs=tolerance)
    assert (out / "sparsity_report.csv").read_text().startswith("layer,numel,zeros,sparsity")
