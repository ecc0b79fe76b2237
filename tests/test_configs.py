"""Every option of every config group composes and resolves (and model configs instantiate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hydra
import pytest
from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"

# Which top-level config a group belongs to, and extra overrides it needs to compose.
GROUP_HOME = {
    "task": ("evaluate", []),
    "tracker": ("evaluate", ["task=track"]),
    "export": ("export", []),
    "sinks": ("evaluate", []),
    "analytics": ("evaluate", []),
}
# Groups no top-level default list names (task=stream composes `sinks`): appended with `+`.
APPENDED_GROUPS = {"sinks"}
SKIP_GROUPS = {"hydra", "local"}
# Data configs of the tracking harness compose under evaluate.py with the task that uses them.
TRACKING_DATA = {
    ("data", "mot"): "task=mot_metrics",
    ("data", "synthetic_mot"): "task=track",
    ("hparams_search", "tracker_optuna"): "task=track",
    ("data", "synthetic_scene"): "task=events",
    # Re-ID image datasets compose with the Re-ID evaluation task.
    **{("data", o): "task=reid" for o in ("synthetic_reid", "market1501", "mot17_reid")},
}

# Localization annotation readers (not training datamodules) compose with the localize task.
LOCALIZATION_DATA = {("data", o): "task=localize" for o in ("thumos14", "activitynet")}
TRACKING_DATA |= LOCALIZATION_DATA

# Person detection data composes with a detection model (its inputs are images, not clips).
DETECTION_DATA = {
    ("data", o): "model=det_fcos_resnet10" for o in ("synthetic_det", "mot_det", "coco")
}


def _options() -> list[tuple[str, str]]:
    found = []
    for group_dir in sorted(p for p in CONFIGS.iterdir() if p.is_dir()):
        if group_dir.name in SKIP_GROUPS:
            continue
        for option in sorted(group_dir.glob("*.yaml")):
            found.append((group_dir.name, option.stem))
    return found


OPTIONS = _options()


def _missing_keys(node: DictConfig, prefix: str = "") -> Iterator[str]:
    """Full keys of mandatory (`???`) values, without resolving interpolations on the way."""
    for key in node.keys():
        if prefix == "" and key == "hydra":
            continue
        if OmegaConf.is_missing(node, key):
            yield f"{prefix}{key}"
        else:
            child = node._get_node(key)
            if isinstance(child, DictConfig):
                yield from _missing_keys(child, f"{prefix}{key}.")


def test_groups_required_by_the_issue_exist():
    groups = {g for g, _ in OPTIONS}
    required = {
        "data",
        "model",
        "trainer",
        "callbacks",
        "logger",
        "paths",
        "debug",
        "experiment",
        "hparams_search",
        "optimizer",
        "scheduler",
    }
    assert required <= groups, required - groups


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_resolves(make_cfg, group, option):
    config_name, extra = GROUP_HOME.get(group, ("train", []))
    if (group, option) in TRACKING_DATA:
        config_name, extra = "evaluate", [TRACKING_DATA[(group, option)]]
    if (group, option) in DETECTION_DATA:
        extra = [DETECTION_DATA[(group, option)]]
    plus = "+" if group in APPENDED_GROUPS else ""
    overrides = [*extra, f"{plus}{group}={option}"]
    # Options that require a user value (`key: ???`) get a placeholder, as a user would type one.
    missing = list(_missing_keys(make_cfg(config_name, overrides, name="probe")))
    overrides += [f"{k}=" + ("7" if k.endswith("num_classes") else "/example") for k in missing]
    cfg = make_cfg(config_name, overrides)
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


# The groups each evaluate.py task composes beyond data / paths / hydra (configs/task/*.yaml).
TASK_GROUPS = {
    "classification": {"model", "trainer"},
    "complexity": {"model"},
    "reid": {"trainer"},
    "track": {"tracker"},
    "stream": {"tracker"},
    "mot_metrics": set(),
    "check_data": set(),
    "detect": set(),
    "events": set(),
    "summarize": set(),
    "flow": set(),
    "localization_metrics": set(),
    "localize": set(),
}


@pytest.mark.parametrize(("task", "groups"), TASK_GROUPS.items(), ids=list(TASK_GROUPS))
def test_evaluate_composes_only_the_groups_a_task_uses(make_cfg, task, groups):
    assert {p.stem for p in (CONFIGS / "task").glob("*.yaml")} == set(TASK_GROUPS)
    cfg = make_cfg("evaluate", [f"task={task}"])
    assert {g for g in ("model", "trainer", "tracker") if g in cfg} == groups
    if "model" in groups:  # a model option on the command line still picks the network
        assert make_cfg("evaluate", [f"task={task}", "model=x3d_s"]).model.net.name == "x3d_s"
