"""Re-ID embedding network: a timm backbone, GeM or average pooling, a BNNeck and a classifier.

The design follows the strong baseline of Luo et al., "Bag of Tricks and A Strong Baseline for Deep
Person Re-identification", CVPR-W 2019, https://arxiv.org/abs/1903.07071: the triplet loss sees the
pooled feature *before* a batch-norm "neck", the ID classifier (no bias) and the retrieval embedding
come *after* it, and ResNets use a last stride of 1 (a 16x8 final map for a 256x128 input).
Generalized-mean pooling: Radenovic et al., "Fine-tuning CNN Image Retrieval with No Human
Annotation", TPAMI 2018, https://arxiv.org/abs/1711.02512.

``ReIDNet(x)`` returns the retrieval embedding (B, D), the BNNeck output, in any mode, so that the
bare network is what export and the tracker encoders run. Training uses :meth:`ReIDNet.forward_train`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

POOLINGS = ("gem", "avg", "token")
#: Initial GeM exponent (Radenovic et al.: p = 3 for retrieval).
GEM_P = 3.0
_GEM_EPS = 1e-6
#: Standard deviation of the classifier's initial weights (the BoT reference initialisation).
CLASSIFIER_INIT_STD = 1e-3


@dataclass(frozen=True)
class ReIDOutput:
    """What the losses need from one forward pass.

    Attributes:
        global_feat: (B, D) pooled feature before the BNNeck (triplet / center losses).
        bn_feat: (B, D) BNNeck output (retrieval embedding).
        logits: (B, num_classes) ID logits, or None when the classifier is removed.
    """

    global_feat: torch.Tensor
    bn_feat: torch.Tensor
    logits: torch.Tensor | None


class GeneralizedMeanPooling(nn.Module):
    """GeM pooling ``(mean(x^p))^(1/p)`` over H and W, with a learnable exponent p.

    Args:
        p: initial exponent (1: average pooling; large: max pooling).
        eps: lower clamp of the activations (p-th powers of negatives are undefined).
    """

    def __init__(self, p: float = GEM_P, eps: float = _GEM_EPS) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C)."""
        pooled = F.adaptive_avg_pool2d(x.clamp(min=self.eps).pow(self.p), 1)  # (B, C, 1, 1)
        return pooled.pow(1.0 / self.p).flatten(1)


