"""LightningModule for person detection with torchvision detectors (`vidlab.models.detection`).

Training sums the detector's own losses (FCOS: focal + GIoU + centerness; RetinaNet: focal + L1;
Faster R-CNN: RPN and box-head losses; SSDlite: hard-negative-mined CE + smooth L1). Validation and
test score COCO mAP, AP50, AP75 and AR100 with ignore regions as ``iscrowd`` boxes
(`vidlab.evaluation.detection`), logged as ``val/mAP``, ``test/AP50``, ...; outside fitting, a
precision-recall plot ``<split>_pr_curve.png`` goes to the run directory.

A checkpoint carries ``checkpoint["vidlab"]`` with ``"family": "detector"``, the run config (its
``model.net`` node rebuilds the network: `vidlab.checkpoint.load_network`), and the input spec
(``image_size`` the frames are letterboxed to, the normalisation the network applies inside,
``person_label``). Optimizer, scheduler, AMP (``trainer.precision``) and EMA (``callbacks=ema``)
come from the usual config groups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from vidlab.checkpoint import DETECTOR, META_KEY
from vidlab.evaluation.detection import DetectionResult, build_map_metric, summarise, to_map_inputs
from vidlab.optim import lightning_optimizers, param_groups

log = logging.getLogger(__name__)


class DetectionModule(pl.LightningModule):
    """Trains and evaluates a torchvision detector on `vidlab.data.detection` batches.

    Args:
        net: a torchvision detection model (`vidlab.models.detection` builders).
        optimizer: partial optimizer taking parameter groups (Hydra ``_partial_: true``).
        scheduler: partial scheduler taking ``(optimizer, total_steps=...)``; stepped every step.
        person_label: the label of a person in the network's outputs.
        map_backend: ``pycocotools`` or ``faster_coco_eval`` (torchmetrics' backends).
        plot_pr: write the precision-recall PNG after validation / test outside fitting.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None,
        scheduler: Callable[..., Any] | None = None,
        *,
        person_label: int = 1,
        map_backend: str = "pycocotools",
        plot_pr: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        self.net = net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.person_label, self.plot_pr = person_label, plot_pr
        self.val_map = build_map_metric(map_backend)
        self.test_map = build_map_metric(map_backend)
        self.checkpoint_meta: dict[str, Any] = {}
        self.test_report = None  # train.run writes classification artifacts when set; none here
        self.results: dict[str, DetectionResult] = {}
        self.artifacts: dict[str, str] = {}

    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """(3, H, W) RGB images in [0, 1] -> per image ``{"boxes" xyxy, "scores", "labels"}``."""
        return self.net(images)

    # ------------------------------------------------------------------------------ training
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in batch["targets"]]
        losses = self.net(list(batch["images"]), targets)
        loss = sum(losses.values())
        size = len(targets)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
        self.log_dict(
            {f"train/{k}": v for k, v in losses.items()},
            on_step=False,
            on_epoch=True,
            batch_size=size,
        )
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        if self.optimizer_factory is None:
            raise ValueError(
                "this DetectionModule was built without an optimizer (evaluation only)"
            )
        optimizer = self.optimizer_factory(param_groups(self.net))
        return lightning_optimizers(
            optimizer, self.scheduler_factory, int(self.trainer.estimated_stepping_batches)
        )

    # ------------------------------------------------------------------------------ evaluation
    def _update(self, metric: Any, batch: dict[str, Any]) -> None:
        preds = self.net(list(batch["images"]))
        metric.update(*to_map_inputs(preds, batch["targets"], self.person_label))

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._update(self.val_map, batch)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._update(self.test_map, batch)

    def on_validation_epoch_end(self) -> None:
        self._score("val", self.val_map)

    def on_test_epoch_end(self) -> None:
        self._score("test", self.test_map)

    def _score(self, split: str, metric: Any) -> None:
        if not metric.detection_box and not metric.groundtruth_box:
            return  # nothing evaluated (e.g. limit_val_batches=0)
        result = summarise(metric.compute())
        metric.reset()
        self.results[split] = result
        for key, value in result.as_dict(split).items():
            self.log(key, value, prog_bar=key.endswith(("mAP", "AP50")), sync_dist=False)
        if self.plot_pr and self.trainer.state.fn != "fit" and self.trainer.is_global_zero:
            from vidlab.evaluation.detection.plots import save_pr_curve_png

            path = Path(self.trainer.default_root_dir) / f"{split}_pr_curve.png"
            self.artifacts[f"{split}_pr_curve"] = str(
                save_pr_curve_png(result, path, f"{split}: person")
            )
            log.info("%s precision-recall curve: %s", split, path)

    # ------------------------------------------------------------------------------ checkpoints
    def input_spec(self) -> dict[str, Any]:
        """The normalisation the network applies inside (added to the data's input spec)."""
        transform = getattr(self.net, "transform", None)
        spec: dict[str, Any] = {"person_label": self.person_label, "normalised_in_network": True}
        if transform is not None:
            spec["mean"] = [float(m) for m in transform.image_mean]
            spec["std"] = [float(s) for s in transform.image_std]
        return spec

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = dict(self.checkpoint_meta)
        meta["input"] = {**meta.get("input", {}), **self.input_spec()}
        meta.setdefault("class_names", ["person"])
        checkpoint[META_KEY] = {**meta, "family": DETECTOR}
