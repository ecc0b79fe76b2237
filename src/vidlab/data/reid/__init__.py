"""Person Re-ID data: the Market-1501 layout, a MOTChallenge crop builder, the synthetic default,
P x K sampling, augmentations and the LightningDataModule.

The layout and builders need no torch; the torch-based parts (``ReIDDataModule``,
``PKBatchSampler``, ``load_reid_images``, ``build_transform``) are imported on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from vidlab.data.reid.crops import (
    PID_SEQUENCE_STRIDE,
    BuildSummary,
    CropSettings,
    MotReIDBuilder,
    build_reid_from_mot,
    plan_reid_from_mot,
)
from vidlab.data.reid.market import (
    MarketFormatError,
    MarketSplits,
    ReIDRecord,
    parse_market_name,
    read_market,
)
from vidlab.data.reid.synthetic import SyntheticReIDBuilder

_LAZY = {
    "ReIDDataModule": "vidlab.data.reid.datamodule",
    "PKBatchSampler": "vidlab.data.reid.sampler",
    "load_reid_images": "vidlab.data.reid.transforms",
    "build_transform": "vidlab.data.reid.transforms",
}

__all__ = [
    "PID_SEQUENCE_STRIDE",
    "BuildSummary",
    "CropSettings",
    "MarketFormatError",
    "MarketSplits",
    "MotReIDBuilder",
    "ReIDRecord",
    "SyntheticReIDBuilder",
    "build_reid_from_mot",
    "parse_market_name",
    "plan_reid_from_mot",
    "read_market",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vidlab.data.reid' has no attribute {name!r}")
