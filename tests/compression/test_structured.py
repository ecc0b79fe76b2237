"""Structured channel pruning: fewer params and FLOPs, same output shape, and a checkpoint that
rebuilds from config + stored structure + weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidlab.checkpoint import load_network
from vidlab.compression.structured import prune_channels
from vidlab.models.complexity import count_complexity
from vidlab.models.structure import STRUCTURE_META_KEY, apply_layer_shapes, layer_shapes
from vidlab.models.x3d import X3D
from vidlab.tasks import train
from vidlab.tasks.common import classifier_from_checkpoint

CLIP = (2, 3, 4, 32, 32)  # (B, 3, T, H, W)


def _tiny_x3d() -> X3D:
    torch.manual_seed(0)
    return X3D(
        num_classes=4,
        num_frames=4,
        crop_size=32,
        width_factor=1.0,
        depth_factor=0.5,
        head_dim_out=32,
    )


def test_prune_channels_lowers_cost_and_keeps_output_shape():
    net = _tiny_x3d().eval()
    clip = torch.randn(CLIP)
    before = count_complexity(net, clip[:1])
    result = prune_channels(net, clip, ratio=0.5)
    after = count_complexity(net, clip[:1])
    assert result.params_before == before.params and result.params_after == after.params
    assert after.params < 0.5 * before.params  # half the channels on both sides of most layers
    assert after.gflops < 0.5 * before.gflops
    assert net(clip).shape == (2, 4)
    head = net.blocks[-1].proj
    assert head.out_features == 4 and net.num_features == head.in_features < 32
    # Depthwise convolutions stay depthwise; SE blocks shrink with their block.
    block = net.blocks[1].res_blocks[0].branch2
    assert block.conv_b.groups == block.conv_b.in_channels == block.conv_b.out_channels == 18
    assert block.norm_b[1].block[0].in_channels == 18


def test_structure_rebuilds_pruned_network_exactly():
    net = _tiny_x3d().eval()
    prune_channels(net, torch.randn(CLIP), ratio=0.5)
    fresh = apply_layer_shapes(_tiny_x3d(), layer_shapes(net))
    fresh.load_state_dict(net.state_dict())  # strict: every shape matches
    clip = torch.randn(CLIP)
    assert torch.equal(fresh.eval()(clip), net(clip))
    with pytest.raises(KeyError, match="blocks.9"):
        apply_layer_shapes(_tiny_x3d(), {"blocks.9.conv": {"in_channels": 1}})


def test_prune_and_finetune_run_saves_a_rebuildable_checkpoint(make_cfg, short_run, make_teacher):
    init = make_teacher([])  # a tiny model checkpoint of the student's own config
    cfg = make_cfg(
        "train",
        [
            *short_run,
            "callbacks=prune_structured",
            f"callbacks.prune_structured.init_ckpt={init}",
            "model.net.width_factor=1.0",
            "model.net.head_dim_out=48",
            "validate=false",
            "test=false",
        ],
    )
    train.run(cfg)
    out = Path(cfg.paths.output_dir)
    report = json.loads((out / "structured_pruning.json").read_text())
    assert report["params_after"] < report["params_before"]
    assert report["gflops_after"] < report["gflops_before"]
    module, meta = classifier_from_checkpoint(out / "checkpoints" / "best.ckpt")
    assert STRUCTURE_META_KEY in meta
    assert sum(p.numel() for p in module.parameters()) == report["params_after"]
    assert module(torch.randn(CLIP)).shape == (2, 4)
    # The export stage rebuilds the same pruned network from the checkpoint alone.
    net, _ = load_network(out / "checkpoints" / "best.ckpt")
    assert sum(p.numel() for p in net.parameters()) == report["params_after"]
