"""Pieces shared by the train / evaluate / export tasks: building objects from the config,
run-directory outputs, and the end-of-run report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from vidlab.checkpoint import CLASSIFIER, load_network
from vidlab.evaluation.classification import ClassificationReport
from vidlab.evaluation.classification.plots import save_confusion_png
from vidlab.tasks.video_classification import VideoClassifier, confusion_to_csv
from vidlab.utils.runinfo import git_commit, package_versions

log = logging.getLogger(__name__)


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a dict-of-configs group (callbacks, loggers); None entries skip."""
    if not group:
        return []
    objects = []
    for name, node in group.items():
        if node is None:
            continue
        if not isinstance(node, DictConfig) or "_target_" not in node:
            raise ValueError(f"config entry {name!r} must be a node with a _target_, got {node!r}")
        objects.append(hydra.utils.instantiate(node))
    return objects


def build_classifier(cfg: DictConfig) -> VideoClassifier:
    """The LightningModule of `cfg.model`, with the optimizer and scheduler partials of the run.

    Optional top-level keys (absent means off):

    - ``finetune``: a node with ``pretrained`` (a local checkpoint for
      `vidlab.models.weights.load_pretrained`; a classifier of another size is dropped, so the
      model keeps its ``data.num_classes`` head), ``backbone_lr_mult`` (backbone learning rate
      relative to ``optimizer.lr``), ``layer_decay`` (layer-wise decay for transformers),
      ``freeze_bn_stats`` and ``freeze_bn_affine`` (BatchNorm in eval mode, optionally without
      gradients to its scale and shift).
    - ``recipe``: a published recipe's batch and learning rate (``base_lr`` at ``base_batch``,
      ``num_gpus``, ``per_gpu_batch``): the optimizer's lr is scaled linearly to this run's total
      batch (GPUs x clips per GPU x ``trainer.accumulate_grad_batches``).
    - ``compile``: true wraps the network's forward in ``torch.compile`` (in place, so parameter
      names and checkpoints are unchanged); a mapping passes its keys to ``torch.compile``
      (e.g. ``{mode: max-autotune}`` or ``{backend: eager}``).
    """
    net = hydra.utils.instantiate(cfg.model.net)
    optimizer = None
    if cfg.get("optimizer"):
        optimizer = hydra.utils.instantiate(cfg.optimizer, **recipe_lr(cfg))
    scheduler = hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    finetune = cfg.get("finetune")
    if finetune:
        optimizer = apply_finetune(net, optimizer, finetune)
    compile_opts = cfg.get("compile", False)
    if compile_opts:
        kwargs = {} if compile_opts is True else OmegaConf.to_container(compile_opts, resolve=True)
        net.compile(**kwargs)
        log.info("torch.compile enabled for %s (%s)", type(net).__name__, kwargs or "defaults")
    return hydra.utils.instantiate(
        cfg.model, net=net, optimizer=optimizer, scheduler=scheduler, _recursive_=False
    )


def recipe_lr(cfg: DictConfig) -> dict[str, float]:
    """``{"lr": ...}`` scaled by `vidlab.optim.linear_scaled_lr` for a recipe, else ``{}``."""
    from vidlab.optim import linear_scaled_lr

    recipe = cfg.get("recipe")
    if not recipe or "base_lr" not in recipe:
        return {}
    accumulate = int(cfg.get("trainer", {}).get("accumulate_grad_batches", 1) or 1)
    batch = int(recipe.num_gpus) * int(recipe.per_gpu_batch) * accumulate
    lr = linear_scaled_lr(float(recipe.base_lr), int(recipe.base_batch), batch)
    log.info(
        "recipe: lr %.4g for a total batch of %d (published %.4g at %d)",
        lr,
        batch,
        float(recipe.base_lr),
        int(recipe.base_batch),
    )
    return {"lr": lr}


