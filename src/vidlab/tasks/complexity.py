"""`python evaluate.py task=complexity model=<name>`: parameters and GFLOPs per view.

FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` while the model runs on the
``meta`` device: shapes propagate but nothing is computed or allocated, so even SlowFast R101 at
32x224x224 counts in about a second on a CPU. Like fvcore (PySlowFast, pytorchvideo) and the
papers, the count covers convolutions, matrix products and attention, not normalisation,
activations or pooling. torch counts a multiply-add as 2 FLOPs; papers report multiply-adds, so
GFLOPs here are torch's count / 2 / 1e9 (one multiply-add = one "FLOP" in the papers' tables).

The figures are written to ``metrics.json`` (`vidlab.utils.runinfo.write_metrics`): ``metrics``
holds ``model/params`` and ``model/gflops`` at the counted input, ``details`` the model name, class
count, input size and, where the registry has a published figure for the same input and a
Kinetics-400 head, the reference, its source and our count at the published view. They are also
printed as a table.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from torch import nn

from vidlab.models.complexity import MEGA, Complexity, count_complexity
from vidlab.models.registry import Reference, example_input, get_spec
from vidlab.utils.reporting import print_table
from vidlab.utils.runinfo import git_commit, package_versions, write_metrics

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
REFERENCE_CLASSES = 400  # the zoo tables count Kinetics-400 models


def _input_size(cfg: DictConfig, spec_frames: int, spec_crop: int) -> tuple[int, int]:
    """(T, crop) to count at: `complexity.*`, else the model config's, else the published one."""
    net = cfg.model.net
    frames = cfg.complexity.get("num_frames") or net.get("num_frames") or spec_frames
    crop = cfg.complexity.get("crop_size") or net.get("crop_size") or spec_crop
    return int(frames), int(crop)


def _compare(
    net: nn.Module, name: str, counted: Complexity, size: tuple[int, int], ref: Reference | None
) -> dict[str, Any]:
    """Published figures next to ours, counted at the published view size.

    Nothing is compared when the registry has no figure or the classifier is not the zoo's
    Kinetics-400 one. When the published view differs from the counted input (SlowFast-family
    figures are for 256x256 test crops), the model is counted again at the published size.
    """
    if ref is None or getattr(net, "num_classes", None) != REFERENCE_CLASSES:
        return {}
    spec = get_spec(name)
    ref_size = (ref.num_frames or spec.num_frames, ref.crop_size or spec.crop_size)
    at_ref = counted
    if ref_size != size:
        at_ref = count_complexity(
            net, example_input(name, num_frames=ref_size[0], crop_size=ref_size[1], device="meta")
        )
    out: dict[str, Any] = {
        "reference": {"source": ref.source, "num_frames": ref_size[0], "crop_size": ref_size[1]}
    }
    if ref.params_m is not None:
        out["reference"]["params_m"] = ref.params_m
        out["reference"]["params_rel_diff"] = at_ref.params / MEGA / ref.params_m - 1.0
    if ref.gflops is not None:
        out["reference"]["gflops"] = ref.gflops
        out["reference"]["gflops_ours"] = at_ref.gflops
        out["reference"]["gflops_rel_diff"] = at_ref.gflops / ref.gflops - 1.0
    return out


def run(cfg: DictConfig) -> dict[str, Any]:
    """Count the parameters and GFLOPs per view of `cfg.model.net` and write `metrics.json`.

    Config keys: `model.net` (a `vidlab.models.registry.create_model` node with `name`),
    `complexity.num_classes` (classifier size to count with; null: the model config's),
    `complexity.num_frames` / `complexity.crop_size` (null: the model config's or the published
    input size), `paths.output_dir`.

    Returns:
        ``{"model/params": int, "model/gflops": float}`` at the model's input size.
    """
    name = str(cfg.model.net.get("name", ""))
    spec = get_spec(name)
    num_classes = cfg.complexity.get("num_classes")
    overrides = {} if num_classes is None else {"num_classes": int(num_classes)}
    net = hydra.utils.instantiate(cfg.model.net, **overrides)
    size = _input_size(cfg, spec.num_frames, spec.crop_size)
    inputs = example_input(name, num_frames=size[0], crop_size=size[1], device="meta")
    result = count_complexity(net, inputs)
    summary = {
        "model": name,
        **asdict(result),
        "num_classes": net.num_classes,
        "input": {"num_frames": size[0], "crop_size": size[1]},
        **_compare(net, name, result, size, spec.reference),
    }
    metrics = {"model/params": result.params, "model/gflops": result.gflops}
    path = write_metrics(
        Path(cfg.paths.output_dir) / METRICS_FILE,
        task="complexity",
        metrics=metrics,
        details={k: v for k, v in summary.items() if k not in ("params", "gflops")},
        provenance={
            "model": OmegaConf.to_container(cfg.model.net, resolve=True),
            "versions": package_versions(),
            "git_commit": git_commit(),
        },
    )
    log.info("wrote %s", path)
    _print(summary)
    return metrics


def _print(metrics: dict[str, Any]) -> None:
    """Ours at the model's input; ours and the published figure at the published view."""
    size = metrics["input"]
    rows = [
        [
            f"{size['num_frames']}x{size['crop_size']}^2 (model input)",
            metrics["params"] / MEGA,
            metrics["gflops"],
            "-",
            "-",
        ]
    ]
    ref = metrics.get("reference")
    if ref is not None:
        rows.append(
            [
                f"{ref['num_frames']}x{ref['crop_size']}^2 (published view)",
                metrics["params"] / MEGA,
                ref.get("gflops_ours", "-"),
                ref.get("params_m", "-"),
                ref.get("gflops", "-"),
            ]
        )
    print_table(
        f"{metrics['model']}, {metrics['num_classes']} classes: GFLOPs = multiply-adds / view",
        ["input", "params (M)", "GFLOPs", "ref params (M)", "ref GFLOPs"],
        rows,
    )
    if ref is not None:
        log.info("reference: %s", ref["source"])
