"""Unstructured magnitude pruning with a sparsity schedule (`callbacks=prune_unstructured`).

Weights of the convolution and linear layers are zeroed by L1 magnitude with
`torch.nn.utils.prune`, either per layer (every layer at the same sparsity) or globally (one
threshold over all of them). The sparsity ramps up during training with the cubic schedule of
Zhu & Gupta 2017 ("To prune, or not to prune", https://arxiv.org/abs/1710.01878):

    s(t) = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_1 - t_0))^3   for t_0 <= t <= t_1,

fast at first, when many redundant weights remain, slowing down as the target s_f is approached.

Each update makes the previous masks permanent and prunes again at the new level; weights already
zero have the smallest magnitude, so masks only grow. Saved checkpoints always hold plain
``weight`` tensors (``weight_orig * weight_mask``), so they load into an unpruned network; at the
end of fitting the pruning is made permanent (`torch.nn.utils.prune.remove`) and a sparsity report
(per layer and global) is logged and written to ``<report_dir>/sparsity_report.csv`` / ``.json``.

Unstructured zeros shrink compressed files and help sparse kernels, not dense eager latency; for
speed use `vidlab.compression.structured`.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn.utils import prune

from vidlab.utils.runinfo import write_json

log = logging.getLogger(__name__)

PRUNABLE_TYPES: dict[str, type[nn.Module]] = {
    "Conv1d": nn.Conv1d,
    "Conv2d": nn.Conv2d,
    "Conv3d": nn.Conv3d,
    "Linear": nn.Linear,
}
SCOPES = ("global", "layer")
ORIG_SUFFIX = "_orig"
MASK_SUFFIX = "_mask"
PARAM = "weight"


def cubic_sparsity(
    step: int, *, final: float, start_step: int, end_step: int, initial: float = 0.0
) -> float:
    """Target sparsity at `step` of the Zhu & Gupta cubic schedule (0 before `start_step`,
    `final` from `end_step` on)."""
    if step < start_step:
        return 0.0
    if step >= end_step or end_step <= start_step:
        return final
    progress = (step - start_step) / (end_step - start_step)
    return final + (initial - final) * (1.0 - progress) ** 3


def prunable_layers(
    net: nn.Module,
    layer_types: tuple[str, ...] = ("Conv3d", "Conv2d", "Linear"),
    exclude: tuple[str, ...] = (),
) -> list[tuple[str, nn.Module]]:
    """(name, module) of the layers whose weights are pruned; names in `exclude` (prefixes) skip."""
    unknown = [t for t in layer_types if t not in PRUNABLE_TYPES]
    if unknown:
        raise ValueError(
            f"unknown prunable layer types {unknown}; expected some of {sorted(PRUNABLE_TYPES)}"
        )
    types = tuple(PRUNABLE_TYPES[t] for t in layer_types)
    return [
        (n, m)
        for n, m in net.named_modules()
        if isinstance(m, types) and not any(n.startswith(e) for e in exclude)
    ]


def make_permanent(layers: list[tuple[str, nn.Module]]) -> None:
    """Fold the masks into the weights (`prune.remove`); layers without a mask are left alone."""
    for _, m in layers:
        if prune.is_pruned(m) and hasattr(m, PARAM + MASK_SUFFIX):
            prune.remove(m, PARAM)


def apply_sparsity(layers: list[tuple[str, nn.Module]], sparsity: float, scope: str) -> None:
    """Prune `layers` by L1 magnitude to `sparsity` (fraction of zero weights), per layer or global.

    Previous masks are made permanent first, so zeros stay zero and masks nest.
    """
    if scope not in SCOPES:
        raise ValueError(f"pruning scope must be one of {SCOPES}, got {scope!r}")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    make_permanent(layers)
    if scope == "global":
        prune.global_unstructured(
            [(m, PARAM) for _, m in layers], pruning_method=prune.L1Unstructured, amount=sparsity
        )
    else:
        for _, m in layers:
            prune.l1_unstructured(m, PARAM, amount=sparsity)


@dataclass(frozen=True)
class LayerSparsity:
    """Zero count of one layer's weight (name ``"global"`` for the total)."""

    name: str
    numel: int
    zeros: int

    @property
    def sparsity(self) -> float:
        return self.zeros / max(self.numel, 1)


def sparsity_report(layers: list[tuple[str, nn.Module]]) -> list[LayerSparsity]:
    """Per-layer zero counts of the effective weights, then a ``global`` row."""
    rows = []
    for name, m in layers:
        weight = getattr(m, PARAM).detach()  # the masked weight while pruning is active
        rows.append(LayerSparsity(name, weight.numel(), int((weight == 0).sum())))
    rows.append(LayerSparsity("global", sum(r.numel for r in rows), sum(r.zeros for r in rows)))
    return rows


