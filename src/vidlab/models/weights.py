"""Pretrained weights from local files: reading, key remapping, checked loading, ViT inflation.

Supported sources (nothing is downloaded; pass a file you have):

- pytorchvideo model-zoo checkpoints (``{"model_state": ...}``, keys ``blocks.*``) for X3D,
  SlowFast, I3D and C2D: our wrappers keep pytorchvideo's names, so no remapping.
- torchvision state dicts for R3D-18, R(2+1)D-18 and MViTv2-S (torchvision names are kept).
- mmaction2 checkpoints (``{"state_dict": ..., "meta": ...}``, read with mmengine) of the
  ResNet3d I3D backbone + I3D head, remapped onto `vidlab.models.resnet3d`.
- vidlab / Lightning checkpoints (``net.`` prefix).
- timm ImageNet ViT state dicts, inflated into `TimeSformer` by `inflate_vit_into_timesformer`.

- PySlowFast's own ``.pyth`` checkpoints (``{"model_state": ...}``, keys ``s1.pathway0_stem.*``,
  ``s2.pathway0_res0.branch2.a.*``, ``s2_fuse.conv_f2s.*``, ``head.projection.*``), remapped onto
  the pytorchvideo names by `remap_pyslowfast`: X3D and SlowFast (tested on X3D-XS and SlowFast
  R50 built here; other PySlowFast heads, e.g. with ``lin_5_bn``, report those keys unexpected).
  pytorchvideo's X3D has no BatchNorm on the first stage's shortcut, so PySlowFast's
  ``s2.pathway0_res0.branch1_bn.*`` stays unexpected (pytorchvideo's own X3D conversion drops it).

- mmaction2 / official Video Swin checkpoints (``backbone.layers.I.blocks.J.*``) remapped onto
  torchvision's names (`vidlab.models.swin3d.remap_mmaction2_swin3d`); ImageNet 2D Swin weights
  (torchvision or timm layout) inflated by `inflate_swin2d_into_swin3d`.
- mmaction2 C3D checkpoints (``backbone.conv1a.conv.*``), remapped onto `vidlab.models.c3d`.
- torchvision ImageNet ResNet state dicts for TSN and TSM (TSM's shift wraps each residual
  branch's ``conv1`` as ``conv1.conv``; the plain names are mapped onto it).
- mmaction2 TSN / TSM checkpoints (``backbone.layerK.I.convJ.conv.*``, TSM's shift as
  ``conv1.conv.net.*`` (1.x) or ``conv1.net.conv.*`` (0.x), ``cls_head.fc_cls.*``; or a
  torchvision backbone under ``backbone.``), remapped by `vidlab.models.tsn.remap_mmaction2_tsn`.

Not supported: PySlowFast's Caffe2 ``.pkl`` files.

`load_pretrained` checks shapes: a classifier of another size is dropped (fine-tuning), any other
shape mismatch, or a checkpoint that covers too little of the model, is a wrong-architecture
error. Missing and unexpected keys are logged and returned.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

# Wrappers under which checkpoints keep their state dict: PySlowFast / pytorchvideo, mmaction2 /
# Lightning, and generic.
STATE_DICT_KEYS = ("model_state", "state_dict", "model")
PREFIXES = ("module.", "net.", "model.")  # DDP, vidlab's Lightning module, wrapped models
# Fewer matching tensors than this fraction of the model's means the file is for another network.
MIN_MATCHED_FRACTION = 0.5
CLASSIFIER_SUFFIXES = (
    "proj.weight",
    "proj.bias",
    "fc.weight",
    "fc.bias",
    "head.weight",
    "head.bias",
    "head.1.weight",
    "head.1.bias",
)
SHOWN_KEYS = 10  # keys listed per category in log messages and errors

# mmaction2 ResNet3d (I3D) backbone + I3DHead -> pytorchvideo ResNet names (vidlab.models.resnet3d).
# "{stage}" / "{head}" are filled with the model's block indices of layerK / the head (the
# temporal pool after stage 2 shifts the later stages by one).
MMACTION_STEM_RULES: tuple[tuple[str, str], ...] = (
    (r"^backbone\.conv1\.conv\.", "blocks.0.conv."),
    (r"^backbone\.conv1\.bn\.", "blocks.0.norm."),
)
MMACTION_BLOCK_RULES: tuple[tuple[str, str], ...] = (
    (r"\.conv1\.conv\.", ".branch2.conv_a."),
    (r"\.conv1\.bn\.", ".branch2.norm_a."),
    (r"\.conv2\.conv\.", ".branch2.conv_b."),
    (r"\.conv2\.bn\.", ".branch2.norm_b."),
    (r"\.conv3\.conv\.", ".branch2.conv_c."),
    (r"\.conv3\.bn\.", ".branch2.norm_c."),
    (r"\.downsample\.conv\.", ".branch1_conv."),
    (r"\.downsample\.bn\.", ".branch1_norm."),
)
MMACTION_LAYER = re.compile(r"^backbone\.layer(\d)\.(\d+)(\..*)$")
MMACTION_HEAD = re.compile(r"^cls_head\.fc_cls\.(.*)$")

# PySlowFast names -> pytorchvideo names. A PySlowFast key has several candidate names (X3D is
# one pathway without `multipathway_blocks`, and its `norm_b` is a Sequential(BN, SE)); the one the
# model has is used. Stage sK of PySlowFast is pytorchvideo block K - 1.
PYSLOWFAST_STEM = re.compile(r"^s1\.pathway(\d)_stem\.(conv_xy|conv|bn)\.(.*)$")
PYSLOWFAST_RES = re.compile(r"^s(\d)\.pathway(\d)_res(\d+)\.(.*)$")
PYSLOWFAST_FUSE = re.compile(r"^s(\d)_fuse\.(conv_f2s|bn)\.(.*)$")
PYSLOWFAST_HEAD = re.compile(r"^head\.(projection|conv_5|conv_5_bn|lin_5)\.(.*)$")
PYSLOWFAST_BLOCK_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("branch1.", ("branch1_conv.",)),
    ("branch1_bn.", ("branch1_norm.",)),
    ("branch2.a.", ("branch2.conv_a.",)),
    ("branch2.a_bn.", ("branch2.norm_a.",)),
    ("branch2.b.", ("branch2.conv_b.",)),
    ("branch2.b_bn.", ("branch2.norm_b.0.", "branch2.norm_b.")),
    ("branch2.se.fc1.", ("branch2.norm_b.1.block.0.",)),
    ("branch2.se.fc2.", ("branch2.norm_b.1.block.2.",)),
    ("branch2.c.", ("branch2.conv_c.",)),
    ("branch2.c_bn.", ("branch2.norm_c.",)),
)
# X3D's stem: PySlowFast's spatial `conv_xy` / depthwise temporal `conv` sit in pytorchvideo's
# Conv2plus1d as `conv_t` / `conv_xy` (pytorchvideo's naming is swapped; the shapes decide).
PYSLOWFAST_STEM_PARTS = {
    "conv_xy": ("conv.conv_t.",),
    "conv": ("conv.conv_xy.", "conv."),
    "bn": ("norm.",),
}
PYSLOWFAST_HEAD_PARTS = {
    "projection": "proj.",
    "conv_5": "pool.pre_conv.",
    "conv_5_bn": "pool.pre_norm.",
    "lin_5": "pool.post_conv.",
}


@dataclass(frozen=True)
class LoadReport:
    """What `load_pretrained` did.

    Attributes:
        loaded: model keys set from the checkpoint.
        missing: model keys left at their initialisation.
        unexpected: checkpoint keys with no place in the model.
        dropped_classifier: checkpoint classifier keys skipped for a different class count.
    """

    loaded: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    dropped_classifier: tuple[str, ...]


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint file into a dict (tensors only, no arbitrary pickles are executed).

    mmaction2 files (``.pth`` with a ``meta`` entry) are read through mmengine's loader when it
    is installed; everything else with ``torch.load(weights_only=True)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".pkl":
        raise ValueError(f"{path}: Caffe2 .pkl checkpoints are not supported; use the .pyth one")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path}: expected a dict checkpoint, got {type(ckpt).__name__}")
    return ckpt


def read_mmaction2_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read an mmaction2 checkpoint with mmengine's `CheckpointLoader` (local paths only)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return CheckpointLoader.load_checkpoint(str(path), map_location="cpu")


def extract_state_dict(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint, with wrapper prefixes (``module.``, ``net.``) removed."""
    state = ckpt
    for key in STATE_DICT_KEYS:
        if key in ckpt and isinstance(ckpt[key], dict):
            state = ckpt[key]
            break
    out = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        out[name] = value
    return out


