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

    def _make(config_name: str, overrides: list[str] | None = None, name: str = "run") -> DictConfig:
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
