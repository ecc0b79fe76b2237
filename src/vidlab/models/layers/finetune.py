"""Fine-tuning helpers: frozen BatchNorm statistics and per-layer learning rates.

The usual path from Kinetics-400 weights to a small dataset (UCF101, HMDB51):
``load_pretrained(net, path)``, ``net.reset_classifier(101)``, then ``freeze_batchnorm_stats``
for small batches and ``finetune_param_groups`` for a lower backbone learning rate (CNNs) or
layer-wise decay (transformers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from torch import nn

# Parameter-name prefixes of the classifier in the zoo's models (pytorchvideo head, torchvision
# video ResNet, MViT / TimeSformer head).
HEAD_PATTERN = re.compile(r"(^blocks\.\d+\.proj\.|^fc\.|^head\.|^head_drop\.)")
BLOCK_INDEX = re.compile(r"^blocks\.(\d+)\.")
EMBEDDING_NAMES = (
    "patch_embed",
    "cls_token",
    "pos_embed",
    "time_embed",
    "conv_proj",
    "pos_encoding",
)


def freeze_batchnorm_stats(model: nn.Module, freeze_affine: bool = False) -> int:
    """Keep every BatchNorm in eval mode (running mean / var fixed), also under `model.train()`.

    Args:
        model: network to modify in place.
        freeze_affine: also stop gradients to the BatchNorm scale and shift.

    Returns:
        Number of BatchNorm layers frozen.
    """
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
            module.train = _stay_eval.__get__(module)  # model.train() must not re-enable updates
            if freeze_affine:
                for param in module.parameters():
                    param.requires_grad_(False)
            count += 1
    return count


def _stay_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    """`train()` replacement for frozen BatchNorm layers: always eval."""
    return nn.Module.train(self, False)


def _layer_id(name: str, num_layers: int) -> int:
    """0 for embeddings, i + 1 for block i, num_layers + 1 for everything after the blocks."""
    if name.startswith(EMBEDDING_NAMES):
        return 0
    match = BLOCK_INDEX.match(name)
    if match:
        return int(match.group(1)) + 1
    return num_layers + 1


def finetune_param_groups(
    model: nn.Module,
    *,
    lr: float,
    backbone_lr_mult: float = 1.0,
    layer_decay: float | None = None,
    no_weight_decay: Iterable[str] = (),
) -> list[dict]:
    """Parameter groups with per-group learning rates for fine-tuning.

    Args:
        model: the network (classifier already reset).
        lr: learning rate of the classifier.
        backbone_lr_mult: learning rate of everything else, relative to `lr` (ignored when
            `layer_decay` is set).
        layer_decay: layer-wise decay for transformers: block i of L gets
            ``lr * layer_decay ** (L + 1 - (i + 1))``, embeddings ``lr * layer_decay ** (L + 1)``.
        no_weight_decay: names (suffixes) excluded from weight decay besides 1-d parameters.

    Returns:
        Groups ``{"params", "lr", "weight_decay"?}`` for any torch optimizer.
    """
    skip = tuple(no_weight_decay)
    num_layers = max(
        (_layer_id(n, 0) for n, _ in model.named_parameters() if BLOCK_INDEX.match(n)), default=0
    )
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if HEAD_PATTERN.match(name):
            group_lr = lr
        elif layer_decay is not None:
            group_lr = lr * layer_decay ** (num_layers + 1 - _layer_id(name, num_layers))
        else:
            group_lr = lr * backbone_lr_mult
        decay = not (param.ndim < 2 or name.endswith(skip))
        groups.setdefault((group_lr, decay), []).append(param)
    return [
        {"params": params, "lr": group_lr, **({} if decay else {"weight_decay": 0.0})}
        for (group_lr, decay), params in groups.items()
    ]