def remap_keys(
    state: dict[str, torch.Tensor], rules: tuple[tuple[str, str], ...]
) -> dict[str, torch.Tensor]:
    """Rename keys with the first matching (regex, replacement) rule; others are kept."""
    out = {}
    for name, value in state.items():
        for pattern, repl in rules:
            new, count = re.subn(pattern, repl, name, count=1)
            if count:
                name = new
                break
        out[name] = value
    return out


def is_mmaction2_resnet3d(state: dict[str, torch.Tensor]) -> bool:
    """mmaction2's ResNet3d layout (``backbone.layerK.I.convJ.conv.weight``)."""
    return any(re.match(r"^backbone\.layer\d\.\d+\.conv\d\.conv\.", k) for k in state)


def remap_mmaction2_resnet3d(
    state: dict[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """mmaction2 ResNet3d + I3DHead names -> the pytorchvideo names of `model` (a ResNet3D).

    The residual stages and head are located in ``model.blocks`` by type, so the temporal pool
    block between stages 2 and 3 is skipped whether or not the model has it.
    """
    blocks = list(getattr(model, "blocks", []))
    stages = [i for i, b in enumerate(blocks) if type(b).__name__ == "ResStage"]
    if len(stages) != 4:
        raise ValueError(
            f"mmaction2 ResNet3d checkpoints load into 4-stage pytorchvideo ResNets; "
            f"{type(model).__name__} has {len(stages)} ResStage blocks"
        )
    head = len(blocks) - 1
    out = {}
    for name, value in remap_keys(state, MMACTION_STEM_RULES).items():
        layer, head_match = MMACTION_LAYER.match(name), MMACTION_HEAD.match(name)
        if layer:
            stage, block, rest = layer.groups()
            rest = remap_keys({rest: value}, MMACTION_BLOCK_RULES).popitem()[0]
            name = f"blocks.{stages[int(stage) - 1]}.res_blocks.{block}{rest}"
        elif head_match:
            name = f"blocks.{head}.proj.{head_match.group(1)}"
        out[name] = value
    return out


def is_pyslowfast(state: dict[str, torch.Tensor]) -> bool:
    """PySlowFast's native layout (``s1.pathway0_stem.*``)."""
    return any(k.startswith("s1.pathway0_stem.") for k in state)


def _pyslowfast_candidates(name: str, head_block: int) -> list[str]:
    """pytorchvideo names a PySlowFast key may have, most specific first."""
    if match := PYSLOWFAST_STEM.match(name):
        pathway, part, rest = match.groups()
        return [
            prefix + tail + rest
            for prefix in ("blocks.0.", f"blocks.0.multipathway_blocks.{pathway}.")
            for tail in PYSLOWFAST_STEM_PARTS[part]
        ]
    if match := PYSLOWFAST_RES.match(name):
        stage, pathway, index, rest = match.groups()
        block = int(stage) - 1
        for theirs, ours in PYSLOWFAST_BLOCK_PARTS:
            if rest.startswith(theirs):
                tail = rest[len(theirs) :]
                return [
                    f"{prefix}res_blocks.{index}.{part}{tail}"
                    for part in ours
                    for prefix in (
                        f"blocks.{block}.",
                        f"blocks.{block}.multipathway_blocks.{pathway}.",
                    )
                ]
        return []
    if match := PYSLOWFAST_FUSE.match(name):
        stage, part, rest = match.groups()
        ours = "conv_fast_to_slow." if part == "conv_f2s" else "norm."
        return [f"blocks.{int(stage) - 1}.multipathway_fusion.{ours}{rest}"]
    if match := PYSLOWFAST_HEAD.match(name):
        part, rest = match.groups()
        return [f"blocks.{head_block}.{PYSLOWFAST_HEAD_PARTS[part]}{rest}"]
    return []


def remap_pyslowfast(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """PySlowFast X3D / SlowFast names -> the pytorchvideo names of `model`.

    Keys with no counterpart in the model keep their PySlowFast name (they are then reported as
    unexpected by `load_state_dict_checked`).
    """
    model_state = model.state_dict()
    head_block = len(getattr(model, "blocks", [])) - 1
    out = {}
    for name, value in state.items():
        candidates = _pyslowfast_candidates(name, head_block)
        fitting = [
            c for c in candidates if c in model_state and model_state[c].shape == value.shape
        ]
        present = [c for c in candidates if c in model_state]
        out[(fitting or present or [name])[0]] = value
    return out


def _split_matches(
    model_state: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: str
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Checkpoint tensors that fit the model, and classifier keys dropped for their shape."""
    fits, dropped, wrong = {}, [], []
    for name, value in state.items():
        if name not in model_state:
            continue
        if value.shape == model_state[name].shape:
            fits[name] = value
        elif name.endswith(CLASSIFIER_SUFFIXES):
            dropped.append(name)
        else:
            wrong.append(
                f"{name}: checkpoint {tuple(value.shape)} vs model {tuple(model_state[name].shape)}"
            )
    if wrong:
        raise ValueError(
            f"{source} does not match this model's architecture: "
            f"{len(wrong)} shape mismatches, e.g. {wrong[:SHOWN_KEYS]}"
        )
    return fits, dropped


def load_state_dict_checked(
    model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint"
) -> LoadReport:
    """Load `state` into `model` non-strictly, refusing another architecture.

    Args:
        model: the target network.
        state: remapped checkpoint tensors.
        source: a name for messages (the file path).

    Returns:
        `LoadReport`; missing and unexpected keys are also logged.

    Raises:
        ValueError: shape mismatches outside the classifier, or fewer than half of the model's
            tensors found in the checkpoint.
    """
    model_state = model.state_dict()
    fits, dropped = _split_matches(model_state, state, source)
    if len(fits) < MIN_MATCHED_FRACTION * len(model_state):
        example = sorted(set(state) - set(model_state))[:SHOWN_KEYS]
        raise ValueError(
            f"{source} does not match this model's architecture ({type(model).__name__}): only "
            f"{len(fits)} of {len(model_state)} model tensors found; unmatched checkpoint keys "
            f"e.g. {example}"
        )
    model.load_state_dict(fits, strict=False)
    report = LoadReport(
        loaded=tuple(sorted(fits)),
        missing=tuple(sorted(set(model_state) - set(fits))),
        unexpected=tuple(sorted(set(state) - set(model_state))),
        dropped_classifier=tuple(sorted(dropped)),
    )
    _log_report(report, source)
    return report


def _log_report(report: LoadReport, source: str) -> None:
    log.info("%s: loaded %d tensors", source, len(report.loaded))
    if report.dropped_classifier:
        log.info("classifier of another size not loaded: %s", list(report.dropped_classifier))
    if report.missing:
        log.warning("missing keys (%d): %s", len(report.missing), list(report.missing[:SHOWN_KEYS]))
    if report.unexpected:
        log.warning(
            "unexpected keys (%d): %s", len(report.unexpected), list(report.unexpected[:SHOWN_KEYS])
        )


def load_pretrained(model: nn.Module, path: str | Path) -> LoadReport:
    """Load a local checkpoint of any supported format into `model` (see the module docstring).

    The format is detected from the keys: mmaction2 ResNet3d and PySlowFast (``s1.pathway0_stem``)
    names are remapped, everything else is expected in our (pytorchvideo / torchvision /
    timm-style) names after unwrapping.
    """
    path = Path(path)
    ckpt = read_checkpoint(path)
    if "meta" in ckpt and "state_dict" in ckpt:
        ckpt = read_mmaction2_checkpoint(path)
    state = extract_state_dict(ckpt)
    from vidlab.models import c3d, swin3d, tsn

    if tsn.is_mmaction2_tsn(state):  # before I3D: the same block names around 2D convolutions
        state = tsn.remap_mmaction2_tsn(state)
    elif is_mmaction2_resnet3d(state):
        state = remap_mmaction2_resnet3d(state, model)
    elif is_pyslowfast(state):
        state = remap_pyslowfast(state, model)
    elif swin3d.is_mmaction2_swin3d(state):
        state = swin3d.with_own_buffers(swin3d.remap_mmaction2_swin3d(state), model)
    elif c3d.is_mmaction2_c3d(state):
        state = c3d.remap_mmaction2_c3d(state)
    elif isinstance(model, swin3d.Swin3D) and swin3d.is_swin2d(state):
        state = swin3d.inflate_swin2d_state(state, model)  # ImageNet initialisation
    return load_state_dict_checked(model, fit_shifted_names(state, model), source=str(path))


def fit_shifted_names(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map plain ResNet names onto TSM's shift-wrapped ones (``layerK.I.conv1.*`` ->
    ``layerK.I.conv1.conv.*``) where only the wrapped name exists in `model`."""
    names = set(model.state_dict())
    out = {}
    for name, value in state.items():
        wrapped = re.sub(r"^(layer\d\.\d+\.conv1\.)", r"\1conv.", name)
        out[wrapped if name not in names and wrapped in names else name] = value
    return out


def inflate_swin2d_into_swin3d(
    model: nn.Module, swin2d_state: dict[str, Any], source: str = "2D Swin"
) -> LoadReport:
    """Initialise a `vidlab.models.swin3d.Swin3D` from ImageNet 2D Swin weights.

    Args:
        model: the Video Swin.
        swin2d_state: a torchvision ``swin_t/s/b`` or timm ``swin_*_patch4_window7_224`` state
            dict (or a checkpoint wrapping one).
        source: a name for messages.

    Returns:
        `LoadReport`: the classifier loads only if its size matches; the 2D relative position
        index buffers are recomputed by the model, never loaded.
    """
    from vidlab.models.swin3d import inflate_swin2d_state

    state = inflate_swin2d_state(extract_state_dict(swin2d_state), model)
    return load_state_dict_checked(model, state, source)


def inflate_vit_into_timesformer(
    model: nn.Module, vit_state: dict[str, torch.Tensor], source: str = "timm ViT"
) -> LoadReport:
    """Initialise a `TimeSformer` from a timm ImageNet ViT state dict.

    Patch embedding, class token, blocks and final norm copy over one to one (the position
    embedding is resampled when the patch grid differs). For divided space-time attention the
    temporal attention and its norm start as copies of the spatial ones, while ``temporal_fc``
    and ``time_embed`` stay zero, so on a static clip the video model computes exactly what the
    image model computes on the frame. The classifier is loaded only if its size matches. With a
    tubelet embedding (``tubelet_size`` k > 1) the 2D patch kernel is repeated over the k frames
    and divided by k, so a static clip still embeds exactly as its frame does.

    Args:
        model: a `vidlab.models.timesformer.TimeSformer`.
        vit_state: a timm ``vit_*_patch16_*`` state dict (or a checkpoint wrapping one).
        source: a name for messages.

    Returns:
        `LoadReport` of the load.
    """
    from timm.layers import resample_abs_pos_embed

    from vidlab.models.timesformer import AttentionType

    state = dict(extract_state_dict(vit_state))
    pos = state.get("pos_embed")
    if pos is not None and pos.shape != model.pos_embed.shape:
        grid = model.patch_embed.grid_size
        state["pos_embed"] = resample_abs_pos_embed(pos, new_size=list(grid), num_prefix_tokens=1)
    proj = state.get("patch_embed.proj.weight")
    tubelet = model.tubelet_size
    if proj is not None and proj.ndim == 4 and tubelet > 1:
        state["patch_embed.proj.weight"] = proj.unsqueeze(2).repeat(1, 1, tubelet, 1, 1) / tubelet
    if model.attention_type is AttentionType.DIVIDED:
        for name in list(state):
            match = re.match(r"^blocks\.(\d+)\.(attn|norm1)\.(.*)$", name)
            if match:
                idx, part, rest = match.groups()
                state[f"blocks.{idx}.temporal_{part}.{rest}"] = state[name].clone()
    return load_state_dict_checked(model, state, source)
