"""Knowledge distillation of a trained teacher into the trained network (the student).

Logit distillation (Hinton, Vinyals, Dean 2015, https://arxiv.org/abs/1503.02531): the student
matches the teacher's class distribution softened by a temperature T,

    loss = alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * hard_loss,

where ``hard_loss`` is the module's own label loss (cross-entropy with label smoothing, or the
mixup soft-label loss). The T^2 factor keeps the gradient scale of the soft term independent of T.

Feature distillation (FitNets, Romero et al. 2015, https://arxiv.org/abs/1412.6550), optional: a
learned 1x1x1 convolution maps the student's `forward_features` (B, Cs, T, H, W) to the teacher's
channel count, the result is resized to the teacher's (T, H, W) and compared by mean squared error,
weighted by `feature_weight`. The projection is trained with the student (its parameters join the
optimizer through ``VideoClassifier.extra_param_groups``) and is not part of the student's
checkpoint weights (it is kept in the callback's own checkpoint state).

Teacher logit cache: with ``cache_logits=True`` the teacher runs once per training sample and its
logits are kept, keyed by the batch's ``video_index``. This is only valid when a sample index
always yields the same input clip, i.e. without random augmentation, random crops or random
temporal sampling (true for ``data=synthetic_actions``, whose training clips are fixed arrays).
With random augmentation the cached logits belong to another view of the clip and the student is
taught an inconsistent target: leave the cache off there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn

from vidlab.checkpoint import CLASSIFIER, load_network

log = logging.getLogger(__name__)

INDEX_KEY = "video_index"

#: What the student module offers the callback (VideoClassifier has all of them).
_STUDENT_HOOKS = ("net", "loss_hooks", "extra_param_groups", "capture_features", "checkpoint_meta")


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over the batch.

    Args:
        student_logits: (B, K) student logits.
        teacher_logits: (B, K) teacher logits (no gradient flows into them).
        temperature: softening temperature T > 0.

    Returns:
        Scalar loss (nats, scaled by T^2).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} differ: the teacher must have the same classes"
        )
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="batchmean")
    return kl * temperature**2


def distillation_loss(
    hard_loss: torch.Tensor,
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    alpha: float,
    temperature: float,
) -> torch.Tensor:
    """``alpha * kd_loss + (1 - alpha) * hard_loss`` (see `kd_loss`)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * kd_loss(student_logits, teacher_logits, temperature) + (1 - alpha) * hard_loss


class FeatureProjection(nn.Module):
    """1x1x1 convolution from student to teacher feature channels, then resize to the teacher's
    (T, H, W). Input (B, Cs, T, H, W); output (B, Ct, T', H', W')."""

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv3d(student_channels, teacher_channels, kernel_size=1, bias=False)

    def forward(self, student: torch.Tensor, teacher_size: tuple[int, int, int]) -> torch.Tensor:
        out = self.proj(student)  # (B, Ct, T, H, W)
        if tuple(out.shape[2:]) != tuple(teacher_size):
            out = F.adaptive_avg_pool3d(out, teacher_size)  # (B, Ct, T', H', W')
        return out


def load_teacher(ckpt_path: str | Path) -> nn.Module:
    """The network of a vidlab checkpoint, in eval mode and without gradients.

    Pruned checkpoints (`vidlab.compression.structured`) are rebuilt at their pruned shapes.
    """
    net, _ = load_network(ckpt_path, family=CLASSIFIER)
    return net.eval().requires_grad_(False)


