"""Pretrained-weight loading: every supported file format, remapping, errors, ViT inflation."""

from __future__ import annotations

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from vidlab.models.layers.finetune import finetune_param_groups, freeze_batchnorm_stats
from vidlab.models.resnet3d import create_i3d_r50
from vidlab.models.timesformer import create_timesformer
from vidlab.models.torchvision_models import create_r3d_18
from vidlab.models.weights import inflate_vit_into_timesformer, load_pretrained
from vidlab.models.x3d import create_x3d

CLIP = (1, 3, 4, 32, 32)


def _tiny_x3d(num_classes: int):
    return create_x3d(
        num_classes=num_classes,
        num_frames=4,
        crop_size=32,
        width_factor=0.5,
        depth_factor=0.5,
        head_dim_out=32,
    ).eval()


def _randomise_bn(model: torch.nn.Module) -> None:
    """Non-trivial BatchNorm statistics so that a failed load changes the outputs."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)


def test_pytorchvideo_zoo_checkpoint_loads_and_reproduces_outputs(tmp_path):
    torch.manual_seed(0)
    src = _tiny_x3d(5)
    _randomise_bn(src)
    path = tmp_path / "X3D_XS.pyth"
    torch.save({"model_state": src.state_dict(), "epoch": 300}, path)
    torch.manual_seed(1)
    dst = _tiny_x3d(5)
    x = torch.randn(CLIP)
    assert not torch.allclose(dst(x), src(x))
    report = load_pretrained(dst, path)
    assert report.missing == () and report.unexpected == ()
    torch.testing.assert_close(dst(x), src(x))


# pytorchvideo ResNet block index -> mmaction2 layer (block 2 is the parameter-free temporal pool).
PYTORCHVIDEO_TO_MMACTION_LAYER = {"1": 1, "3": 2, "4": 3, "5": 4}
HEAD_BLOCK = "6"
UNIT = {"conv": "conv", "norm": "bn"}


def _to_mmaction2_name(name: str) -> str:
    """mmaction2's ResNet3d / I3DHead name of a pytorchvideo ResNet parameter (test-side spec)."""
    parts = name.split(".")
    if parts[1] == "0":  # blocks.0.{conv,norm}.*
        return ".".join(["backbone", "conv1", UNIT[parts[2]], *parts[3:]])
    if parts[1] == HEAD_BLOCK:  # blocks.6.proj.*
        return ".".join(["cls_head", "fc_cls", *parts[3:]])
    layer = PYTORCHVIDEO_TO_MMACTION_LAYER[parts[1]]
    prefix = f"backbone.layer{layer}.{parts[3]}"
    if parts[4].startswith("branch1"):  # blocks.S.res_blocks.I.branch1_{conv,norm}.*
        return ".".join([prefix, "downsample", UNIT[parts[4].split("_")[1]], *parts[5:]])
    unit, letter = parts[5].split("_")  # blocks.S.res_blocks.I.branch2.{conv,norm}_{a,b,c}.*
    return ".".join([prefix, f"conv{' abc'.index(letter)}", UNIT[unit], *parts[6:]])


def test_mmaction2_i3d_checkpoint_is_remapped(tmp_path):
    torch.manual_seed(0)
    src = create_i3d_r50(num_classes=6).eval()
    _randomise_bn(src)
    state = {_to_mmaction2_name(k): v for k, v in src.state_dict().items()}
    assert all(k.startswith(("backbone.", "cls_head.")) for k in state)
    path = tmp_path / "i3d_r50_mmaction2.pth"
    torch.save({"state_dict": state, "meta": {"mmengine_version": "0.10.7"}}, path)
    dst = create_i3d_r50(num_classes=6).eval()
    report = load_pretrained(dst, path)
    assert report.missing == () and report.unexpected == ()
    x = torch.randn(1, 3, 8, 32, 32)
    torch.testing.assert_close(dst(x), src(x))


def test_torchvision_and_lightning_checkpoints(tmp_path):
    src = create_r3d_18(num_classes=4).eval()
    path = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in src.state_dict().items()}}, path)
    dst = create_r3d_18(num_classes=4).eval()
    assert load_pretrained(dst, path).missing == ()
    x = torch.randn(1, 3, 4, 32, 32)
    torch.testing.assert_close(dst(x), src(x))


def test_other_class_count_drops_only_the_classifier(tmp_path):
    src = _tiny_x3d(400)
    path = tmp_path / "k400.pyth"
    torch.save({"model_state": src.state_dict()}, path)
    dst = _tiny_x3d(101)
    report = load_pretrained(dst, path)
    assert set(report.dropped_classifier) == {"blocks.5.proj.weight", "blocks.5.proj.bias"}
    assert set(report.missing) == set(report.dropped_classifier)
    torch.testing.assert_close(dst.blocks[1].state_dict(), src.blocks[1].state_dict())


def test_wrong_architecture_is_a_clear_error(tmp_path):
    path = tmp_path / "r3d.pth"
    torch.save(create_r3d_18(num_classes=4).state_dict(), path)
    with pytest.raises(ValueError, match="does not match this model's architecture"):
        load_pretrained(_tiny_x3d(4), path)
    # Same names, other widths: a shape mismatch outside the classifier.
    path2 = tmp_path / "wide_x3d.pyth"
    wide = create_x3d(
        num_classes=4,
        num_frames=4,
        crop_size=32,
        width_factor=1.0,
        depth_factor=0.5,
        head_dim_out=32,
    )
    torch.save({"model_state": wide.state_dict()}, path2)
    with pytest.raises(ValueError, match="shape mismatches"):
        load_pretrained(_tiny_x3d(4), path2)


