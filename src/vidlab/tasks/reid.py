"""LightningModule for person re-identification: ID + metric learning, retrieval evaluation.

Training follows the BoT strong baseline (Luo et al., CVPR-W 2019, https://arxiv.org/abs/1903.07071):
cross-entropy with label smoothing on the BNNeck logits, batch-hard triplet loss on the pooled
feature before the neck, and an optional center loss on that same feature. Validation and test
embed a query and a gallery loader (``dataloader_idx`` 0 and 1) and score retrieval with the
Market-1501 protocol (:func:`vidlab.evaluation.reid.evaluate_retrieval`).

A checkpoint carries ``checkpoint["vidlab"]`` with ``"task": "reid"``, ``num_classes`` and
``embedding_dim`` besides the run config and the input spec, so :func:`reid_from_checkpoint`
rebuilds the module from the file alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidlab.checkpoint import EMBEDDING, META_KEY, load_checkpoint, network_from_checkpoint
from vidlab.models.reid.losses import CenterLoss, batch_hard_triplet_loss
from vidlab.optim import lightning_optimizers, param_groups

log = logging.getLogger(__name__)

#: ``checkpoint["vidlab"]["task"]`` of a Re-ID checkpoint (the export command dispatches on it).
REID_TASK = "reid"
QUERY, GALLERY = 0, 1
_SPLIT_NAMES = ("query", "gallery")


class ReIDModule(pl.LightningModule):
    """Trains a :class:`vidlab.models.reid.ReIDNet` on P x K identity batches.

    Args:
        net: the network; ``net.forward_train(x)`` gives the pooled feature, the BNNeck feature and
            the logits, ``net(x)`` the retrieval embedding.
        optimizer: partial optimizer taking parameter groups (Hydra ``_partial_: true``).
        scheduler: partial scheduler taking ``(optimizer, total_steps=...)``; stepped every step.
        num_classes: training identities; None takes ``trainer.datamodule.num_classes`` at setup.
        label_smoothing: cross-entropy label smoothing epsilon.
        triplet_margin: batch-hard triplet hinge margin (feature-distance units).
        soft_margin: soft-margin triplet instead of the hinge.
        triplet_weight: weight of the triplet term.
        center_loss_weight: weight of the center loss (0: off).
        center_lr: learning rate of the class centers (their own parameter group).
        metric: retrieval distance, ``cosine`` or ``euclidean``.
        flip_test: average the embeddings of each image and its horizontal mirror at val/test.
        rerank: k-reciprocal re-ranking of the test distances (val is never re-ranked).
        rerank_k1: re-ranking k1.
        rerank_k2: re-ranking k2.
        rerank_lambda: weight of the original distance in re-ranking.
    """

    #: The checkpoint family this module writes (`vidlab.checkpoint`).
    family = EMBEDDING

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None,
        scheduler: Callable[..., Any] | None = None,
        *,
        num_classes: int | None = None,
        label_smoothing: float = 0.1,
        triplet_margin: float = 0.3,
        soft_margin: bool = False,
        triplet_weight: float = 1.0,
        center_loss_weight: float = 0.0,
        center_lr: float = 0.5,
        metric: str = "cosine",
        flip_test: bool = False,
        rerank: bool = False,
        rerank_k1: int = 20,
        rerank_k2: int = 6,
        rerank_lambda: float = 0.3,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        self.net = net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.label_smoothing, self.triplet_margin = label_smoothing, triplet_margin
        self.soft_margin, self.triplet_weight = soft_margin, triplet_weight
        self.center_loss_weight, self.center_lr = center_loss_weight, center_lr
        self.metric, self.flip_test, self.rerank = metric, flip_test, rerank
        self.rerank_params = {"k1": rerank_k1, "k2": rerank_k2, "lambda_value": rerank_lambda}
        self.center_loss: CenterLoss | None = None
        self.num_classes: int | None = None
        if num_classes is not None:
            self.build_classifier(int(num_classes))
        self.checkpoint_meta: dict[str, Any] = {}
        self.test_report = None  # train.run writes classification artifacts when set; none here
        self.last_retrieval: dict[str, float] = {}
        self._outputs: list[dict[str, list[torch.Tensor]]] = [_empty_store(), _empty_store()]

    # ------------------------------------------------------------------------------ set-up
    def build_classifier(self, num_classes: int) -> None:
        """Size the ID classifier (and the center loss) for `num_classes` training identities."""
        if num_classes <= 0:
            raise ValueError(f"a Re-ID model needs >= 1 training identity, got {num_classes}")
        self.num_classes = num_classes
        self.hparams["num_classes"] = num_classes
        if getattr(self.net, "num_classes", None) != num_classes:
            self.net.reset_classifier(num_classes)
        if self.center_loss_weight > 0:
            self.center_loss = CenterLoss(num_classes, int(self.net.num_features))

    def setup(self, stage: str) -> None:
        if self.num_classes is not None:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        count = getattr(datamodule, "num_classes", None)
        if count is None:
            raise ValueError(
                "ReIDModule(num_classes=None) takes the identity count from the "
                f"datamodule, but {type(datamodule).__name__} has no num_classes "
                f"after setup({stage!r})"
            )
        self.build_classifier(int(count))

    # ------------------------------------------------------------------------------ training
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, D) retrieval embeddings (BNNeck output, not normalised)."""
        return self.net(images)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.net.forward_train(batch["image"])
        pid = batch["pid"]
        ce = F.cross_entropy(out.logits, pid, label_smoothing=self.label_smoothing)
        triplet = batch_hard_triplet_loss(
            out.global_feat, pid, margin=self.triplet_margin, soft_margin=self.soft_margin
        )
        loss = ce + self.triplet_weight * triplet
        logs = {"train/ce": ce, "train/triplet": triplet}
        if self.center_loss is not None:
            center = self.center_loss(out.global_feat, pid)
            loss = loss + self.center_loss_weight * center
            logs["train/center"] = center
        logs["train/id_acc"] = (out.logits.argmax(dim=1) == pid).float().mean()
        batch_size = len(pid)
        self.log(
            "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch_size
        )
        self.log_dict(logs, on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        if self.optimizer_factory is None:
            raise ValueError("this ReIDModule was built without an optimizer (evaluation only)")
        skip = self.net.no_weight_decay() if hasattr(self.net, "no_weight_decay") else ()
        groups = param_groups(self.net, skip)
        if self.center_loss is not None:
            groups.append(
                {
                    "params": list(self.center_loss.parameters()),
                    "lr": self.center_lr,
                    "weight_decay": 0.0,
                }
            )
        optimizer = self.optimizer_factory(groups)
        return lightning_optimizers(
            optimizer, self.scheduler_factory, int(self.trainer.estimated_stepping_batches)
        )

    # ------------------------------------------------------------------------------ retrieval
    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Evaluation embeddings (B, D); flip-averaged when ``flip_test``."""
        feats = self.net(images)
        if self.flip_test:
            feats = 0.5 * (feats + self.net(images.flip(dims=(3,))))  # mirror the width axis
        return feats

    def _collect(self, batch: dict[str, Any], dataloader_idx: int) -> None:
        if dataloader_idx not in (QUERY, GALLERY):
            raise ValueError(
                f"Re-ID evaluation expects [query, gallery] loaders, got loader "
                f"index {dataloader_idx}"
            )
        store = self._outputs[dataloader_idx]
        store["feat"].append(self.embed(batch["image"]).float().cpu())
        store["pid"].append(batch["pid"].detach().cpu())
        store["camid"].append(batch["camid"].detach().cpu())

    def validation_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._collect(batch, dataloader_idx)

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collect(batch, dataloader_idx)

    def on_validation_epoch_start(self) -> None:
        self._outputs = [_empty_store(), _empty_store()]

    def on_test_epoch_start(self) -> None:
        self._outputs = [_empty_store(), _empty_store()]

    def on_validation_epoch_end(self) -> None:
        self._score("val", rerank=False)

    def on_test_epoch_end(self) -> None:
        self._score("test", rerank=self.rerank)

    def _score(self, prefix: str, *, rerank: bool) -> None:
        from vidlab.evaluation.reid import evaluate_retrieval

        arrays = [_concat(store) for store in self._outputs]
        self._outputs = [_empty_store(), _empty_store()]
        if any(a is None for a in arrays):
            missing = [_SPLIT_NAMES[i] for i, a in enumerate(arrays) if a is None]
            if self.trainer.sanity_checking:
                return
            raise RuntimeError(f"{prefix}: the {' and '.join(missing)} loader produced no image")
        (qf, qp, qc), (gf, gp, gc) = arrays
        distmat = self.distances(qf, gf, rerank=rerank)
        result = evaluate_retrieval(distmat, qp, gp, qc, gc)
        metrics = {k: float(v) for k, v in result.as_dict(prefix).items()}
        self.last_retrieval = metrics
        for key, value in metrics.items():
            self.log(key, value, prog_bar=key.endswith(("mAP", "rank1")))

    def distances(self, qf: np.ndarray, gf: np.ndarray, *, rerank: bool = False) -> np.ndarray:
        """(Q, G) query-gallery distances, k-reciprocal re-ranked when `rerank`."""
        from vidlab.evaluation.reid import k_reciprocal_rerank, pairwise_distance

        q_g = pairwise_distance(qf, gf, metric=self.metric)
        if not rerank:
            return q_g
        q_q = pairwise_distance(qf, qf, metric=self.metric)
        g_g = pairwise_distance(gf, gf, metric=self.metric)
        return k_reciprocal_rerank(q_g, q_q, g_g, **self.rerank_params)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[META_KEY] = {
            **self.checkpoint_meta,
            "task": REID_TASK,
            "family": EMBEDDING,
            "num_classes": self.num_classes,
            "embedding_dim": int(self.net.num_features),
        }


def _empty_store() -> dict[str, list[torch.Tensor]]:
    return {"feat": [], "pid": [], "camid": []}


def _concat(store: dict[str, list[torch.Tensor]]) -> tuple[np.ndarray, ...] | None:
    if not store["feat"]:
        return None
    return tuple(torch.cat(store[k]).numpy() for k in ("feat", "pid", "camid"))


def is_reid_checkpoint_meta(meta: dict[str, Any]) -> bool:
    """Whether a checkpoint's ``checkpoint["vidlab"]`` describes a Re-ID model."""
    return meta.get("task") == REID_TASK


def reid_from_checkpoint(path: str | Path) -> tuple[ReIDModule, dict[str, Any]]:
    """Rebuild a trained :class:`ReIDModule` (eval mode, no optimizer) from a checkpoint alone.

    The network comes from `vidlab.checkpoint.network_from_checkpoint` (its backbone built without
    pretrained weights: the checkpoint holds all of them, so the original weight file need not
    exist here); the file is read once.
    """
    from omegaconf import OmegaConf

    ckpt = load_checkpoint(path)
    net, meta = network_from_checkpoint(ckpt, path, family=EMBEDDING)
    model_cfg = OmegaConf.create(meta["config"]["model"])
    options = {
        k: v
        for k, v in OmegaConf.to_container(model_cfg, resolve=True).items()
        if k not in ("_target_", "net", "num_classes")
    }
    module = ReIDModule(net, optimizer=None, num_classes=int(meta["num_classes"]), **options)
    module.load_state_dict(ckpt["state_dict"])
    module.checkpoint_meta = {
        k: v for k, v in meta.items() if k not in ("task", "family", "num_classes", "embedding_dim")
    }
    return module.eval(), meta
