"""LightningModule for clip classification (action recognition)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidlab.checkpoint import CLASSIFIER, META_KEY
from vidlab.evaluation.classification import ClassificationReport, classification_report, fuse_views
from vidlab.models.layers.cpu_bf16 import guard_temporal_convs
from vidlab.optim import lightning_optimizers, param_groups

log = logging.getLogger(__name__)

# A training-loss hook: ``hook(batch, logits, loss, features) -> loss``. Compression callbacks
# (distillation, ...) register them in `VideoClassifier.loss_hooks`; `features` is the backbone's
# `forward_features` output when `VideoClassifier.capture_features` is set, else None.
LossHook = Callable[
    [dict[str, Any], torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor
]

# Key under which a checkpoint carries what is needed to rebuild and use its model without the
# original command line: the resolved run config, class names and input spec (plain containers, so
# the checkpoint still loads with torch.load(weights_only=True)).
# The checkpoint meta key (kept importable here for older code; see `vidlab.checkpoint`).
CKPT_META_KEY = META_KEY


class VideoClassifier(pl.LightningModule):
    """Trains and evaluates a `VideoBackbone` on batches ``{"video", "label", "video_index", ...}``.

    Args:
        net: the backbone; ``net(video)`` returns logits (B, num_classes).
        optimizer: partial optimizer taking parameter groups (Hydra ``_partial_: true``).
        scheduler: partial scheduler taking ``(optimizer, total_steps=...)``; stepped every step.
        num_classes: number of classes.
        label_smoothing: cross-entropy label smoothing.
        fusion: multi-view fusion at test time, "softmax" or "logits".

    Attributes:
        loss_hooks: callables that rewrite the training loss in turn (see `LossHook`); the logged
            ``train/loss`` is the final one. Empty by default.
        extra_param_groups: optimizer parameter groups owned by callbacks (e.g. a distillation
            projection), appended to the network's groups when the optimizer is built.
        capture_features: run ``net.forward_features`` and ``net.forward_head`` separately in
            training steps so that loss hooks receive the features (same logits as ``net(x)``).
    """

    #: The checkpoint family this module writes (`vidlab.checkpoint`).
    family = CLASSIFIER

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        *,
        num_classes: int,
        label_smoothing: float = 0.1,
        fusion: str = "softmax",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.fusion = fusion
        self.checkpoint_meta: dict[str, Any] = {}
        self._test_outputs: list[dict[str, torch.Tensor]] = []
        self.test_report: ClassificationReport | None = None
        self.loss_hooks: list[LossHook] = []
        self.extra_param_groups: list[dict[str, Any]] = []
        self.capture_features = False

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.net(video)

    def on_fit_start(self) -> None:
        # PyTorch CPU bf16 autocast gets temporal-kernel Conv3d weight gradients wrong on short
        # clips (vidlab.models.layers.cpu_bf16): compute those few in float32.
        if self.device.type == "cpu" and str(self.trainer.precision).startswith("bf16"):
            guarded = guard_temporal_convs(self.net)
            if guarded:
                log.info(
                    "bf16 on CPU: %d temporal convolutions run in float32 on short clips", guarded
                )

    def _step(self, batch: dict[str, Any], split: str) -> tuple[torch.Tensor, torch.Tensor]:
        training = split == "train"
        features = None
        if training and self.capture_features:
            features = self.net.forward_features(batch["video"])
            logits = self.net.forward_head(features)
        else:
            logits = self(batch["video"])
        if "soft_label" in batch:  # mixup / cutmix targets (B, K)
            loss = torch.sum(-batch["soft_label"] * F.log_softmax(logits, dim=1), dim=1).mean()
        else:
            loss = F.cross_entropy(logits, batch["label"], label_smoothing=self.label_smoothing)
        if training:
            for hook in self.loss_hooks:
                loss = hook(batch, logits, loss, features)
        top1 = (logits.argmax(dim=1) == batch["label"]).float().mean()
        batch_size = batch["label"].shape[0]
        on_step = split == "train"
        self.log(
            f"{split}/loss",
            loss,
            on_step=on_step,
            on_epoch=True,
            batch_size=batch_size,
            sync_dist=not on_step,
            prog_bar=on_step,
        )
        self.log(
            f"{split}/top1",
            top1,
            on_step=False,
            on_epoch=True,
            batch_size=batch_size,
            sync_dist=not on_step,
            prog_bar=not on_step,
        )
        return loss, logits

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss, _ = self._step(batch, "train")
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if batch["label"].numel() == 0:  # every view of the batch came from undecodable videos
            return
        _, logits = self._step(batch, "val")
        if logits.shape[1] >= 5:
            top5 = (logits.topk(5, dim=1).indices == batch["label"][:, None]).any(dim=1).float()
            self.log("val/top5", top5.mean(), on_epoch=True, batch_size=len(top5), sync_dist=True)

    def on_test_epoch_start(self) -> None:
        self._test_outputs.clear()
        self.test_report = None

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        if batch["label"].numel() == 0:
            return
        logits = self(batch["video"])
        self._test_outputs.append(
            {
                "video_index": batch["video_index"].detach(),
                "view_index": batch["view_index"].detach(),
                "logits": logits.detach().float(),
                "label": batch["label"].detach(),
            }
        )

    def on_test_epoch_end(self) -> None:
        if not self._test_outputs:
            raise RuntimeError("the test split produced no decodable clip to score")
        local = {k: torch.cat([o[k] for o in self._test_outputs]) for k in self._test_outputs[0]}
        self._test_outputs.clear()
        if self.trainer.world_size > 1:
            # (world, N, ...) -> (world * N, ...). Ranks see equally many samples because the
            # distributed sampler pads with repeats; fuse_views drops those repeats.
            local = {k: self.all_gather(v).flatten(0, 1) for k, v in local.items()}
        arrays = {k: v.cpu().numpy() for k, v in local.items()}
        _, scores, labels = fuse_views(
            arrays["video_index"],
            arrays["view_index"],
            arrays["logits"],
            arrays["label"],
            self.fusion,
        )
        self.test_report = classification_report(scores, labels, self.num_classes)
        for key, value in self.test_report.as_dict("test").items():
            # Every rank holds the same gathered numbers, so no further reduction is needed.
            self.log(key, value, rank_zero_only=False)

    def configure_optimizers(self) -> dict[str, Any]:
        skip = self.net.no_weight_decay() if hasattr(self.net, "no_weight_decay") else ()
        optimizer = self.optimizer_factory(param_groups(self.net, skip) + self.extra_param_groups)
        return lightning_optimizers(
            optimizer, self.scheduler_factory, int(self.trainer.estimated_stepping_batches)
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[META_KEY] = {**self.checkpoint_meta, "family": CLASSIFIER}


def confusion_to_csv(confusion: np.ndarray, class_names: list[str], path) -> None:
    """Write a confusion matrix with a header row and a leading column of class names."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("true\\pred," + ",".join(class_names) + "\n")
        for name, row in zip(class_names, confusion, strict=True):
            f.write(name + "," + ",".join(str(int(c)) for c in row) + "\n")