class Distillation(pl.Callback):
    """Distil a trained teacher into the module being fitted (`callbacks=distill`).

    The teacher is held by the callback, not by the module: it is not trained, not switched to
    train mode by Lightning, and not saved into the student's checkpoints.

    Args:
        teacher_ckpt: vidlab checkpoint of the teacher (any registered model; same classes and
            the same input clips as the student).
        alpha: weight of the soft (teacher) term; ``1 - alpha`` weighs the hard-label loss.
        temperature: softening temperature T.
        feature_weight: weight of the feature-distillation MSE (0 disables it).
        cache_logits: keep the teacher's logits per training sample (see the module docstring
            for when this is valid).
    """

    def __init__(
        self,
        *,
        teacher_ckpt: str,
        alpha: float = 0.5,
        temperature: float = 4.0,
        feature_weight: float = 0.0,
        cache_logits: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"distill alpha must be in [0, 1], got {alpha}")
        if cache_logits and feature_weight > 0:
            raise ValueError(
                "distill: cache_logits=true caches logits only; it cannot be used with "
                f"feature_weight={feature_weight} (the teacher's features are needed)"
            )
        self.teacher_ckpt = str(teacher_ckpt)
        self.alpha = alpha
        self.temperature = temperature
        self.feature_weight = feature_weight
        self.cache_logits = cache_logits
        self.teacher: nn.Module | None = None
        self.projection: FeatureProjection | None = None
        self._cache: dict[int, torch.Tensor] = {}
        self._pending_state: dict[str, Any] | None = None
        self.cache_hits = 0
        self._module: pl.LightningModule | None = None

    # -- Lightning hooks ------------------------------------------------------------------------

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.teacher is not None:
            return
        missing = [a for a in _STUDENT_HOOKS if not hasattr(pl_module, a)]
        if missing:
            raise TypeError(
                f"Distillation needs a classification module with {_STUDENT_HOOKS} "
                f"(vidlab.tasks.video_classification.VideoClassifier); "
                f"{type(pl_module).__name__} lacks {missing}"
            )
        self.teacher = load_teacher(self.teacher_ckpt)
        self._module = pl_module
        log.info(
            "distillation teacher: %s (alpha=%s, T=%s, feature_weight=%s)",
            self.teacher_ckpt,
            self.alpha,
            self.temperature,
            self.feature_weight,
        )
        if self.feature_weight > 0:
            self.projection = self._build_projection(pl_module)
            if self._pending_state is not None:
                self.projection.load_state_dict(self._pending_state["projection"])
            pl_module.extra_param_groups.append(
                {"params": list(self.projection.parameters()), "weight_decay": 0.0}
            )
            pl_module.capture_features = True
        pl_module.loss_hooks.append(self._loss)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.teacher.to(pl_module.device)
        if self.projection is not None:
            self.projection.to(pl_module.device)  # in place: the optimizer keeps its references

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.teacher.eval()

    def state_dict(self) -> dict[str, Any]:
        if self.projection is None:
            return {}
        return {"projection": self.projection.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "projection" in state_dict:
            if self.projection is not None:
                self.projection.load_state_dict(state_dict["projection"])
            else:
                self._pending_state = state_dict

    # -- the loss -------------------------------------------------------------------------------

    def _build_projection(self, pl_module: pl.LightningModule) -> FeatureProjection:
        """Size the projection by running both backbones once on a zero clip of the run's input."""
        spec = pl_module.checkpoint_meta.get("input", {})
        if "num_frames" not in spec or "crop_size" not in spec:
            raise ValueError(
                "feature distillation needs the run's input spec (num_frames, crop_size) "
                f"in the module's checkpoint_meta['input'], got {spec!r}"
            )
        clip = torch.zeros(
            1, 3, int(spec["num_frames"]), int(spec["crop_size"]), int(spec["crop_size"])
        )
        was_training = pl_module.net.training
        pl_module.net.eval()
        with torch.no_grad():
            student_channels = pl_module.net.forward_features(clip).shape[1]
            teacher_channels = self.teacher.forward_features(clip).shape[1]
        pl_module.net.train(was_training)
        return FeatureProjection(int(student_channels), int(teacher_channels))

    def _teacher_outputs(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B, K), features or None), from the cache when every sample is in it."""
        indices = batch.get(INDEX_KEY)
        if self.cache_logits and indices is None:
            raise KeyError(
                f"distill cache_logits=true needs {INDEX_KEY!r} in the batch, "
                f"found keys {sorted(batch)}"
            )
        if self.cache_logits and all(int(i) in self._cache for i in indices):
            self.cache_hits += 1
            device = batch["video"].device
            return torch.stack([self._cache[int(i)] for i in indices]).to(device), None
        with torch.no_grad():
            if self.projection is not None:
                features = self.teacher.forward_features(batch["video"])
                logits = self.teacher.forward_head(features)
            else:
                features, logits = None, self.teacher(batch["video"])
        if self.cache_logits:
            for i, row in zip(indices.tolist(), logits.detach().cpu(), strict=True):
                self._cache[int(i)] = row
        return logits, features

    def _loss(
        self,
        batch: dict[str, Any],
        logits: torch.Tensor,
        loss: torch.Tensor,
        features: torch.Tensor | None,
    ) -> torch.Tensor:
        teacher_logits, teacher_features = self._teacher_outputs(batch)
        soft = kd_loss(logits, teacher_logits, self.temperature)
        total = self.alpha * soft + (1 - self.alpha) * loss
        logged = {"train/kd_loss": soft, "train/hard_loss": loss}
        if self.projection is not None:
            if features is None:
                raise RuntimeError(
                    "feature distillation got no student features: "
                    "VideoClassifier.capture_features was switched off"
                )
            projected = self.projection(features, tuple(teacher_features.shape[2:]))
            feature_loss = F.mse_loss(projected, teacher_features)
            total = total + self.feature_weight * feature_loss
            logged["train/feature_loss"] = feature_loss
        if self._module is not None and self._module._trainer is not None:
            self._module.log_dict(logged, on_step=False, on_epoch=True, batch_size=logits.shape[0])
        return total
