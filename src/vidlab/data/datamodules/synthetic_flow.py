"""The synthetic actions with an optical-flow input: RGB and flow channels stacked per clip.

`SyntheticFlowActionDataModule` is `SyntheticActionDataModule` whose samples' ``video`` is
(3 + 2, T, H, W): the normalised RGB clip, then the flow (dx, dy in pixels, divided by
``flow_scale``) from each frame to the next (the last frame repeats the previous flow), which a
two-stream model (`vidlab.models.two_stream`) splits. The flow is computed once per split with
OpenCV's DIS (Kroeger et al., ECCV 2016) on grey frames and cached beside the clips as
``<split>_flow_<preset>_<clip cache key>.npy`` (float16), so it is read, not recomputed, by later runs, as
precomputed flow for real videos is read from ``task=flow`` output (`vidlab.data.io.flow_store`).
The flow of one clip is `vidlab.data.transforms.flow.ClipFlow`'s, which export bundles also use to
rebuild the flow input from decoded frames at inference.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vidlab.data.datamodules.synthetic import SPLITS, ClipArrayDataset, SyntheticActionDataModule
from vidlab.data.synthetic.actions import load_or_generate
from vidlab.data.transforms.flow import DIS_PRESETS, ClipFlow

log = logging.getLogger(__name__)


def load_or_compute_flow(
    videos: np.ndarray, preset: str, cache: Path | None, desc: str = "flow"
) -> np.ndarray:
    """(N, T, H, W, 2) float16 flow of (N, T, H, W, 3) clips, from `cache` when it exists."""
    if cache is not None and cache.is_file():
        flow = np.load(cache, mmap_mode="r")
        if flow.shape[:4] == videos.shape[:4]:
            return flow
        log.info("%s is for other clips (%s); recomputing", cache, flow.shape)
    if preset not in DIS_PRESETS:
        raise ValueError(f"flow_preset={preset!r}: expected one of {sorted(DIS_PRESETS)}")
    spec = ClipFlow(preset)
    dis = spec.estimator()
    flow = np.zeros((*videos.shape[:4], 2), spec.storage_dtype)
    for i in tqdm(range(len(videos)), desc=desc, unit="clip"):
        flow[i] = spec.stored(np.asarray(videos[i]), dis)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npy")
        np.save(tmp, flow)
        tmp.replace(cache)
    return flow


class ClipFlowArrayDataset(ClipArrayDataset):
    """`ClipArrayDataset` whose ``video`` is RGB (3, T, H, W) stacked with flow (2, T, H, W)."""

    def __init__(self, videos, labels, flow: np.ndarray, mean, std, flow_scale: float) -> None:
        super().__init__(videos, labels, mean, std)
        if flow.shape[:4] != videos.shape[:4]:
            raise ValueError(f"flow {flow.shape} does not match clips {videos.shape}")
        self.flow, self.flow_scale = flow, flow_scale

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = super().__getitem__(index)
        flow = torch.from_numpy(np.asarray(self.flow[index], np.float32)).permute(3, 0, 1, 2)
        sample["video"] = torch.cat([sample["video"], flow / self.flow_scale])  # (5, T, H, W)
        return sample


class SyntheticFlowActionDataModule(SyntheticActionDataModule):
    """`SyntheticActionDataModule` with precomputed DIS flow stacked after the RGB channels.

    Args:
        flow_preset: DIS preset (``ultrafast``, ``fast``, ``medium``).
        flow_scale: the flow (pixels per frame) is divided by this.
        **kwargs: `SyntheticActionDataModule`'s arguments (``slowfast_alpha`` must stay None).
    """

    def __init__(self, *, flow_preset: str = "medium", flow_scale: float = 1.0, **kwargs) -> None:
        if kwargs.get("slowfast_alpha"):
            raise ValueError("the flow data module packs no SlowFast pathways")
        super().__init__(**kwargs)
        self.flow_preset, self.flow_scale = flow_preset, float(flow_scale)

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split in self.datasets:
                continue
            n = self.sizes[split]
            videos, labels = load_or_generate(self.spec, split, n, self.cache_dir)
            cache = (
                Path(self.cache_dir)
                / f"{split}_flow_{self.flow_preset}_{self.spec.cache_key(split, n)}.npy"
                if self.cache_dir is not None
                else None
            )
            flow = load_or_compute_flow(videos, self.flow_preset, cache, desc=f"flow {split}")
            self.datasets[split] = ClipFlowArrayDataset(
                videos, labels, flow, self.mean, self.std, self.flow_scale
            )

    def data_report(self) -> dict[str, Any]:
        return super().data_report() | {
            "name": "synthetic_actions_flow",
            "flow": {"method": f"dis-{self.flow_preset}", "scale": self.flow_scale},
        }
