"""Person re-identification networks: timm backbone, GeM/average pooling, BNNeck, classifier."""

from __future__ import annotations

from vidlab.models.reid.net import GeneralizedMeanPooling, ReIDNet, ReIDOutput

__all__ = ["GeneralizedMeanPooling", "ReIDNet", "ReIDOutput"]
