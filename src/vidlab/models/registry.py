"""Named model variants: the zoo's string names, their builders, input sizes and published figures.

`create_model("x3d_m", num_classes=400)` builds a variant; `list_models()` names them all; a
wrong name raises an error that lists the valid ones. Each `ModelSpec` records the input the
variant was published with (frames x crop, and SlowFast's pathway ratio) and, where a paper or a
model zoo publishes them, its parameter count and GFLOPs per view, with the source, so the
complexity task (`vidlab.tasks.complexity`) can compare our counts with them.

Reference figures are multiply-adds per view (the convention of all these papers and zoos) with a
400-class (Kinetics-400) classifier, at the view size they were published for, which is not always
the training input: the SlowFast paper and the pytorchvideo zoo count ResNet-family models on
their 256x256 test crops (our count at 224 is exactly (224/256)^2 of theirs), X3D and the
transformers at their training crop.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from vidlab.models.base import VideoBackbone

PYSLOWFAST_ZOO = "PySlowFast MODEL_ZOO.md (facebookresearch/SlowFast), X3D table"
PYTORCHVIDEO_ZOO = (
    "pytorchvideo docs/source/model_zoo.md, Kinetics-400 table (per view of "
    "3 x 10; views are 256x256 test crops as in the SlowFast paper)"
)
TEST_CROP = 256  # SlowFast-paper test views: 3 crops of 256x256 per clip
TORCHVISION_META = "torchvision {weights}.meta (_ops, num_params)"
TIMESFORMER_PAPER = "TimeSformer paper (arXiv 2102.05095) Table 1, params"
# Table 3 of the paper gives 0.59 inference TFLOPs for divided space-time attention over its 3
# test views (1 clip x 3 crops): 590 / 3 GFLOPs per view.
TIMESFORMER_PAPER_FLOPS = TIMESFORMER_PAPER + "; Table 3, 0.59 TFLOPs / 3 views"
TIMESFORMER_TEST_VIEWS = 3
TIMESFORMER_TFLOPS = 0.59
GIGA_PER_TERA = 1000
VIDEO_SWIN_PAPER = (
    "Video Swin paper (arXiv 2106.13230) Table 1, FLOPs per view of 32x224 (4 x 3 views); "
    "params: torchvision {weights}.meta num_params"
)
MMACTION_TSM = (
    "mmaction2 configs/recognition/tsm/metafile.yml, tsm_r50_1x1x8_50e_kinetics400_rgb (8 segments "
    "of 224): FLOPs 32965562368, Parameters 24327632"
)
# TSN is TSM without the (parameter- and multiply-add-free) shift: the same figures.
MMACTION_TSN = MMACTION_TSM + "; TSN = TSM without the shift"
MMACTION_C3D = (
    "mmaction2 configs/recognition/c3d/metafile.yml (c3d_sports1m-pretrained_8xb30-16x1x1-45e_"
    "ucf101-rgb: Parameters 78409573 with a 101-class head, FLOPs 38615475200)"
)


@dataclass(frozen=True)
class Reference:
    """Published complexity of a variant at its spec input size.

    Attributes:
        params_m: parameters in millions (None: not published).
        gflops: multiply-adds per view in units of 1e9 (None: not published).
        source: where the figures come from.
        num_frames: clip length T of the counted view (SlowFast: Fast pathway); None: the spec's.
        crop_size: crop size of the counted view; None: the spec's.
    """

    params_m: float | None
    gflops: float | None
    source: str
    num_frames: int | None = None
    crop_size: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A named variant.

    Attributes:
        name: registry name.
        builder: dotted path of a builder taking keyword-only arguments and `num_classes`.
        kwargs: builder arguments of this variant.
        num_frames: published clip length T (for SlowFast: the Fast pathway's frames).
        crop_size: published crop size (H = W) in pixels.
        sized_builder: the builder takes `num_frames` and `crop_size` (it must be built for them).
        slowfast_alpha: Fast / Slow frame-rate ratio for two-pathway models, else None.
        reference: published complexity, or None.
    """

    name: str
    builder: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    num_frames: int = 16
    crop_size: int = 224
    sized_builder: bool = False
    slowfast_alpha: int | None = None
    reference: Reference | None = None