class _AveragePooling(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C)."""
        return x.mean(dim=(2, 3))


def set_last_stride_one(backbone: nn.Module, name: str) -> None:
    """Make a torchvision/timm-style ResNet's last stage keep its input resolution (stride 1).

    Strided convolutions of the stage's first block get stride 1; an average-pooling shortcut
    (timm's ``avg_down`` variants, e.g. ResNet-D) becomes the identity.
    """
    stage = getattr(backbone, "layer4", None)
    if stage is None:
        raise ValueError(
            f"last_stride=1 needs a ResNet-style backbone with `layer4`; {name!r} "
            "has none (use last_stride: 2)"
        )
    first = stage[0]
    for module_name, module in list(first.named_modules()):
        if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
            module.stride = (1, 1)
        elif isinstance(module, nn.AvgPool2d) and module.stride in (2, (2, 2)):
            parent_name, _, attr = module_name.rpartition(".")
            setattr(first.get_submodule(parent_name) if parent_name else first, attr, nn.Identity())


class ReIDNet(nn.Module):
    """Backbone + pooling + BNNeck (+ classifier). Input (B, 3, H, W) normalised RGB.

    Args:
        backbone: timm model name (``resnet50``, ``mobilenetv3_large_100``,
            ``vit_small_patch16_224``, ...); created with ``pretrained=False`` unless `weights`.
        num_classes: training identities (0 or None: no classifier yet; the training module
            sizes it from the datamodule).
        image_size: (height, width) of the input in pixels (ViTs are built for it).
        pooling: ``gem`` or ``avg`` for CNNs, ``token`` (the backbone's own class token) for ViTs.
        gem_p: initial GeM exponent.
        last_stride: 1 keeps the last ResNet stage at stride 1 (BoT trick), 2 leaves it unchanged.
        bnneck: batch-norm neck between the pooled feature and the classifier.
        weights: optional local file of ImageNet weights for the backbone (timm format); nothing
            is ever downloaded.
        drop_path_rate: stochastic depth of the backbone (ViTs).
    """

    def __init__(
        self,
        *,
        backbone: str = "resnet50",
        num_classes: int | None = 0,
        image_size: tuple[int, int] | list[int] = (256, 128),
        pooling: str = "gem",
        gem_p: float = GEM_P,
        last_stride: int = 1,
        bnneck: bool = True,
        weights: str | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r}; expected one of {POOLINGS}")
        self.backbone_name, self.image_size = backbone, tuple(int(s) for s in image_size)
        self.encoder = _create_backbone(backbone, self.image_size, weights, drop_path_rate)
        self.is_transformer = hasattr(self.encoder, "patch_embed")
        if self.is_transformer != (pooling == "token"):
            raise ValueError(
                f"pooling={pooling!r} does not suit backbone {backbone!r}: use "
                "'token' for vision transformers and 'gem' / 'avg' for CNNs"
            )
        if last_stride == 1:
            set_last_stride_one(self.encoder, backbone)
        elif last_stride != 2:
            raise ValueError(f"last_stride must be 1 or 2, got {last_stride}")
        self.pool = (
            None
            if pooling == "token"
            else (GeneralizedMeanPooling(gem_p) if pooling == "gem" else _AveragePooling())
        )
        self.num_features = int(self.encoder.num_features)
        self.neck = nn.BatchNorm1d(self.num_features) if bnneck else nn.Identity()
        if bnneck:
            self.neck.bias.requires_grad_(
                False
            )  # BoT: no shift, the classifier sees a centred feature
        self.num_classes = 0
        self.classifier: nn.Module = nn.Identity()
        self.reset_classifier(num_classes or 0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> backbone map (B, C, h, w), or tokens (B, N, C) for a ViT."""
        return self.encoder.forward_features(x)

    def pool_features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone output -> pooled feature (B, C) before the neck."""
        if self.pool is None:
            return self.encoder.forward_head(x, pre_logits=True)  # class token after the final norm
        return self.pool(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Backbone output -> BNNeck embedding (pre_logits=True) or ID logits."""
        emb = self.neck(self.pool_features(x))
        return emb if pre_logits else self.classifier(emb)

    def forward_train(self, x: torch.Tensor) -> ReIDOutput:
        """Everything the training losses need, from one pass."""
        global_feat = self.pool_features(self.forward_features(x))
        bn_feat = self.neck(global_feat)
        logits = self.classifier(bn_feat) if self.num_classes > 0 else None
        return ReIDOutput(global_feat, bn_feat, logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Retrieval embedding (B, num_features): the BNNeck output, not L2-normalised."""
        return self.forward_head(self.forward_features(x), pre_logits=True)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh bias-free ID classifier of `num_classes` outputs (0 removes it)."""
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.num_classes = int(num_classes)
        if num_classes == 0:
            self.classifier = nn.Identity()
            return
        self.classifier = nn.Linear(self.num_features, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=CLASSIFIER_INIT_STD)

    def no_weight_decay(self) -> set[str]:
        """The GeM exponent and the backbone's own exemptions (ViT position embeddings, tokens)."""
        own = {"pool.p"} if isinstance(self.pool, GeneralizedMeanPooling) else set()
        inner = self.encoder.no_weight_decay() if hasattr(self.encoder, "no_weight_decay") else ()
        return own | {f"encoder.{name}" for name in inner}


def _create_backbone(
    name: str, image_size: tuple[int, int], weights: str | None, drop_path_rate: float
) -> nn.Module:
    """A timm model without classifier or global pooling (its features stay spatial)."""
    kwargs: dict = {"num_classes": 0}
    if "vit" in name or "deit" in name:
        kwargs.update(img_size=image_size, dynamic_img_size=False)
    else:
        kwargs["global_pool"] = ""
    if drop_path_rate > 0:
        kwargs["drop_path_rate"] = drop_path_rate
    if weights is None:
        return timm.create_model(name, pretrained=False, **kwargs)
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"backbone weights {path} not found (set model.net.weights: null to train from scratch)"
        )
    log.info("loading %s backbone weights from %s", name, path)
    return timm.create_model(
        name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs
    )
