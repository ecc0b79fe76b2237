"""PySlowFast's native checkpoint layout (``model_state`` with ``s1.pathway0_stem...`` keys) loads
into the pytorchvideo-named X3D and SlowFast models.

The fake PySlowFast checkpoints are written from our models by the inverse renaming, spelled out
here independently of `vidlab.models.weights` in PySlowFast's module names (ResNet stage sK,
`pathwayP_resI`, `branch2.a` / `a_bn`, `se.fc1`, `sK_fuse.conv_f2s`, X3D head `conv_5` / `lin_5`).
"""

from __future__ import annotations

import re

import pytest
import torch

from vidlab.models.registry import create_model
from vidlab.models.weights import load_pretrained

# pytorchvideo block part -> PySlowFast block part
BLOCK_PARTS = {
    "branch1_conv": "branch1",
    "branch1_norm": "branch1_bn",
    "branch2.conv_a": "branch2.a",
    "branch2.norm_a": "branch2.a_bn",
    "branch2.conv_b": "branch2.b",
    "branch2.norm_b.0": "branch2.b_bn",
    "branch2.norm_b": "branch2.b_bn",
    "branch2.norm_b.1.block.0": "branch2.se.fc1",
    "branch2.norm_b.1.block.2": "branch2.se.fc2",
    "branch2.conv_c": "branch2.c",
    "branch2.norm_c": "branch2.c_bn",
}
X3D_NAMES = {
    "blocks.0.conv.conv_t": "s1.pathway0_stem.conv_xy",  # spatial 1x3x3
    "blocks.0.conv.conv_xy": "s1.pathway0_stem.conv",  # depthwise temporal 5x1x1
    "blocks.0.norm": "s1.pathway0_stem.bn",
    "blocks.5.pool.pre_conv": "head.conv_5",
    "blocks.5.pool.pre_norm": "head.conv_5_bn",
    "blocks.5.pool.post_conv": "head.lin_5",
    "blocks.5.proj": "head.projection",
}


def _res_name(stage: int, pathway: int, index: int, part: str) -> str:
    return f"s{stage + 1}.pathway{pathway}_res{index}.{BLOCK_PARTS[part]}"


def to_pyslowfast(name: str) -> str:
    """Our (pytorchvideo) parameter name -> the PySlowFast name."""
    module, _, leaf = name.rpartition(".")
    if module in X3D_NAMES:
        return f"{X3D_NAMES[module]}.{leaf}"
    if m := re.fullmatch(r"blocks\.(\d)\.res_blocks\.(\d+)\.(.+)", module):  # X3D stages
        return f"{_res_name(int(m[1]), 0, int(m[2]), m[3])}.{leaf}"
    if m := re.fullmatch(
        r"blocks\.(\d)\.multipathway_blocks\.(\d)\.res_blocks\.(\d+)\.(.+)", module
    ):
        return f"{_res_name(int(m[1]), int(m[2]), int(m[3]), m[4])}.{leaf}"
    if m := re.fullmatch(r"blocks\.0\.multipathway_blocks\.(\d)\.(conv|norm)", module):
        return f"s1.pathway{m[1]}_stem.{'conv' if m[2] == 'conv' else 'bn'}.{leaf}"
    if m := re.fullmatch(r"blocks\.(\d)\.multipathway_fusion\.(conv_fast_to_slow|norm)", module):
        part = "conv_f2s" if m[2] == "conv_fast_to_slow" else "bn"
        return f"s{int(m[1]) + 1}_fuse.{part}.{leaf}"
    if m := re.fullmatch(r"blocks\.6\.proj", module):
        return f"head.projection.{leaf}"
    raise AssertionError(f"no PySlowFast name for {name}")


def _write_pyslowfast(model: torch.nn.Module, path, extra: dict[str, torch.Tensor]) -> dict:
    gen = torch.Generator().manual_seed(0)
    state = {}
    for name, value in model.state_dict().items():
        # Distinct values per tensor so a swapped assignment cannot go unnoticed.
        fake = (
            torch.randn(value.shape, generator=gen)
            if value.is_floating_point()
            else value.clone() + 7
        )
        state[to_pyslowfast(name)] = fake
    state.update(extra)
    torch.save({"model_state": state, "epoch": 300, "optimizer_state": {}, "cfg": "X3D"}, path)
    return state


def _assert_loaded(model, state):
    ours = model.state_dict()
    for name, value in ours.items():
        torch.testing.assert_close(value, state[to_pyslowfast(name)], msg=name)


def test_x3d_pyslowfast_checkpoint_loads_every_tensor(tmp_path):
    source = create_model("x3d_xs", num_classes=400)
    # PySlowFast keeps a BatchNorm on stage 2's shortcut that pytorchvideo's X3D lacks.
    extra = {f"s2.pathway0_res0.branch1_bn.{k}": torch.ones(24) for k in ("weight", "bias")}
    state = _write_pyslowfast(source, tmp_path / "x3d_xs.pyth", extra)
    for known in (
        "s1.pathway0_stem.conv_xy.weight",
        "s2.pathway0_res0.branch2.a.weight",
        "s2.pathway0_res0.branch2.se.fc1.weight",
        "head.projection.weight",
    ):
        assert known in state  # the layout is PySlowFast's

    target = create_model("x3d_xs", num_classes=400)
    report = load_pretrained(target, tmp_path / "x3d_xs.pyth")
    assert report.missing == ()
    assert set(report.unexpected) == set(extra)
    assert len(report.loaded) == len(target.state_dict())
    _assert_loaded(target, state)


def test_x3d_pyslowfast_checkpoint_into_new_class_count(tmp_path):
    state = _write_pyslowfast(create_model("x3d_xs", num_classes=400), tmp_path / "k400.pyth", {})
    target = create_model("x3d_xs", num_classes=101)
    report = load_pretrained(target, tmp_path / "k400.pyth")
    assert set(report.dropped_classifier) == {"blocks.5.proj.weight", "blocks.5.proj.bias"}
    torch.testing.assert_close(target.blocks[5].pool.post_conv.weight, state["head.lin_5.weight"])


def test_x3d_checkpoint_into_slowfast_is_an_error(tmp_path):
    _write_pyslowfast(create_model("x3d_xs", num_classes=400), tmp_path / "x3d.pyth", {})
    with pytest.raises(ValueError, match="architecture"):
        load_pretrained(create_model("slowfast_r50_8x8", num_classes=400), tmp_path / "x3d.pyth")


@pytest.mark.slow
def test_slowfast_pyslowfast_checkpoint_loads_every_tensor(tmp_path):
    source = create_model("slowfast_r50_8x8", num_classes=400)
    state = _write_pyslowfast(source, tmp_path / "sf.pyth", {})
    for known in (
        "s1.pathway1_stem.conv.weight",
        "s1_fuse.conv_f2s.weight",
        "s5.pathway1_res2.branch2.c_bn.running_var",
        "head.projection.bias",
    ):
        assert known in state
    target = create_model("slowfast_r50_8x8", num_classes=400)
    report = load_pretrained(target, tmp_path / "sf.pyth")
    assert report.missing == () and report.unexpected == ()
    _assert_loaded(target, state)
