"""Models with several inputs: what each input is, and batches that hold one array per input.

Most exported networks take one tensor (a clip, a crop, an image). Some take several: SlowFast
takes its Slow and Fast pathways, which are two temporal samplings of one decoded clip. The export
stage and the runtimes treat a batch as either one array or a tuple of arrays, one per input, in
the order of the graph's inputs; the helpers here slice, count, repeat and convert both alike.

An `InputSpec` says how one input is built from the decoded clip of ``num_frames`` frames: every
``temporal_stride``-th frame of it (SlowFast: Slow = stride alpha, Fast = stride 1). A bundle card
lists them under ``inputs`` and `vidlab.export.inference` builds them from decoded frames with
`split_clip`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

#: One input's batch, or one batch per input (a multi-input model).
Batch = np.ndarray | tuple[np.ndarray, ...]
TensorBatch = torch.Tensor | tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class InputSpec:
    """One graph input built from the decoded clip.

    Attributes:
        name: the graph input's name.
        num_frames: frames of this input.
        temporal_stride: it takes every `temporal_stride`-th frame of the decoded clip.
    """

    name: str
    num_frames: int
    temporal_stride: int = 1

    def card(self, channels: int, crop_size: int) -> dict[str, Any]:
        """The card's entry for this input (a float32 NCTHW batch)."""
        return {
            "name": self.name,
            "dtype": "float32",
            "layout": "NCTHW",
            "shape": ["batch", channels, self.num_frames, crop_size, crop_size],
            "num_frames": self.num_frames,
            "temporal_stride": self.temporal_stride,
            "built_from": (
                "the decoded clip"
                if self.temporal_stride == 1
                else f"every {self.temporal_stride}th frame of the decoded clip, from the first"
            ),
        }


def clip_input_specs(num_frames: int, pathway_alpha: int | None) -> list[InputSpec]:
    """The inputs of a clip classifier: one ``video``, or SlowFast's ``slow`` and ``fast``."""
    if not pathway_alpha:
        return [InputSpec("video", num_frames)]
    if num_frames % pathway_alpha:
        raise ValueError(
            f"a two-pathway model needs a clip length divisible by alpha={pathway_alpha}, "
            f"got {num_frames} frames"
        )
    return [
        InputSpec("slow", num_frames // pathway_alpha, pathway_alpha),
        InputSpec("fast", num_frames, 1),
    ]


def split_clip(clips: np.ndarray, specs: Sequence[InputSpec | dict[str, Any]]) -> Batch:
    """(N, C, T, H, W) decoded clips -> the model's inputs (the array itself for one input)."""
    strides = [
        int(s.temporal_stride if isinstance(s, InputSpec) else s["temporal_stride"]) for s in specs
    ]
    if len(strides) == 1 and strides[0] == 1:
        return clips
    return tuple(np.ascontiguousarray(clips[:, :, ::stride]) for stride in strides)


def batch_len(batch: Batch | TensorBatch) -> int:
    """N, the number of samples."""
    return len(batch[0]) if isinstance(batch, tuple) else len(batch)


def take(batch: Batch | TensorBatch, index: slice) -> Batch | TensorBatch:
    """Samples `index` of every input."""
    return tuple(b[index] for b in batch) if isinstance(batch, tuple) else batch[index]


def concat(batches: Sequence[Batch]) -> Batch:
    """Concatenate batches along the sample axis, input by input."""
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*batches, strict=True))
    return np.concatenate(batches)


def repeat_to(batch: Batch, size: int) -> Batch:
    """A float32 contiguous batch of exactly `size` samples (repeating the samples if too few)."""
    reps = -(-size // batch_len(batch))
    out = concat([batch] * reps)
    return (
        tuple(np.ascontiguousarray(b[:size], dtype=np.float32) for b in out)
        if isinstance(out, tuple)
        else np.ascontiguousarray(out[:size], dtype=np.float32)
    )


def to_numpy(batch: TensorBatch) -> Batch:
    """Tensors -> arrays, input by input."""
    return tuple(t.numpy() for t in batch) if isinstance(batch, tuple) else batch.numpy()


def to_tensors(batch: Batch) -> tuple[torch.Tensor, ...]:
    """Arrays -> a tuple of tensors of the same dtype (one per input; one input: a 1-tuple)."""
    arrays = batch if isinstance(batch, tuple) else (batch,)
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)


def as_tuple(batch: TensorBatch) -> tuple[torch.Tensor, ...]:
    """A tensor batch as a tuple of the graph's inputs."""
    return batch if isinstance(batch, tuple) else (batch,)


class PathwayInputs(nn.Module):
    """Exposes a network that takes a list of pathways (SlowFast's ``[slow, fast]``) as one with
    positional inputs, which is what exporters and runtimes call: ``forward(slow, fast)``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, *pathways: torch.Tensor) -> torch.Tensor:
        return self.net(list(pathways))
