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
        return self.min_factor + (1.0 - self.min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


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


SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]
