"""`build_classifier` options: torch.compile and fine-tuning (frozen BN, backbone lr)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import open_dict

from vidlab.tasks.common import build_classifier

TINY = [
    "data.num_frames=4",
    "data.crop_size=32",
    "model.net.depth_factor=0.5",
    "model.net.width_factor=0.5",
    "model.net.head_dim_out=32",
]


def test_finetune_freezes_bn_and_lowers_backbone_lr(make_cfg, tmp_path):
    cfg = make_cfg("train", TINY)
    source = build_classifier(cfg).net
    torch.save({"model_state": source.state_dict()}, tmp_path / "src.pyth")
    with open_dict(cfg):
        cfg.finetune = {
            "pretrained": str(tmp_path / "src.pyth"),
            "backbone_lr_mult": 0.1,
            "freeze_bn_stats": True,
        }
    module = build_classifier(cfg)
    torch.testing.assert_close(
        module.net.blocks[0].norm.running_var, source.blocks[0].norm.running_var
    )
    module.train()
    bns = [m for m in module.net.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert bns and not any(bn.training for bn in bns)
    before = bns[0].running_mean.clone()
    module(torch.randn(2, 3, 4, 32, 32) * 5 + 3)
    torch.testing.assert_close(bns[0].running_mean, before)  # statistics did not move
    optimizer = module.optimizer_factory(None)
    head = {id(p) for p in module.net.blocks[-1].proj.parameters()}
    lr = cfg.optimizer.lr
    for group in optimizer.param_groups:
        expected = lr if id(group["params"][0]) in head else lr * 0.1
        assert group["lr"] == pytest.approx(expected)


@pytest.mark.slow
def test_compile_keeps_parameter_names_and_outputs(make_cfg):
    # Dynamo's capture with the eager backend: the wiring, without minutes of inductor codegen.
    cfg = make_cfg("train", TINY)
    torch.manual_seed(0)
    eager = build_classifier(cfg).eval()
    with open_dict(cfg):
        cfg.compile = {"backend": "eager"}
    torch.manual_seed(0)
    compiled = build_classifier(cfg).eval()
    assert list(compiled.state_dict()) == list(eager.state_dict())
    assert hasattr(compiled.net, "_compiled_call_impl") and compiled.net._compiled_call_impl
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(compiled(clip), eager(clip), rtol=1e-4, atol=1e-4)