def apply_finetune(net: torch.nn.Module, optimizer: Any, finetune: DictConfig) -> Any:
    """Load pretrained weights into `net`, freeze BatchNorm as asked, and wrap the optimizer
    partial for per-group learning rates (see `build_classifier`). Returns the optimizer partial."""
    from vidlab.models.layers.finetune import freeze_batchnorm_stats
    from vidlab.models.weights import load_pretrained
    from vidlab.optim import FinetuneOptimizer

    if finetune.get("pretrained"):
        load_pretrained(net, finetune.pretrained)
    if finetune.get("freeze_bn_stats", False):
        count = freeze_batchnorm_stats(
            net, freeze_affine=bool(finetune.get("freeze_bn_affine", False))
        )
        log.info("fine-tuning: %d BatchNorm layers frozen", count)
    lr_mult = float(finetune.get("backbone_lr_mult", 1.0))
    layer_decay = finetune.get("layer_decay")
    if optimizer is not None and (lr_mult != 1.0 or layer_decay is not None):
        optimizer = FinetuneOptimizer(
            optimizer,
            net,
            backbone_lr_mult=lr_mult,
            layer_decay=None if layer_decay is None else float(layer_decay),
        )
    return optimizer


def checkpoint_meta(cfg: DictConfig, datamodule: pl.LightningDataModule) -> dict[str, Any]:
    """What a checkpoint must carry to be evaluated, exported and served on its own.

    A datamodule whose inputs are not clips (e.g. Re-ID images) describes them itself with an
    ``input_spec()`` method returning a plain dict.
    """
    config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    if hasattr(datamodule, "input_spec"):
        return {
            "config": config,
            "class_names": list(getattr(datamodule, "class_names", [])),
            "input": datamodule.input_spec(),
        }
    data = cfg.data
    return {
        "config": config,
        "class_names": list(datamodule.class_names),
        "input": {
            "num_frames": int(data.num_frames),
            "crop_size": int(data.crop_size),
            "mean": [float(m) for m in data.get("mean", (0.45, 0.45, 0.45))],
            "std": [float(s) for s in data.get("std", (0.225, 0.225, 0.225))],
            "frame_stride": int(data.get("frame_stride", 1)),
        },
    }


def classifier_from_checkpoint(path: str | Path) -> tuple[VideoClassifier, dict[str, Any]]:
    """The trained classification module of a checkpoint (eval mode, no optimizer) and its meta.

    The network comes from `vidlab.checkpoint.load_network` (pruned shapes restored); a
    checkpoint of another family is refused with a one-line error.
    """
    net, meta = load_network(path, family=CLASSIFIER)
    model_cfg = meta["config"]["model"]
    module = VideoClassifier(
        net,
        optimizer=None,
        num_classes=int(model_cfg["num_classes"]),
        fusion=str(model_cfg.get("fusion", "softmax")),
    )
    module.checkpoint_meta = meta
    return module.eval(), meta


def run_metadata(cfg: DictConfig, datamodule: pl.LightningDataModule) -> dict[str, Any]:
    report = datamodule.data_report() if hasattr(datamodule, "data_report") else {}
    return {
        "seed": cfg.get("seed"),
        "data": report,
        "versions": package_versions(),
        "git_commit": git_commit(),
    }


@rank_zero_only
def write_test_artifacts(
    report: ClassificationReport, class_names: list[str], out_dir: Path, prefix: str = "test"
) -> dict[str, str]:
    """Confusion matrix as CSV and PNG, per-class accuracy as CSV; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{prefix}_confusion.csv"
    png_path = out_dir / f"{prefix}_confusion.png"
    per_class_path = out_dir / f"{prefix}_per_class_accuracy.csv"
    confusion_to_csv(report.confusion, class_names, csv_path)
    save_confusion_png(report.confusion, class_names, png_path, title=f"{prefix} confusion")
    with open(per_class_path, "w", encoding="utf-8") as f:
        f.write("class,accuracy,videos\n")
        rows = zip(class_names, report.per_class_accuracy, report.confusion.sum(1), strict=True)
        for name, acc, n in rows:
            f.write(f"{name},{acc:.6f},{int(n)}\n")
    return {
        "confusion_csv": str(csv_path),
        "confusion_png": str(png_path),
        "per_class_csv": str(per_class_path),
    }


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Tensors and numbers of a Lightning metrics dict as plain floats."""
    return {k: float(v.item() if hasattr(v, "item") else v) for k, v in metrics.items()}
