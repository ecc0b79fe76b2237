"""Shared fixtures: Hydra composition of the project's configs for tests that call `run(cfg)`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose `configs/<config_name>.yaml` as the entry script would, with its run dir set.

    The returned config has the `hydra` node so `${hydra:...}` interpolations resolve, and
    `paths.output_dir` / `paths.log_dir` / `paths.data_dir` point inside `output_dir`.
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=overrides, return_hydra_config=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = str(REPO_ROOT)
        cfg.hydra.job.num = 0
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(output_dir / "logs")
        cfg.paths.data_dir = str(output_dir.parent / "data")
    HydraConfig.instance().set_config(cfg)
    return cfg


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """`make_cfg("train", ["data.num_train=64"])` composes a config whose run dir is tmp_path/run."""

    def _make(
        config_name: str, overrides: list[str] | None = None, name: str = "run"
    ) -> DictConfig:
        return compose_config(config_name, list(overrides or []), tmp_path / name)

    return _make


@pytest.fixture
def real_data() -> Path:
    """The shared real-data folder named by VIDLAB_REAL_DATA; the test is skipped when unset."""
    root = os.environ.get("VIDLAB_REAL_DATA")
    if not root:
        pytest.skip("VIDLAB_REAL_DATA is not set")
    path = Path(root)
    if not path.is_dir():
        pytest.skip(f"VIDLAB_REAL_DATA={root} is not a directory")
    return path


# A tiny but real configuration: 4-frame 32x32 clips, 2 factors (4 classes), a shallow X3D.
TINY_RUN = [
    "data.factors=[horizontal,scale]",
    "data.num_classes=4",
    "data.num_frames=4",
    "data.crop_size=32",
    "data.train_size=64",
    "data.val_size=32",
    "data.test_size=32",
    "data.batch_size=8",
    "model.net.depth_factor=0.5",
    "model.net.width_factor=0.5",
    "model.net.head_dim_out=32",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
]


@pytest.fixture
def tiny_run() -> list[str]:
    """Overrides for a seconds-long CPU training run (copy; tests may extend it)."""
    return list(TINY_RUN)


# A tiny person detector on 96x160 letterboxed frames of one short rendered sequence per split.
TINY_DETECTOR = [
    "experiment=det_synthetic",
    "data.source.splits.train.n_sequences=1",
    "data.source.splits.val.n_sequences=1",
    "data.source.splits.test.n_sequences=1",
    "data.source.num_frames=30",
    "data.source.frame_stride=5",
    "data.source.width=320",
    "data.source.height=180",
    "data.image_size=[96,160]",
    "trainer.accelerator=cpu",
]
#: Small versions of the exportable detector configs.
TINY_DETECTOR_MODELS = {
    "det_fcos_resnet10": ["model.net.fpn_channels=32", "model.net.head_convs=1"],
    "det_retinanet_resnet50": [
        "model.net.backbone=resnet10",
        "model.net.fpn_channels=32",
        "model.net.extra_levels=null",
        "model.net.anchor_scale=2.0",
        "model.net.frozen_bn=false",
    ],
}


@pytest.fixture
def tiny_detector_checkpoint(make_cfg) -> Callable[..., Path]:
    """`tiny_detector_checkpoint(model="det_fcos_resnet10")` -> a detector checkpoint as training
    writes it (state dict and vidlab meta), with untrained seeded weights whose class logits are
    spread out (std 0.3 instead of torchvision's 0.01), so scores are not near-ties."""

    def _make(
        model: str = "det_fcos_resnet10", extra: list[str] | None = None, name: str = "det_train"
    ) -> Path:
        import hydra
        import torch

        from vidlab.checkpoint import META_KEY
        from vidlab.tasks.common import checkpoint_meta

        overrides = [
            *TINY_DETECTOR,
            f"model={model}",
            *TINY_DETECTOR_MODELS.get(model, []),
            *(extra or []),
        ]
        cfg = make_cfg("train", overrides, name=name)
        datamodule = hydra.utils.instantiate(cfg.data)
        torch.manual_seed(0)
        module = hydra.utils.instantiate(cfg.model, optimizer=None, scheduler=None)
        head = getattr(module.net, "head", None)  # single-stage detectors (not Faster R-CNN)
        if head is not None:
            with torch.no_grad():
                head.classification_head.cls_logits.weight.normal_(0, 0.3)
        module.checkpoint_meta = checkpoint_meta(cfg, datamodule)
        ckpt = {"state_dict": module.state_dict()}
        module.on_save_checkpoint(ckpt)
        path = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": ckpt["state_dict"], META_KEY: ckpt[META_KEY]}, path)
        return path

    return _make
