"""ReIDNet: shapes, BNNeck semantics, GeM, last stride, the backbone interface."""

from __future__ import annotations

import pytest
import torch

from vidlab.models.reid import GeneralizedMeanPooling, ReIDNet

SMALL = (64, 32)


@pytest.mark.parametrize(
    ("backbone", "pooling", "last_stride", "size"),
    [
        ("resnet18", "gem", 1, SMALL),
        ("test_resnet", "avg", 1, SMALL),  # avg_down shortcut: its pooling becomes the identity
        ("mobilenetv3_small_050", "avg", 2, SMALL),
        ("vit_tiny_patch16_224", "token", 2, (64, 32)),
    ],
)
def test_interface_and_shapes(backbone, pooling, last_stride, size):
    torch.manual_seed(0)
    net = ReIDNet(
        backbone=backbone, pooling=pooling, last_stride=last_stride, image_size=size, num_classes=7
    )
    x = torch.randn(4, 3, *size)
    out = net.forward_train(x)
    d = net.num_features
    assert out.global_feat.shape == out.bn_feat.shape == (4, d)
    assert out.logits.shape == (4, 7)
    net.eval()
    emb = net(x)
    # The bare network returns the BNNeck embedding: what export and the trackers run.
    torch.testing.assert_close(emb, net.forward_head(net.forward_features(x), pre_logits=True))
    torch.testing.assert_close(net.forward_head(net.forward_features(x)), net.classifier(emb))
    net.reset_classifier(3)
    assert net.forward_train(x).logits.shape == (4, 3)
    net.reset_classifier(0)
    assert net.forward_train(x).logits is None
    assert isinstance(net.no_weight_decay(), set)


def test_last_stride_one_doubles_the_final_map():
    x = torch.randn(1, 3, *SMALL)
    strided = ReIDNet(backbone="resnet18", last_stride=2, image_size=SMALL).forward_features(x)
    kept = ReIDNet(backbone="resnet18", last_stride=1, image_size=SMALL).forward_features(x)
    assert strided.shape[-2:] == (2, 1)
    assert kept.shape[-2:] == (4, 2)  # 64x32 / 16


def test_bnneck_bias_is_frozen_and_classifier_has_no_bias():
    net = ReIDNet(backbone="resnet18", image_size=SMALL, num_classes=5)
    assert not net.neck.bias.requires_grad and net.neck.weight.requires_grad
    assert net.classifier.bias is None


def test_gem_interpolates_between_average_and_max():
    x = torch.rand(2, 3, 4, 4) + 0.1
    avg = x.mean(dim=(2, 3))
    mx = x.amax(dim=(2, 3))
    torch.testing.assert_close(GeneralizedMeanPooling(p=1.0)(x), avg)
    high = GeneralizedMeanPooling(p=60.0)(x)
    assert torch.all(high <= mx + 1e-5) and torch.all(high > 0.9 * mx)
    mid = GeneralizedMeanPooling(p=3.0)(x)
    assert torch.all(mid >= avg - 1e-6) and torch.all(mid <= mx + 1e-6)


def test_wrong_settings_are_named():
    with pytest.raises(ValueError, match="token"):
        ReIDNet(backbone="resnet18", pooling="token", image_size=SMALL)
    with pytest.raises(ValueError, match="layer4"):
        ReIDNet(backbone="mobilenetv3_small_050", last_stride=1, image_size=SMALL)
    with pytest.raises(ValueError, match="pooling"):
        ReIDNet(backbone="resnet18", pooling="max", image_size=SMALL)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        ReIDNet(backbone="resnet18", weights="nope.pth", image_size=SMALL)


def test_local_backbone_weights_are_loaded(tmp_path):
    import timm

    source = timm.create_model("resnet18", pretrained=False, num_classes=0)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    net = ReIDNet(backbone="resnet18", weights=str(path), last_stride=2, image_size=SMALL)
    torch.testing.assert_close(net.encoder.conv1.weight, source.conv1.weight)