# Joint space-time attention is left out: on a static clip each patch key appears T times and the
# class token once, so its softmax weights differ from the image model's by construction.
@pytest.mark.parametrize(
    ("attention", "frames", "tubelet"),
    [("divided_space_time", 3, 1), ("space_only", 3, 1), ("divided_space_time", 4, 2)],
)
def test_inflated_timesformer_equals_the_image_model_on_a_static_clip(attention, frames, tubelet):
    torch.manual_seed(0)
    dims = {"embed_dim": 64, "depth": 2, "num_heads": 4}
    vit = VisionTransformer(img_size=32, patch_size=16, num_classes=5, **dims).eval()
    video = create_timesformer(
        num_classes=5,
        num_frames=frames,
        crop_size=32,
        patch_size=16,
        attention_type=attention,
        tubelet_size=tubelet,
        **dims,
    ).eval()
    report = inflate_vit_into_timesformer(video, vit.state_dict())
    assert report.unexpected == () and report.dropped_classifier == ()
    frame = torch.randn(2, 3, 32, 32)
    clip = frame[:, :, None].expand(-1, -1, frames, -1, -1)  # (B, 3, T, H, W), frames all alike
    with torch.no_grad():
        torch.testing.assert_close(video(clip), vit(frame), atol=1e-5, rtol=1e-4)
        moving = torch.randn(2, 3, frames, 32, 32)
        assert torch.isfinite(video(moving)).all()


def test_joint_attention_inflation_loads_every_vit_tensor():
    dims = {"embed_dim": 32, "depth": 1, "num_heads": 2}
    vit = VisionTransformer(img_size=32, patch_size=16, num_classes=3, **dims)
    video = create_timesformer(
        num_classes=3,
        num_frames=2,
        crop_size=32,
        patch_size=16,
        attention_type="joint_space_time",
        **dims,
    )
    report = inflate_vit_into_timesformer(video, vit.state_dict())
    assert report.missing == ("time_embed",) and report.unexpected == ()


def test_inflation_into_a_conv_stem_reports_the_stem_and_loads_the_blocks():
    torch.manual_seed(0)
    dims = {"embed_dim": 32, "depth": 2, "num_heads": 2}
    vit = VisionTransformer(img_size=32, patch_size=16, num_classes=3, **dims)
    video = create_timesformer(
        num_classes=3,
        num_frames=4,
        crop_size=32,
        patch_size=16,
        tubelet_size=2,
        stem_width=4,
        **dims,
    )
    report = inflate_vit_into_timesformer(video, vit.state_dict())
    assert set(report.unexpected) == {"patch_embed.proj.weight", "patch_embed.proj.bias"}
    stem = [k for k in report.missing if k.startswith("patch_embed.proj.")]
    assert len(stem) == len([k for k in video.state_dict() if k.startswith("patch_embed.proj.")])
    # Besides the stem only the parts the inflation keeps at zero are missing.
    assert all(
        k.startswith("patch_embed.proj.") or "temporal_fc" in k or k == "time_embed"
        for k in report.missing
    )
    torch.testing.assert_close(video.blocks[0].attn.qkv.weight, vit.blocks[0].attn.qkv.weight)


def test_inflation_resamples_the_position_grid():
    dims = {"embed_dim": 32, "depth": 1, "num_heads": 2}
    vit = VisionTransformer(img_size=32, patch_size=16, num_classes=3, **dims)
    video = create_timesformer(num_classes=3, num_frames=2, crop_size=64, patch_size=16, **dims)
    inflate_vit_into_timesformer(video, vit.state_dict())
    assert video.pos_embed.shape == (1, 1 + 16, 32)
    torch.testing.assert_close(video.pos_embed[:, 0], vit.pos_embed[:, 0])


def test_frozen_batchnorm_keeps_statistics_under_train():
    net = _tiny_x3d(3)
    assert freeze_batchnorm_stats(net) > 0
    net.train()
    bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm3d))
    before = bn.running_mean.clone()
    net(torch.randn(2, 3, 4, 32, 32) * 5 + 3)
    torch.testing.assert_close(bn.running_mean, before)


def test_finetune_groups_lower_backbone_lr_and_layer_decay():
    net = _tiny_x3d(101)
    groups = finetune_param_groups(net, lr=0.1, backbone_lr_mult=0.1)
    head = {id(p) for p in net.blocks[5].proj.parameters()}
    for group in groups:
        expected = 0.1 if all(id(p) in head for p in group["params"]) else pytest.approx(0.01)
        assert group["lr"] == expected
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
    vit = create_timesformer(
        num_classes=4, num_frames=2, crop_size=32, embed_dim=32, depth=3, num_heads=2
    )
    lrs = {}
    for group in finetune_param_groups(vit, lr=1.0, layer_decay=0.5):
        for p in group["params"]:
            lrs[id(p)] = group["lr"]
    assert lrs[id(vit.head.weight)] == 1.0
    assert lrs[id(vit.blocks[2].attn.qkv.weight)] == 0.5
    assert lrs[id(vit.blocks[0].attn.qkv.weight)] == 0.125
    assert lrs[id(vit.patch_embed.proj.weight)] == 0.0625
