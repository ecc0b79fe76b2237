"""Input normalisation layers shared by the zoo's model files."""

from __future__ import annotations

import torch
from torch import nn


class ClipStandardize(nn.Module):
    """Standardise every clip on its own: per channel, over its frames and pixels.

    A network's first layer sees a clip's overall colour and contrast as much as its content. When
    they vary a lot from clip to clip and say nothing about the class (the synthetic actions draw
    every background and actor colour at random), a network trained from scratch first has to
    learn to discount them: a small TimeSformer stalls at chance, and a small X3D spends epochs on
    a plateau that the position of the actor alone explains (see the README). Removing each clip's
    own mean and scale takes that away; a static background then also sits near zero. The
    statistics span all frames, so they carry no frame order. Per-example input normalisation of
    this kind is common for audio (per-utterance mean and variance normalisation).
    """

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> same shape, zero mean and unit standard deviation per (clip, channel)."""
        std, mean = torch.std_mean(x, dim=(2, 3, 4), keepdim=True)
        return (x - mean) / std.clamp_min(self.eps)
