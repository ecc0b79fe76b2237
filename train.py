"""Entry point: `python train.py [overrides]`. All logic lives in vidlab.tasks."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from vidlab.tasks import dispatch


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Run the configured task; return the sweep objective (if any) for Hydra sweepers."""
    metrics = dispatch(cfg)
    objective = cfg.get("optimized_metric")
    return metrics.get(objective) if objective and metrics else None


if __name__ == "__main__":
    main()
