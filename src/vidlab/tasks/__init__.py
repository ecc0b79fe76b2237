"""Task functions called by the thin entry scripts (`train.py`, `evaluate.py`, `export.py`).

Each task is a `run(cfg) -> dict` function in a module of this package. The entry scripts name it
with the `task_fn` config key (a dotted path), and `dispatch` imports it lazily so that a task only
pays for the libraries it uses.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from omegaconf import DictConfig


def resolve_task(task_fn: str):
    """Import and return the task function named by a dotted path `package.module.function`."""
    module_name, _, attr = task_fn.rpartition(".")
    if not module_name:
        raise ValueError(f"task_fn must be a dotted path 'module.function', got {task_fn!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ValueError(f"task_fn {task_fn!r}: module {module_name!r} has no {attr!r}") from err


def dispatch(cfg: DictConfig) -> dict[str, Any]:
    """Run the task that `cfg.task_fn` names and return its metrics."""
    return resolve_task(cfg.task_fn)(cfg)


def main(config_name: str, config_dir: str | Path) -> None:
    """Body of the entry scripts: compose `<config_dir>/<config_name>.yaml` with Hydra (command-line
    overrides, multirun, sweepers), run the task, and hand the sweep objective back to Hydra.

    Expected user errors (`vidlab.errors.EXPECTED_ERRORS`, a missing mandatory config value) end
    the command with one ``error: <message>`` line on stderr and exit status 2; the traceback is
    kept with ``VIDLAB_VERBOSE=1`` or ``HYDRA_FULL_ERROR=1``. They are caught inside the
    decorated function, since Hydra would otherwise print its own trace around them."""
    import hydra
    from omegaconf.errors import MissingMandatoryValue

    from vidlab.errors import report_user_errors

    @hydra.main(
        version_base="1.3", config_path=str(Path(config_dir).resolve()), config_name=config_name
    )
    def _run(cfg: DictConfig) -> float | None:
        with report_user_errors(extra=(MissingMandatoryValue,)):
            metrics = dispatch(cfg)
        objective = cfg.get("optimized_metric")
        return metrics.get(objective) if objective and metrics else None

    _run()