def write_sparsity_report(rows: list[LayerSparsity], out_dir: Path) -> None:
    """``sparsity_report.csv`` (layer, numel, zeros, sparsity) and ``sparsity_report.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "sparsity_report.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["layer", "numel", "zeros", "sparsity"])
        for r in rows:
            writer.writerow([r.name, r.numel, r.zeros, f"{r.sparsity:.6f}"])
    write_json(
        out_dir / "sparsity_report.json",
        {"layers": [{**asdict(r), "sparsity": r.sparsity} for r in rows]},
    )


def plain_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with pruning reparametrisations (``x.weight_orig``, ``x.weight_mask``) folded
    into plain ``x.weight`` tensors; other entries unchanged, order kept."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(PARAM + MASK_SUFFIX):
            continue
        if key.endswith(PARAM + ORIG_SUFFIX):
            base = key[: -len(ORIG_SUFFIX)]
            out[base] = value * state[base + MASK_SUFFIX]
        else:
            out[key] = value
    return out


class UnstructuredPruning(pl.Callback):
    """Ramp L1 unstructured sparsity during training; permanent at the end of fitting.

    Args:
        sparsity: final fraction of zero weights (per layer, or over all pruned layers if global).
        scope: "global" or "layer".
        start_fraction / end_fraction: the ramp runs over this part of the training steps.
        update_every_n_steps: the mask is recomputed this often during the ramp.
        layer_types: layer classes pruned ("Conv3d", "Conv2d", "Conv1d", "Linear").
        exclude: module-name prefixes left dense (e.g. the classifier ``blocks.5.proj``).
        report_dir: folder of the sparsity report (the run directory); None writes none.
    """

    def __init__(
        self,
        *,
        sparsity: float = 0.5,
        scope: str = "global",
        start_fraction: float = 0.0,
        end_fraction: float = 0.75,
        update_every_n_steps: int = 10,
        layer_types: tuple[str, ...] | list[str] = ("Conv3d", "Conv2d", "Linear"),
        exclude: tuple[str, ...] | list[str] = (),
        report_dir: str | None = None,
    ) -> None:
        super().__init__()
        if scope not in SCOPES:
            raise ValueError(f"pruning scope must be one of {SCOPES}, got {scope!r}")
        if not 0.0 <= start_fraction <= end_fraction <= 1.0:
            raise ValueError(
                "need 0 <= start_fraction <= end_fraction <= 1, got "
                f"{start_fraction}, {end_fraction}"
            )
        self.sparsity = sparsity
        self.scope = scope
        self.start_fraction = start_fraction
        self.end_fraction = end_fraction
        self.update_every_n_steps = max(int(update_every_n_steps), 1)
        self.layer_types = tuple(layer_types)
        self.exclude = tuple(exclude)
        self.report_dir = Path(report_dir) if report_dir else None
        self.current = 0.0
        self.report: list[LayerSparsity] = []
        self._layers: list[tuple[str, nn.Module]] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._layers = prunable_layers(pl_module.net, self.layer_types, self.exclude)
        if not self._layers:
            raise ValueError(
                f"no layer of types {self.layer_types} to prune in "
                f"{type(pl_module.net).__name__} (exclude={self.exclude})"
            )

    def target_at(self, step: int, total_steps: int) -> float:
        """Scheduled sparsity at optimizer step `step` of `total_steps`."""
        return cubic_sparsity(
            step,
            final=self.sparsity,
            start_step=int(self.start_fraction * total_steps),
            end_step=int(self.end_fraction * total_steps),
        )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        target = self.target_at(step, int(trainer.estimated_stepping_batches))
        due = step % self.update_every_n_steps == 0 or target == self.sparsity
        if due and target > self.current:
            apply_sparsity(self._layers, target, self.scope)
            self.current = target
        pl_module.log("train/sparsity_target", self.current, on_step=True, on_epoch=False)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["state_dict"] = plain_state_dict(checkpoint["state_dict"])

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        make_permanent(self._layers)
        self.report = sparsity_report(self._layers)
        total = self.report[-1]
        log.info(
            "unstructured pruning done: global sparsity %.4f (%d of %d weights zero, target %.4f)",
            total.sparsity,
            total.zeros,
            total.numel,
            self.sparsity,
        )
        if self.report_dir is not None and trainer.is_global_zero:
            write_sparsity_report(self.report, self.report_dir)

    def state_dict(self) -> dict[str, Any]:
        return {"current": self.current}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # A resumed run starts from plain (already zeroed) weights: the next update re-masks them.
        self.current = 0.0
