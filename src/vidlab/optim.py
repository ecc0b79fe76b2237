"""Optimizer parameter groups and learning-rate schedules used by the Lightning modules.

Optimizers and schedulers are configured as Hydra partials (``_partial_: true``); the module calls
them with the parameter groups / optimizer and the number of steps known only at fit time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR


def param_groups(model: nn.Module, skip: Iterable[str] = ()) -> list[dict]:
    """Split parameters into a decayed group and a group with weight decay 0.

    The decayed group keeps the optimizer's own ``weight_decay``. Biases, normalisation parameters
    (any parameter with fewer than 2 dims) and the names in `skip` (a model's ``no_weight_decay()``,
    matched as suffixes) get none.
    """
    skip = tuple(skip)
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or any(name.endswith(s) for s in skip):
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {"params": decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class WarmupCosine:
    """LR multiplier: linear warm-up from `start_factor` to 1, then cosine decay to `min_factor`.

    A small class rather than a closure so that the scheduler's state_dict stays plain data.
    """

    def __init__(self, total_steps: int, warmup_steps: int, start_factor: float, min_factor: float):
        self.total_steps = max(total_steps, 1)
        self.warmup_steps = min(max(warmup_steps, 0), self.total_steps)
        self.start_factor = start_factor
        self.min_factor = min_factor

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.start_factor + (1.0 - self.start_factor) * step / self.warmup_steps
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.min_factor + (1.0 - self.min_factor) * 0.5 * (
            1.0 + math.cos(math.pi * progress)
        )


def lightning_optimizers(
    optimizer: torch.optim.Optimizer,
    scheduler_factory: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None,
    total_steps: int,
) -> dict:
    """``configure_optimizers``' return value: the optimizer and, when a scheduler partial is
    given, its scheduler built for `total_steps` and stepped every optimizer step."""
    if scheduler_factory is None:
        return {"optimizer": optimizer}
    scheduler = scheduler_factory(optimizer, total_steps=total_steps)
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
    }


def cosine_with_warmup(
    optimizer: torch.optim.Optimizer,
    *,
    total_steps: int,
    warmup_fraction: float = 0.1,
    start_factor: float = 0.01,
    min_factor: float = 0.0,
) -> LambdaLR:
    """Per-step cosine schedule with linear warm-up over the first `warmup_fraction` of steps."""
    return LambdaLR(
        optimizer,
        WarmupCosine(total_steps, round(warmup_fraction * total_steps), start_factor, min_factor),
    )


class PiecewiseConstant:
    """LR multiplier: optional linear warm-up, then constant pieces.

    ``factors[i]`` applies from ``milestones[i] * total_steps`` on (fractions of training, so
    epoch-based published schedules carry over to any dataset size); before the first milestone
    the multiplier is 1.
    """

    def __init__(
        self,
        total_steps: int,
        milestones: list[float],
        factors: list[float],
        warmup_steps: int = 0,
        start_factor: float = 1.0,
    ):
        if len(milestones) != len(factors):
            raise ValueError(
                f"step schedule needs one factor per milestone, got milestones "
                f"{milestones} and factors {factors}"
            )
        if list(milestones) != sorted(milestones) or any(not 0 <= m <= 1 for m in milestones):
            raise ValueError(f"milestones must be increasing fractions in [0, 1], got {milestones}")
        self.total_steps = max(total_steps, 1)
        self.boundaries = [round(m * self.total_steps) for m in milestones]
        self.factors = [float(f) for f in factors]
        self.warmup_steps = min(max(warmup_steps, 0), self.total_steps)
        self.start_factor = start_factor

    def __call__(self, step: int) -> float:
        factor = 1.0
        for boundary, value in zip(self.boundaries, self.factors, strict=True):
            if step >= boundary:
                factor = value
        if step < self.warmup_steps:
            ramp = self.start_factor + (1.0 - self.start_factor) * step / self.warmup_steps
            return min(ramp, factor)
        return factor


def steps_with_warmup(
    optimizer: torch.optim.Optimizer,
    *,
    total_steps: int,
    milestones: list[float],
    factors: list[float],
    warmup_fraction: float = 0.0,
    start_factor: float = 1.0,
) -> LambdaLR:
    """Step-decay schedule (e.g. TimeSformer's x0.1 at epochs 11 and 14 of 15: milestones
    ``[11/15, 14/15]``, factors ``[0.1, 0.01]``) with an optional linear warm-up."""
    return LambdaLR(
        optimizer,
        PiecewiseConstant(
            total_steps,
            list(milestones),
            list(factors),
            round(warmup_fraction * total_steps),
            start_factor,
        ),
    )


SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]


class FinetuneOptimizer:
    """Optimizer partial that builds fine-tuning parameter groups from the network itself.

    `VideoClassifier.configure_optimizers` calls its optimizer partial with the default
    decay / no-decay groups; this wrapper replaces them with
    `vidlab.models.layers.finetune.finetune_param_groups` of `net`: the classifier at the
    optimizer's ``lr`` and the backbone at ``lr * backbone_lr_mult`` (CNNs), or layer-wise decay
    (transformers). A plain class with plain attributes, so it pickles like a partial.

    Args:
        factory: the optimizer partial from the config (must carry ``lr``).
        net: the network whose parameters are grouped.
        backbone_lr_mult: backbone learning rate relative to the classifier's.
        layer_decay: layer-wise decay factor (overrides `backbone_lr_mult`), or None.
    """

    def __init__(
        self,
        factory: Callable[..., torch.optim.Optimizer],
        net: nn.Module,
        *,
        backbone_lr_mult: float = 1.0,
        layer_decay: float | None = None,
    ) -> None:
        keywords = getattr(factory, "keywords", {})
        if "lr" not in keywords:
            raise ValueError(
                f"fine-tuning learning rates need the optimizer's lr; the optimizer "
                f"partial {factory!r} has none (set optimizer.lr)"
            )
        self.factory = factory
        self.net = net
        self.lr = float(keywords["lr"])
        self.backbone_lr_mult = backbone_lr_mult
        self.layer_decay = layer_decay

    def __call__(self, params: object = None) -> torch.optim.Optimizer:
        from vidlab.models.layers.finetune import finetune_param_groups

        skip = self.net.no_weight_decay() if hasattr(self.net, "no_weight_decay") else ()
        groups = finetune_param_groups(
            self.net,
            lr=self.lr,
            backbone_lr_mult=self.backbone_lr_mult,
            layer_decay=self.layer_decay,
            no_weight_decay=skip,
        )
        return self.factory(groups)


def linear_scaled_lr(base_lr: float, base_batch: int, batch: int) -> float:
    """The linear scaling rule (Goyal et al., 2017): lr proportional to the total batch.

    Args:
        base_lr: published learning rate ...
        base_batch: ... at this total batch (clips per optimizer step over all GPUs).
        batch: this run's total batch (GPUs x clips per GPU x accumulated batches).
    """
    if base_batch <= 0 or batch <= 0:
        raise ValueError(
            f"batch sizes must be positive, got base_batch={base_batch}, batch={batch}"
        )
    return base_lr * batch / base_batch