def _pytorchvideo_ref(params_m: float, gflops: float) -> Reference:
    """A pytorchvideo Kinetics-400 zoo figure (counted on 256x256 test views)."""
    return Reference(params_m, gflops, PYTORCHVIDEO_ZOO, crop_size=TEST_CROP)


def _x3d(name: str, frames: int, crop: int, depth: float, ref: Reference) -> ModelSpec:
    # X3D paper settings: width 2.0, bottleneck 2.25, head 2048 for XS/S/M/L; depth 2.2 or 5.0.
    kwargs = {
        "width_factor": 2.0,
        "depth_factor": depth,
        "bottleneck_factor": 2.25,
        "head_dim_out": 2048,
    }
    return ModelSpec(
        name,
        "vidlab.models.x3d.create_x3d",
        kwargs,
        frames,
        crop,
        sized_builder=True,
        reference=ref,
    )


def _slowfast(
    name: str, depth: int, alpha: int, fusion: int, frames: int, ref: Reference
) -> ModelSpec:
    kwargs = {"depth": depth, "alpha": alpha, "fusion_kernel": fusion}
    return ModelSpec(
        name,
        "vidlab.models.slowfast.create_slowfast",
        kwargs,
        frames,
        224,
        slowfast_alpha=alpha,
        reference=ref,
    )


def _timesformer(name: str, attention: str, ref: Reference | None) -> ModelSpec:
    return ModelSpec(
        name,
        "vidlab.models.timesformer.create_timesformer",
        {"attention_type": attention},
        8,
        224,
        sized_builder=True,
        reference=ref,
    )


def _swin3d(name: str, variant: str, params_m: float, gflops: float, weights: str) -> ModelSpec:
    return ModelSpec(
        name,
        "vidlab.models.swin3d.create_swin3d",
        {"variant": variant},
        32,
        224,
        reference=Reference(params_m, gflops, VIDEO_SWIN_PAPER.format(weights=weights)),
    )


_SPECS: tuple[ModelSpec, ...] = (
    _x3d("x3d_xs", 4, 160, 2.2, Reference(3.8, 0.60, PYSLOWFAST_ZOO)),
    _x3d("x3d_s", 13, 160, 2.2, Reference(3.8, 1.96, PYSLOWFAST_ZOO)),
    _x3d("x3d_m", 16, 224, 2.2, Reference(3.8, 4.73, PYSLOWFAST_ZOO)),
    _x3d("x3d_l", 16, 312, 5.0, Reference(6.2, 18.37, PYSLOWFAST_ZOO)),
    # PySlowFast configs: 8x8 R50 fuses with a 7x1x1 kernel, 4x16 R50 and 8x8 R101 with 5x1x1.
    _slowfast("slowfast_r50_8x8", 50, 4, 7, 32, _pytorchvideo_ref(34.57, 65.71)),
    _slowfast("slowfast_r50_4x16", 50, 8, 5, 32, _pytorchvideo_ref(34.48, 36.69)),
    _slowfast("slowfast_r101_8x8", 101, 4, 5, 32, _pytorchvideo_ref(62.83, 127.20)),
    _timesformer(
        "timesformer_base_8x224",
        "divided_space_time",
        Reference(
            121.4,
            TIMESFORMER_TFLOPS * GIGA_PER_TERA / TIMESFORMER_TEST_VIEWS,
            TIMESFORMER_PAPER_FLOPS,
        ),
    ),
    _timesformer(
        "timesformer_base_8x224_jointst",
        "joint_space_time",
        Reference(85.9, None, TIMESFORMER_PAPER),
    ),
    _timesformer(
        "timesformer_base_8x224_spaceonly", "space_only", Reference(85.9, None, TIMESFORMER_PAPER)
    ),
    ModelSpec(
        "r2plus1d_18",
        "vidlab.models.torchvision_models.create_r2plus1d_18",
        {},
        16,
        112,
        reference=Reference(31.505, 40.519, TORCHVISION_META.format(weights="R2Plus1D_18_Weights")),
    ),
    ModelSpec(
        "r3d_18",
        "vidlab.models.torchvision_models.create_r3d_18",
        {},
        16,
        112,
        reference=Reference(33.371, 40.697, TORCHVISION_META.format(weights="R3D_18_Weights")),
    ),
    ModelSpec(
        "mvit_v2_s",
        "vidlab.models.mvit.create_mvit_v2_s",
        {},
        16,
        224,
        reference=Reference(34.538, 64.224, TORCHVISION_META.format(weights="MViT_V2_S_Weights")),
    ),
    ModelSpec(
        "i3d_r50",
        "vidlab.models.resnet3d.create_i3d_r50",
        {},
        8,
        224,
        reference=_pytorchvideo_ref(28.04, 37.53),
    ),
    ModelSpec(
        "c2d_r50",
        "vidlab.models.resnet3d.create_c2d_r50",
        {},
        8,
        224,
        reference=_pytorchvideo_ref(24.33, 25.89),
    ),
    _swin3d("swin3d_t", "t", 28.158, 88.0, "Swin3D_T_Weights"),
    _swin3d("swin3d_s", "s", 49.817, 166.0, "Swin3D_S_Weights"),
    _swin3d("swin3d_b", "b", 88.049, 282.0, "Swin3D_B_Weights"),
    ModelSpec(
        "tsn_r50",
        "vidlab.models.tsn.create_tsn",
        {"backbone": "resnet50"},
        8,
        224,
        sized_builder=True,
        reference=Reference(24.328, 32.97, MMACTION_TSN),
    ),
    ModelSpec(
        "tsm_r50",
        "vidlab.models.tsn.create_tsm",
        {"backbone": "resnet50", "shift": "offline"},
        8,
        224,
        sized_builder=True,
        reference=Reference(24.328, 32.97, MMACTION_TSM),
    ),
    ModelSpec(
        "c3d",
        "vidlab.models.c3d.create_c3d",
        {},
        16,
        112,
        sized_builder=True,
        reference=Reference(78.41, 38.62, MMACTION_C3D),
    ),
)
REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def list_models() -> list[str]:
    """All registered names, sorted."""
    return sorted(REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The spec of `name`; an unknown name raises a KeyError listing the valid ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r}; registered models: {', '.join(list_models())}"
        ) from None


