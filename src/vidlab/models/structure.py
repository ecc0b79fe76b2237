"""Restoring the layer shapes of a structurally pruned network (weights-only checkpoints).

A channel-pruned network no longer matches its model config. Its checkpoint meta records, under
``pruned_structure``, the channel counts and groups of every Conv / BatchNorm / Linear layer (plain
ints, see `layer_shapes`). `restore_structure` resizes a network freshly built from the config to
those shapes (uninitialised tensors), after which ``load_state_dict`` fills in the weights. The
pruning itself lives in `vidlab.compression.structured`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd

#: Key of the pruned layer shapes in a checkpoint's vidlab meta.
STRUCTURE_META_KEY = "pruned_structure"


def layer_shapes(net: nn.Module) -> dict[str, dict[str, int]]:
    """Channel counts of every Conv / BatchNorm / Linear layer, by module name (plain ints)."""
    shapes: dict[str, dict[str, int]] = {}
    for name, m in net.named_modules():
        if isinstance(m, _ConvNd):
            shapes[name] = {
                "in_channels": m.in_channels,
                "out_channels": m.out_channels,
                "groups": m.groups,
            }
        elif isinstance(m, _NormBase):
            shapes[name] = {"num_features": m.num_features}
        elif isinstance(m, nn.Linear):
            shapes[name] = {"in_features": m.in_features, "out_features": m.out_features}
    return shapes


def _resize_conv(m: _ConvNd, shape: dict[str, int]) -> None:
    m.in_channels, m.out_channels, m.groups = (
        shape["in_channels"],
        shape["out_channels"],
        shape["groups"],
    )
    m.weight = nn.Parameter(torch.empty(m.out_channels, m.in_channels // m.groups, *m.kernel_size))
    if m.bias is not None:
        m.bias = nn.Parameter(torch.empty(m.out_channels))


def _resize_norm(m: _NormBase, shape: dict[str, int]) -> None:
    m.num_features = n = shape["num_features"]
    if m.affine:
        m.weight = nn.Parameter(torch.empty(n))
        m.bias = nn.Parameter(torch.empty(n))
    if m.track_running_stats:
        m.running_mean = torch.zeros(n)
        m.running_var = torch.ones(n)


def _resize_linear(m: nn.Linear, shape: dict[str, int]) -> None:
    m.in_features, m.out_features = shape["in_features"], shape["out_features"]
    m.weight = nn.Parameter(torch.empty(m.out_features, m.in_features))
    if m.bias is not None:
        m.bias = nn.Parameter(torch.empty(m.out_features))


def apply_layer_shapes(net: nn.Module, shapes: dict[str, dict[str, int]]) -> nn.Module:
    """Resize `net`'s layers in place to `shapes` (from `layer_shapes`); weights are left
    uninitialised, to be filled by ``load_state_dict``."""
    modules = dict(net.named_modules())
    for name, shape in shapes.items():
        m = modules.get(name)
        if m is None:
            raise KeyError(
                f"pruned structure names layer {name!r}, which the rebuilt network lacks; "
                "was the checkpoint trained with another model config?"
            )
        if isinstance(m, _ConvNd):
            _resize_conv(m, shape)
        elif isinstance(m, _NormBase):
            _resize_norm(m, shape)
        elif isinstance(m, nn.Linear):
            _resize_linear(m, shape)
        else:
            raise TypeError(
                f"pruned structure layer {name!r} is a {type(m).__name__}, "
                "expected a Conv, BatchNorm or Linear layer"
            )
    _sync_num_features(net)
    return net


def _classifiers(net: nn.Module) -> list[nn.Linear]:
    """Linear layers producing the class logits (excluded from pruning)."""
    num_classes = getattr(net, "num_classes", None)
    return [m for m in net.modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]


def _sync_num_features(net: nn.Module) -> None:
    """Keep a backbone's ``num_features`` (pre-logits size) equal to its classifier's input."""
    heads = _classifiers(net)
    if hasattr(net, "num_features") and heads:
        net.num_features = heads[-1].in_features


def restore_structure(net: nn.Module, meta: dict[str, Any]) -> nn.Module:
    """Resize a network built from a checkpoint's config to the checkpoint's pruned shapes
    (a no-op for checkpoints that were not structurally pruned)."""
    shapes = meta.get(STRUCTURE_META_KEY)
    return apply_layer_shapes(net, shapes) if shapes else net
