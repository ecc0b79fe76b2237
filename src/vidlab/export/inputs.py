"""Models with several inputs: what each input is, and batches that hold one array per input.

Most exported networks take one tensor (a clip, a crop, an image). Some take several: SlowFast
takes its Slow and Fast pathways, which are two temporal samplings of one decoded clip; the
two-stream network takes the clip's RGB and its optical flow. The export stage and the runtimes
treat a batch as either one array or a tuple of arrays, one per input, in the order of the graph's
inputs; the helpers here slice, count, repeat and convert both alike.

An `InputSpec` says how one input is built from the decoded clip of ``num_frames`` frames: every
``temporal_stride``-th frame of it (SlowFast: Slow = stride alpha, Fast = stride 1), and which
channels of the clip as the data pipeline stacks it (two-stream: RGB = channels 0-2, flow = 3-4 of
the (3 + 2, T, H, W) clip whose flow channels `vidlab.data.transforms.flow.ClipFlow` computes). A
bundle card lists them under ``inputs`` and `vidlab.export.inference` builds them from decoded
frames with `split_clip`.
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
#: What an input's channels hold.
SOURCES = ("rgb", "flow")


@dataclass(frozen=True)
class InputSpec:
    """One graph input built from the decoded clip.

    Attributes:
        name: the graph input's name.
        num_frames: frames of this input.
        temporal_stride: it takes every `temporal_stride`-th frame of the decoded clip.
        channels: the [start, stop) channels it takes of the stacked clip (None: all of them).
        source: what those channels hold: ``rgb`` (normalised RGB) or ``flow`` (optical flow).
    """

    name: str
    num_frames: int
    temporal_stride: int = 1
    channels: tuple[int, int] | None = None
    source: str = "rgb"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"input {self.name!r}: source {self.source!r}, expected {SOURCES}")

    def card(self, channels: int, crop_size: int) -> dict[str, Any]:
        """The card's entry for this input (a float32 NCTHW batch); `channels`: the clip's, used
        when the input takes all of them."""
        if self.channels is not None:
            channels = self.channels[1] - self.channels[0]
        frames = (
            "the decoded clip"
            if self.temporal_stride == 1
            else f"every {self.temporal_stride}th frame of the decoded clip, from the first"
        )
        entry = {
            "name": self.name,
            "dtype": "float32",
            "layout": "NCTHW",
            "shape": ["batch", channels, self.num_frames, crop_size, crop_size],
            "num_frames": self.num_frames,
            "temporal_stride": self.temporal_stride,
            "source": self.source,
            "built_from": (
                frames if self.source == "rgb" else f"the optical flow of {frames} (card: flow)"
            ),
        }
        if self.channels is not None:
            entry["channels"] = list(self.channels)
        return entry


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


def flow_input_specs(num_frames: int, rgb_channels: int, flow_channels: int) -> list[InputSpec]:
    """The inputs of a two-stream classifier: ``rgb`` and ``flow``, the channels of one clip."""
    return [
        InputSpec("rgb", num_frames, 1, (0, rgb_channels), "rgb"),
        InputSpec("flow", num_frames, 1, (rgb_channels, rgb_channels + flow_channels), "flow"),
    ]


def _channels(spec: InputSpec | dict[str, Any]) -> tuple[int, int] | None:
    channels = spec.channels if isinstance(spec, InputSpec) else spec.get("channels")
    return None if channels is None else (int(channels[0]), int(channels[1]))


def split_clip(
    clips: np.ndarray | torch.Tensor, specs: Sequence[InputSpec | dict[str, Any]]
) -> Batch | TensorBatch:
    """(N, C, T, H, W) clips (arrays or tensors) -> the model's inputs, each its channels and
    frames of the clip (the clips themselves for one input that takes all of them).

    Raises:
        ValueError: the clips have fewer channels than an input takes.
    """
    strides = [
        int(s.temporal_stride if isinstance(s, InputSpec) else s["temporal_stride"]) for s in specs
    ]
    channels = [_channels(s) for s in specs]
    if len(specs) == 1 and strides[0] == 1 and channels[0] in (None, (0, clips.shape[1])):
        return clips
    needed = max((c[1] for c in channels if c is not None), default=0)
    if clips.shape[1] < needed:
        raise ValueError(
            f"clips of {clips.shape[1]} channels; the model's inputs take channels "
            f"{[list(c) if c else 'all' for c in channels]}"
        )
    parts = []
    for stride, chan in zip(strides, channels, strict=True):
        part = clips[:, slice(*chan) if chan else slice(None), ::stride]  # (N, C_i, T_i, H, W)
        parts.append(
            part.contiguous() if isinstance(part, torch.Tensor) else np.ascontiguousarray(part)
        )
    return tuple(parts)


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


class ChannelInputs(nn.Module):
    """Exposes a network that takes its inputs stacked along the channels (the two-stream
    network's (B, 3 + 2, T, H, W) RGB + flow clip) as one with positional inputs:
    ``forward(rgb, flow)``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat(inputs, dim=1))  # (B, sum C_i, T, H, W)
