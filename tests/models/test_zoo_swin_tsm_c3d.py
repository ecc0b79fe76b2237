"""Video Swin, TSN / TSM and C3D: weights from local files (torchvision, mmaction2, timm, ImageNet
2D inflation) and the temporal shift's behaviour."""

from __future__ import annotations

import re

import pytest
import timm
import torch
from torchvision.models import resnet18
from torchvision.models.swin_transformer import SwinTransformer
from torchvision.models.video.swin_transformer import SwinTransformer3d

from vidlab.models.c3d import create_c3d
from vidlab.models.swin3d import create_swin3d
from vidlab.models.tsn import create_tsm, create_tsn, temporal_shift
from vidlab.models.weights import inflate_swin2d_into_swin3d, load_pretrained

# A small Swin: width 24, one block per stage but two in the third (a shifted one), 1-2 heads.
SMALL_SWIN = {"embed_dim": 24, "depths": (1, 1, 2, 1), "num_heads": (1, 1, 2, 2)}


def _small_swin3d(num_classes: int = 5, window: int = 7):
    return create_swin3d(
        num_classes=num_classes, drop_path_rate=0.0, window_size=(8, window, window), **SMALL_SWIN
    ).eval()


# The image-model comparisons use 2x2 windows on 64 px: every stage's grid (16, 8, 4, 2) is a
# multiple of the window, as torchvision's 2D Swin pads smaller grids with attended zeros where the
# 3D one shrinks the window.
WINDOW_2D, IMAGE_SIZE = 2, 64


