"""Every option of every config group composes and resolves (and model configs instantiate)."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"

# Which top-level config a group belongs to, and extra overrides it needs to compose.
GROUP_HOME = {
    "task": ("evaluate", []),
    "tracker": ("evaluate", ["task=track"]),
    "export": ("export", []),
}
SKIP_GROUPS = {"hydra", "local"}


def _options() -> list[tuple[str, str]]:
    found = []
    for group_dir in sorted(p for p in CONFIGS.iterdir() if p.is_dir()):
        if group_dir.name in SKIP_GROUPS:
            continue
        for option in sorted(group_dir.glob("*.yaml")):
            found.append((group_dir.name, option.stem))
    return found


OPTIONS = _options()


def test_groups_required_by_the_issue_exist():
    groups = {g for g, _ in OPTIONS}
    required = {"data", "model", "trainer", "callbacks", "logger", "paths", "debug", "experiment",
                "hparams_search", "optimizer", "scheduler"}
    assert required <= groups, required - groups


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_resolves(make_cfg, group, option):
    config_name, extra = GROUP_HOME.get(group, ("train", []))
    cfg = make_cfg(config_name, [*extra, f"{group}={option}"])
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    assert container["task_fn"].startswith("vidlab.tasks.")
    if group == "model":
        net = hydra.utils.instantiate(cfg.model.net)
        assert net.num_classes == cfg.data.num_classes


def test_slurm_launcher_composes(make_cfg):
    cfg = make_cfg("train", ["hydra/launcher=slurm", "trainer=ddp_multinode"])
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["nodes"] == 2 and launcher["tasks_per_node"] == 8
    assert "submitit" in launcher["_target_"]


def test_joblib_launcher_composes(make_cfg):
    cfg = make_cfg("train", ["hydra/launcher=joblib", "hparams_search=optuna"])
    assert "joblib" in cfg.hydra.launcher._target_.lower()
    assert cfg.hydra.sweeper.direction == "maximize"
