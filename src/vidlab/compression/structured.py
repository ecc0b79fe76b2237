"""Structured channel pruning with torch-pruning's dependency graph (`callbacks=prune_structured`).

Channels are really removed: torch-pruning (Fang et al., DepGraph, CVPR 2023,
https://arxiv.org/abs/2301.12900) traces the network once, groups every layer whose channels are
coupled (a convolution's output channels with the following BatchNorm, the depthwise convolution
that must keep groups == channels, the squeeze-excitation convolutions, both sides of a residual
addition) and slices all of them together. On X3D it handles Conv3d, BatchNorm3d, the depthwise
3x3x3 convolutions, the SE blocks and the residual branches. The classifier (every ``nn.Linear``
with ``num_classes`` outputs) is excluded so the output shape is unchanged.

Checkpoint design: the pruned network no longer matches its model config, so the checkpoint's
``vidlab`` meta gets a ``pruned_structure`` entry (`vidlab.models.structure`), so the checkpoint
stays weights-only and `vidlab.checkpoint.load_network` rebuilds it from the config + structure +
weights.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import nn

from vidlab.checkpoint import META_KEY, load_checkpoint
from vidlab.models.complexity import count_complexity
from vidlab.models.structure import (
    STRUCTURE_META_KEY,
    _classifiers,
    _sync_num_features,
    layer_shapes,
    restore_structure,
)
from vidlab.utils.runinfo import write_json

log = logging.getLogger(__name__)

REPORT_FILE = "structured_pruning.json"
IMPORTANCE_NORMS = {"l1": 1, "l2": 2}


@dataclass(frozen=True)
class PruningResult:
    """Size and cost of the network before and after channel pruning (per clip).

    Attributes:
        ratio: fraction of channels removed per prunable group.
        params_before / params_after: parameter counts.
        gflops_before / gflops_after: multiply-adds per clip, 1e9 units.
    """

    ratio: float
    params_before: int
    params_after: int
    gflops_before: float
    gflops_after: float


def prune_channels(
    net: nn.Module,
    example: torch.Tensor,
    *,
    ratio: float,
    importance: str = "l1",
    global_pruning: bool = False,
    round_to: int | None = None,
) -> PruningResult:
    """Remove `ratio` of the channels of every prunable layer group of `net`, in place.

    Args:
        net: the network (any torch-pruning-traceable conv net); its classifier is kept.
        example: an input batch (B, 3, T, H, W) used to trace the dependency graph.
        ratio: fraction of channels to remove per group, in [0, 1).
        importance: channel importance, "l1" or "l2" weight magnitude.
        global_pruning: rank channels across layers instead of per layer.
        round_to: keep channel counts multiples of this (None: any count).

    Returns:
        `PruningResult` with params and GFLOPs per clip before and after.
    """
    import torch_pruning as tp

    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"structured pruning ratio must be in [0, 1), got {ratio}")
    if importance not in IMPORTANCE_NORMS:
        raise ValueError(
            f"importance must be one of {sorted(IMPORTANCE_NORMS)}, got {importance!r}"
        )
    was_training = net.training
    net.eval()
    one = example[:1]
    before = count_complexity(net, one)
    pruner = tp.pruner.MetaPruner(
        net,
        one,
        importance=tp.importance.MagnitudeImportance(p=IMPORTANCE_NORMS[importance]),
        pruning_ratio=ratio,
        ignored_layers=_classifiers(net),
        global_pruning=global_pruning,
        round_to=round_to,
    )
    pruner.step()
    _sync_num_features(net)
    after = count_complexity(net, one)
    net.train(was_training)
    return PruningResult(ratio, before.params, after.params, before.gflops, after.gflops)


class StructuredPruning(pl.Callback):
    """Prune channels once before fitting, then the run fine-tunes the pruned network.

    Pruning happens in ``setup`` (before the optimizer is built, so it sees the new parameters).
    Start from trained weights with `init_ckpt` (a vidlab checkpoint of the same model config, or
    an already pruned one for iterative pruning). The pruned shapes go into the checkpoint meta
    (see the module docstring) and the before/after figures to ``<report_dir>/structured_pruning.json``.

    Args:
        ratio: fraction of channels removed per layer group.
        init_ckpt: weights to prune and fine-tune (None: prune the freshly initialised network).
        importance: "l1" or "l2" channel magnitude.
        global_pruning: rank channels globally rather than per layer.
        round_to: channel-count multiple (e.g. 8 for SIMD-friendly widths); None for any.
        report_dir: folder of the report (the run directory); None writes none.
    """

    def __init__(
        self,
        *,
        ratio: float = 0.5,
        init_ckpt: str | None = None,
        importance: str = "l1",
        global_pruning: bool = False,
        round_to: int | None = None,
        report_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.ratio = ratio
        self.init_ckpt = init_ckpt
        self.importance = importance
        self.global_pruning = global_pruning
        self.round_to = round_to
        self.report_dir = Path(report_dir) if report_dir else None
        self.result: PruningResult | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.result is not None:
            return
        meta = pl_module.checkpoint_meta
        if self.init_ckpt:
            self._load_init(pl_module)
        spec = meta.get("input", {})
        if "num_frames" not in spec or "crop_size" not in spec:
            raise ValueError(
                "structured pruning needs the run's input spec (num_frames, crop_size) "
                f"in checkpoint_meta['input'], got {spec!r}"
            )
        size = int(spec["crop_size"])
        example = torch.zeros(1, 3, int(spec["num_frames"]), size, size)
        self.result = prune_channels(
            pl_module.net,
            example,
            ratio=self.ratio,
            importance=self.importance,
            global_pruning=self.global_pruning,
            round_to=self.round_to,
        )
        meta[STRUCTURE_META_KEY] = layer_shapes(pl_module.net)
        log.info(
            "structured pruning %.0f%%: params %d -> %d, GFLOPs/clip %.4f -> %.4f",
            100 * self.ratio,
            self.result.params_before,
            self.result.params_after,
            self.result.gflops_before,
            self.result.gflops_after,
        )
        if self.report_dir is not None and trainer.is_global_zero:
            write_json(
                self.report_dir / REPORT_FILE, {**asdict(self.result), "init_ckpt": self.init_ckpt}
            )

    def _load_init(self, pl_module: pl.LightningModule) -> None:
        ckpt = load_checkpoint(self.init_ckpt)
        restore_structure(pl_module.net, ckpt[META_KEY])
        pl_module.load_state_dict(ckpt["state_dict"])
        log.info("structured pruning starts from %s", self.init_ckpt)