def _import_builder(path: str) -> Callable[..., VideoBackbone]:
    module_name, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def create_model(
    name: str,
    *,
    num_classes: int,
    num_frames: int | None = None,
    crop_size: int | None = None,
    **overrides: Any,
) -> VideoBackbone:
    """Build the registered variant `name`.

    Args:
        name: a name from `list_models()`.
        num_classes: classifier outputs (0: embedding out).
        num_frames: clip length the model is built for (None: the published one). Only models
            whose builder is sized by the input (X3D, TimeSformer) use it.
        crop_size: crop size the model is built for (None: the published one); as `num_frames`.
        **overrides: other builder arguments (e.g. ``dropout_rate``), replacing the variant's.

    Returns:
        The randomly initialised model (load weights with `vidlab.models.weights`).
    """
    spec = get_spec(name)
    kwargs = {**spec.kwargs, **overrides}
    builder = _import_builder(spec.builder)
    if spec.sized_builder:
        accepted = inspect.signature(builder).parameters
        sizes = {
            "num_frames": spec.num_frames if num_frames is None else int(num_frames),
            "crop_size": spec.crop_size if crop_size is None else int(crop_size),
        }
        kwargs |= {k: v for k, v in sizes.items() if k in accepted}  # TSM: frames only
    return builder(num_classes=int(num_classes), **kwargs)


def example_input(
    name: str,
    *,
    batch_size: int = 1,
    num_frames: int | None = None,
    crop_size: int | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor | list[torch.Tensor]:
    """A random input in the layout the model takes (``[slow, fast]`` for SlowFast).

    Args:
        name: a registered name.
        batch_size: B.
        num_frames: T (the Fast pathway's for SlowFast); None: the published one.
        crop_size: H = W in pixels; None: the published one.
        device: where to allocate (``"meta"`` allocates nothing, for counting FLOPs).

    Returns:
        (B, 3, T, H, W) tensor, or ``[slow, fast]`` with slow (B, 3, T / alpha, H, W).
    """
    spec = get_spec(name)
    t = spec.num_frames if num_frames is None else num_frames
    s = spec.crop_size if crop_size is None else crop_size
    clip = torch.randn(batch_size, 3, t, s, s, device=device)  # (B, 3, T, H, W)
    if spec.slowfast_alpha is None:
        return clip
    from vidlab.models.slowfast import pack_pathways

    return pack_pathways(clip, spec.slowfast_alpha)
