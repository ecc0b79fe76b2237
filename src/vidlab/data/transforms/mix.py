"""Mixup and CutMix on batches of clips, with soft targets.

Mixup (Zhang et al., 2018) blends two clips with weight lam ~ Beta(alpha, alpha); CutMix (Yun et
al., 2019) pastes a box of one clip into the other, the same box in every frame, and sets lam to
the kept area. Each sample is paired with the batch in reverse order (as timm does), and targets
are label-smoothed one-hot vectors mixed with the same lam. Randomness comes from an explicit
generator, so a batch mixes the same way whichever DataLoader worker built it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MixOptions:
    """Mixup / CutMix settings (defaults: the MViT / VideoMAE Kinetics recipes).

    Attributes:
        mixup_alpha: Beta parameter for mixup; 0 disables mixup.
        cutmix_alpha: Beta parameter for CutMix; 0 disables CutMix.
        prob: probability that a batch is mixed at all.
        switch_prob: probability of CutMix instead of mixup when both are enabled.
        label_smoothing: smoothing of the one-hot targets before mixing.
    """

    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    prob: float = 1.0
    switch_prob: float = 0.5
    label_smoothing: float = 0.1

    def __post_init__(self) -> None:
        if self.mixup_alpha < 0 or self.cutmix_alpha < 0:
            raise ValueError(f"alphas must be >= 0, got {self.mixup_alpha}, {self.cutmix_alpha}")
        if self.mixup_alpha == 0 and self.cutmix_alpha == 0:
            raise ValueError("mixup_alpha and cutmix_alpha are both 0: disable mixing instead")
        for name in ("prob", "switch_prob", "label_smoothing"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def smooth_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """(B,) int64 -> (B, num_classes) float32 targets: 1 - smoothing + smoothing / K on the
    label, smoothing / K elsewhere."""
    off = smoothing / num_classes
    target = torch.full(
        (labels.shape[0], num_classes), off, dtype=torch.float32, device=labels.device
    )
    return target.scatter_(1, labels.view(-1, 1), 1.0 - smoothing + off)


class MixupCutmix:
    """Mix a batch of clips and return soft targets.

    Args:
        num_classes: K, the width of the targets.
        options: see `MixOptions`.
    """

    def __init__(self, num_classes: int, options: MixOptions | None = None) -> None:
        self.num_classes = num_classes
        self.options = options or MixOptions()

    def __call__(
        self,
        video: torch.Tensor | list[torch.Tensor],
        labels: torch.Tensor,
        rng: np.random.Generator,
    ) -> tuple[torch.Tensor | list[torch.Tensor], torch.Tensor]:
        """Mix `video` (B, C, T, H, W), or a list of pathways sharing H and W, in place.

        Returns:
            The mixed video and (B, num_classes) float32 soft targets.
        """
        target = smooth_one_hot(labels, self.num_classes, self.options.label_smoothing)
        if rng.uniform() >= self.options.prob:
            return video, target
        pathways = video if isinstance(video, list) else [video]
        if self._use_cutmix(rng):
            lam = self._cutmix(pathways, rng)
        else:
            lam = float(rng.beta(self.options.mixup_alpha, self.options.mixup_alpha))
            for x in pathways:
                partner = x.flip(0)  # a copy, taken before x changes
                x.mul_(lam).add_(partner, alpha=1.0 - lam)
        return video, target * lam + target.flip(0) * (1.0 - lam)

    def _use_cutmix(self, rng: np.random.Generator) -> bool:
        if self.options.mixup_alpha == 0:
            return True
        if self.options.cutmix_alpha == 0:
            return False
        return bool(rng.uniform() < self.options.switch_prob)

    def _cutmix(self, pathways: list[torch.Tensor], rng: np.random.Generator) -> float:
        """Paste the same box of the reversed batch into every pathway; returns the kept area."""
        height, width = pathways[0].shape[-2:]
        lam = float(rng.beta(self.options.cutmix_alpha, self.options.cutmix_alpha))
        cut_h, cut_w = int(height * np.sqrt(1.0 - lam)), int(width * np.sqrt(1.0 - lam))
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
        left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
        for x in pathways:
            x[..., top:bottom, left:right] = x.flip(0)[..., top:bottom, left:right]
        return 1.0 - (bottom - top) * (right - left) / (height * width)
