"""Every registered zoo model offers the backbone interface (small inputs, CPU)."""

from __future__ import annotations

import pytest
import torch

from vidlab.models.registry import create_model, example_input, get_spec, list_models

# Small but valid inputs: 8 frames (SlowFast's Fast pathway; divisible by alpha = 4 and 8), 32 px
# (stride-32 networks end on a 1x1 grid). TimeSformer is ViT-Base built for 2 frames of 32 px,
# a 2x2 grid of 16-px patches.
FRAMES, CROP, BATCH = 8, 32, 2
TIMESFORMER_FRAMES = 2
# C3D's fully connected layers need a 16-frame clip (its pools halve time four times).
FRAMES_OF = {"c3d": 16}


def _build(name: str, num_classes: int):
    spec = get_spec(name)
    frames = TIMESFORMER_FRAMES if "timesformer" in name else FRAMES_OF.get(name, FRAMES)
    kwargs = {"num_frames": frames, "crop_size": CROP} if spec.sized_builder else {}
    net = create_model(name, num_classes=num_classes, **kwargs).eval()
    x = example_input(name, batch_size=BATCH, num_frames=frames, crop_size=CROP)
    return net, x


def test_registry_names_the_issue_lists():
    expected = {
        "x3d_xs",
        "x3d_s",
        "x3d_m",
        "x3d_l",
        "slowfast_r50_8x8",
        "slowfast_r50_4x16",
        "slowfast_r101_8x8",
        "timesformer_base_8x224",
        "timesformer_base_8x224_jointst",
        "timesformer_base_8x224_spaceonly",
        "r2plus1d_18",
        "r3d_18",
        "mvit_v2_s",
        "i3d_r50",
        "c2d_r50",
        "swin3d_t",
        "swin3d_s",
        "swin3d_b",
        "tsn_r50",
        "tsm_r50",
        "c3d",
    }
    assert set(list_models()) == expected


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="x3d_m") as info:
        create_model("x3d_xxl", num_classes=3)
    assert "x3d_xxl" in str(info.value)


@pytest.mark.parametrize("name", list_models())
def test_interface(name):
    torch.manual_seed(0)
    net, x = _build(name, 7)
    with torch.no_grad():
        logits = net(x)
        assert logits.shape == (BATCH, 7) and torch.isfinite(logits).all()
        feats = net.forward_features(x)
        pre = net.forward_head(feats, pre_logits=True)
        assert pre.shape == (BATCH, net.num_features) and torch.isfinite(pre).all()
        assert torch.allclose(net.forward_head(feats), logits, atol=1e-5)
        # Different clips give different logits (the network is not constant).
        other = [t.flip(-1) * 2 for t in x] if isinstance(x, list) else x.flip(-1) * 2
        assert not torch.allclose(net(other), logits)
        net.reset_classifier(3)
        assert net(x).shape == (BATCH, 3) and net.num_classes == 3
        net.reset_classifier(0)
        assert net(x).shape == (BATCH, net.num_features) and net.num_classes == 0
    names = {n for n, _ in net.named_parameters()}
    skip = net.no_weight_decay()
    assert isinstance(skip, set) and skip <= names, skip - names


def test_reset_classifier_gives_a_fresh_trainable_head():
    net, x = _build("x3d_xs", 400)
    before = {n for n, p in net.named_parameters()}
    net.reset_classifier(101)
    trainable = {n: p for n, p in net.named_parameters() if p.requires_grad}
    assert before == set(trainable)
    assert net(x).shape == (BATCH, 101)