def _randomise_norms(model: torch.nn.Module) -> None:
    """Non-default norm parameters and position biases, so a failed load changes the outputs."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("relative_position_bias_table"):
                p.uniform_(-0.5, 0.5)


def test_torchvision_swin3d_state_dict_loads_unchanged(tmp_path):
    torch.manual_seed(0)
    src = SwinTransformer3d(
        patch_size=[2, 4, 4],
        embed_dim=24,
        depths=[1, 1, 2, 1],
        num_heads=[1, 1, 2, 2],
        window_size=[8, 7, 7],
        stochastic_depth_prob=0.0,
        num_classes=5,
    ).eval()
    _randomise_norms(src)
    path = tmp_path / "swin3d_t-7615ae03.pth"
    torch.save(src.state_dict(), path)
    dst = _small_swin3d()
    report = load_pretrained(dst, path)
    assert report.missing == () and report.unexpected == ()
    x = torch.randn(1, 3, 8, 32, 32)
    torch.testing.assert_close(dst(x), src(x))


def _to_mmaction2_swin(name: str) -> str:
    """The official / mmaction2 Video Swin name of a torchvision Swin3d parameter (test-side)."""
    if match := re.match(r"^features\.(\d+)\.(.*)$", name):
        index, rest = int(match.group(1)), match.group(2)
        if index % 2:  # patch merging after stage index // 2
            return f"backbone.layers.{index // 2}.downsample.{rest}"
        block, rest = rest.split(".", 1)
        rest = rest.replace("mlp.0.", "mlp.fc1.").replace("mlp.3.", "mlp.fc2.")
        return f"backbone.layers.{index // 2}.blocks.{block}.{rest}"
    if name.startswith("head."):
        return "cls_head.fc_cls." + name[len("head.") :]
    return "backbone." + name


def test_mmaction2_swin3d_checkpoint_is_remapped_and_gaps_reported(tmp_path):
    torch.manual_seed(0)
    src = _small_swin3d()
    _randomise_norms(src)
    state = {_to_mmaction2_swin(k): v for k, v in src.state_dict().items()}
    assert "backbone.layers.2.blocks.1.mlp.fc2.weight" in state
    assert "backbone.layers.0.downsample.reduction.weight" in state
    path = tmp_path / "swin-tiny-p244-w877_kinetics400.pth"
    torch.save({"state_dict": state, "meta": {"mmengine_version": "0.10.7"}}, path)
    dst = _small_swin3d()
    report = load_pretrained(dst, path)
    assert report.missing == () and report.unexpected == ()
    x = torch.randn(2, 3, 8, 32, 32)
    torch.testing.assert_close(dst(x), src(x))

    # A checkpoint with an extra head and without the final norm: both are reported.
    del state["backbone.norm.weight"]
    state["cls_head.fc_extra.weight"] = torch.zeros(3)
    torch.save({"state_dict": state, "meta": {}}, path)
    report = load_pretrained(_small_swin3d(), path)
    assert report.missing == ("norm.weight",)
    assert report.unexpected == ("cls_head.fc_extra.weight",)


def _static_clip(frames: int = 16, size: int = IMAGE_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    image = torch.randn(1, 3, size, size)
    return image, image.unsqueeze(2).expand(1, 3, frames, size, size).contiguous()


def test_torchvision_2d_swin_inflates_to_the_image_model_on_a_static_clip(tmp_path):
    torch.manual_seed(0)
    swin2d = SwinTransformer(
        patch_size=[4, 4],
        embed_dim=24,
        depths=[1, 1, 2, 1],
        num_heads=[1, 1, 2, 2],
        window_size=[WINDOW_2D, WINDOW_2D],
        stochastic_depth_prob=0.0,
        num_classes=5,
    ).eval()
    _randomise_norms(swin2d)
    video = _small_swin3d(window=WINDOW_2D)
    report = inflate_swin2d_into_swin3d(video, swin2d.state_dict())
    assert report.missing == () and report.unexpected == ()
    image, clip = _static_clip()
    with torch.no_grad():
        torch.testing.assert_close(video(clip), swin2d(image), atol=1e-4, rtol=1e-4)
    # The same file through load_pretrained (a recipe's finetune.pretrained) is inflated too.
    path = tmp_path / "swin_t-704ceda3.pth"
    torch.save(swin2d.state_dict(), path)
    again = _small_swin3d(window=WINDOW_2D)
    assert load_pretrained(again, path).missing == ()
    with torch.no_grad():
        torch.testing.assert_close(again(clip), video(clip))


def test_timm_2d_swin_inflates_every_tensor():
    torch.manual_seed(0)
    swin2d = timm.create_model(
        "swin_tiny_patch4_window7_224",
        pretrained=False,
        img_size=IMAGE_SIZE,
        window_size=WINDOW_2D,
        embed_dim=24,
        depths=(1, 1, 2, 1),
        num_heads=(1, 1, 2, 2),
        num_classes=5,
    ).eval()
    _randomise_norms(swin2d)
    video = _small_swin3d(window=WINDOW_2D)
    report = inflate_swin2d_into_swin3d(video, swin2d.state_dict(), "timm swin")
    assert report.missing == ()
    assert all("relative_position_index" in k or "attn_mask" in k for k in report.unexpected)
    # Merging after stage 0 in ours is timm's layers.1.downsample.
    torch.testing.assert_close(
        video.features[1].reduction.weight, swin2d.layers[1].downsample.reduction.weight
    )
    image, clip = _static_clip()
    with torch.no_grad():
        torch.testing.assert_close(video(clip), swin2d(image), atol=1e-4, rtol=1e-4)


def test_temporal_shift_moves_one_eighth_each_way():
    x = torch.arange(2 * 3 * 16, dtype=torch.float32).view(2 * 3, 16, 1, 1)  # B=2, T=3, C=16
    out = temporal_shift(x, 3).view(2, 3, 16)
    src = x.view(2, 3, 16)
    torch.testing.assert_close(out[:, :2, :2], src[:, 1:, :2])  # channels 0-1 from t + 1
    assert (out[:, 2, :2] == 0).all()
    torch.testing.assert_close(out[:, 1:, 2:4], src[:, :2, 2:4])  # channels 2-3 from t - 1
    assert (out[:, 0, 2:4] == 0).all()
    torch.testing.assert_close(out[:, :, 4:], src[:, :, 4:])
    online = temporal_shift(x, 3, online=True).view(2, 3, 16)
    torch.testing.assert_close(online[:, 1:, :2], src[:, :2, :2])  # past only
    torch.testing.assert_close(online[:, :, 2:], src[:, :, 2:])


@pytest.mark.parametrize(("shift", "causal"), [("online", True), ("offline", False)])
def test_online_tsm_never_sees_the_future(shift, causal):
    torch.manual_seed(0)
    net = create_tsm(num_classes=3, num_frames=4, backbone="resnet18", shift=shift).eval()
    x = torch.randn(1, 3, 4, 32, 32)
    later = x.clone()
    later[:, :, -1] = torch.randn(1, 3, 32, 32)  # change only the last frame
    with torch.no_grad():
        a, b = net.forward_features(x), net.forward_features(later)
    assert torch.allclose(a[:, :3], b[:, :3]) == causal


def test_tsn_and_tsm_load_torchvision_imagenet_resnets(tmp_path):
    torch.manual_seed(0)
    image_net = resnet18(num_classes=7).eval()
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(image_net.state_dict(), path)
    tsn = create_tsn(num_classes=7, num_frames=4, backbone="resnet18", dropout_rate=0.0).eval()
    assert load_pretrained(tsn, path).missing == ()
    tsm = create_tsm(num_classes=7, num_frames=4, backbone="resnet18").eval()
    report = load_pretrained(tsm, path)
    assert report.missing == () and report.unexpected == ()
    torch.testing.assert_close(tsm.layer1[0].conv1.conv.weight, image_net.layer1[0].conv1.weight)
    # TSN's average consensus of a static clip is the image model's score of the frame.
    image = torch.randn(1, 3, 32, 32)
    clip = image.unsqueeze(2).expand(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(tsn(clip), image_net(image), atol=1e-5, rtol=1e-5)


def _to_mmaction2_tsn(name: str, shift_wrap: str | None) -> str:
    """mmaction2's ResNet(TSM) / TSNHead name of a TSN / TSM parameter (test-side spec).

    `shift_wrap`: where mmaction2's TemporalShift holds conv1 of a block as ``net`` (TSM):
    ``conv.net`` (1.x: around the convolution), ``net.conv`` (0.x: around conv + BN), or None.
    """
    if name.startswith("fc."):
        return "cls_head.fc_cls." + name[len("fc.") :]
    if match := re.match(r"^(conv|bn)1\.(\w+)$", name):
        return f"backbone.conv1.{match.group(1)}.{match.group(2)}"
    block, rest = re.match(r"^(layer\d\.\d+)\.(.*)$", name).groups()
    if rest.startswith("downsample."):
        _, index, tail = rest.split(".")
        return f"backbone.{block}.downsample.{('conv', 'bn')[int(index)]}.{tail}"
    rest = rest.replace("conv1.conv.", "conv1.")  # our shift wrapper
    unit, index, tail = re.match(r"^(conv|bn)(\d)\.(\w+)$", rest).groups()
    inner = unit
    if shift_wrap and index == "1":
        inner = {"conv.net": f"{unit}.net" if unit == "conv" else unit, "net.conv": f"net.{unit}"}[
            shift_wrap
        ]
    return f"backbone.{block}.conv{index}.{inner}.{tail}"


@pytest.mark.parametrize(
    ("shift", "shift_wrap"), [("none", None), ("offline", "conv.net"), ("offline", "net.conv")]
)
def test_mmaction2_tsn_and_tsm_r50_checkpoints_are_remapped(tmp_path, shift, shift_wrap):
    build = {"num_classes": 6, "num_frames": 4, "backbone": "resnet50", "shift": shift}
    torch.manual_seed(0)
    src = create_tsn(**build).eval()
    with torch.no_grad():
        for m in src.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    state = {_to_mmaction2_tsn(k, shift_wrap): v for k, v in src.state_dict().items()}
    expected_conv1 = {
        None: "backbone.layer3.5.conv1.conv.weight",
        "conv.net": "backbone.layer3.5.conv1.conv.net.weight",
        "net.conv": "backbone.layer3.5.conv1.net.conv.weight",
    }[shift_wrap]
    assert expected_conv1 in state and "backbone.layer2.0.downsample.bn.running_var" in state
    path = tmp_path / "tsm_r50_1x1x8_kinetics400.pth"
    torch.save({"state_dict": state, "meta": {"mmengine_version": "0.10.7"}}, path)
    torch.manual_seed(1)
    dst = create_tsn(**build).eval()
    report = load_pretrained(dst, path)
    assert report.missing == () and report.unexpected == ()
    assert len(report.loaded) == len(src.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(dst(x), src(x))

    # A checkpoint without one BN statistic and with a non-local block: both are reported.
    del state["backbone.layer4.2.conv3.bn.running_var"]
    state["backbone.layer2.0.non_local_block.g.conv.weight"] = torch.zeros(1)
    torch.save({"state_dict": state, "meta": {}}, path)
    report = load_pretrained(create_tsn(**build).eval(), path)
    assert report.missing == ("layer4.2.bn3.running_var",)
    assert report.unexpected == ("backbone.layer2.0.non_local_block.g.conv.weight",)


def test_mmaction2_tsn_with_a_torchvision_backbone_is_remapped(tmp_path):
    torch.manual_seed(0)
    src = create_tsn(num_classes=5, num_frames=4, backbone="resnet18").eval()
    state = {
        ("cls_head.fc_cls." + k[3:]) if k.startswith("fc.") else "backbone." + k: v
        for k, v in src.state_dict().items()
    }
    path = tmp_path / "tsn_torchvision_r18.pth"
    torch.save({"state_dict": state, "meta": {}}, path)
    dst = create_tsn(num_classes=5, num_frames=4, backbone="resnet18").eval()
    report = load_pretrained(dst, path)
    assert report.missing == () and report.unexpected == ()
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(dst(x), src(x))


def _to_mmaction2_c3d(name: str) -> str:
    if name.startswith("conv"):
        layer, rest = name.split(".", 1)
        return f"backbone.{layer}.conv.{rest}"
    if name.startswith("fc8."):
        return "cls_head.fc_cls." + name[len("fc8.") :]
    return "backbone." + name


def test_mmaction2_c3d_checkpoint_is_remapped(tmp_path):
    kwargs = {"num_frames": 16, "crop_size": 32, "width_factor": 0.125, "fc_dim": 64}
    torch.manual_seed(0)
    src = create_c3d(num_classes=5, **kwargs).eval()
    state = {_to_mmaction2_c3d(k): v for k, v in src.state_dict().items()}
    path = tmp_path / "c3d_sports1m_ucf101.pth"
    torch.save({"state_dict": state, "meta": {}}, path)
    dst = create_c3d(num_classes=5, **kwargs).eval()
    report = load_pretrained(dst, path)
    assert report.missing == () and report.unexpected == ()
    x = torch.randn(2, 3, 16, 32, 32)
    torch.testing.assert_close(dst(x), src(x))


def test_c3d_refuses_a_clip_it_was_not_built_for():
    net = create_c3d(num_classes=5, crop_size=32, width_factor=0.125, fc_dim=64).eval()
    with pytest.raises(ValueError, match="built for"):
        net(torch.randn(1, 3, 16, 64, 64))


def test_swin_conv_stem_and_standardisation_keep_the_token_grid():
    linear = _small_swin3d()
    stem = create_swin3d(
        num_classes=5, stem_width=8, standardize_clips=True, drop_path_rate=0.0, **SMALL_SWIN
    ).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        assert stem.forward_features(x).shape == linear.forward_features(x).shape
        # Standardised per clip: an affine change of the pixel values changes nothing.
        torch.testing.assert_close(stem(x * 3 + 1), stem(x), atol=1e-4, rtol=1e-4)
    assert isinstance(stem.patch_embed.proj, torch.nn.Sequential)
