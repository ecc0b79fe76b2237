"""Training / inference clips per second of the small model variants on the CPU, and the cost of a
Lightning training step against a bare PyTorch loop on the same model and batches.

Part 1 (throughput): for X3D-XS, X3D-S, R3D-18, a small SlowFast and a small TimeSformer, a bare
loop (AdamW, cross entropy, backward, step) and an inference loop (eval, no_grad) on the same
in-memory batches at a small input; median clips/s over the repeats.

Part 2 (framework overhead): the quickstart model (configs/model/x3d_synthetic.yaml at the
quickstart's former 8x64x64 clips, batch 16; the quickstart now uses 8x32x32) trained by

* ``bare``: a plain loop with the same parameter groups, AdamW, per-step warm-up cosine schedule
  and label-smoothed cross entropy as `VideoClassifier`;
* ``lightning (quickstart)``: `VideoClassifier` under the Trainer, callbacks and logger that
  ``python train.py`` composes (configs/trainer/default.yaml, callbacks/default.yaml, logger/csv);
* one-change variants of it, to find where the time goes, and ``lightning (lean)`` with all of
  them off.

All runs see the same pre-built batches (a DataLoader over a list, ``batch_size=None``), the same
number of steps, the first `--warmup` steps excluded; a step is the time between consecutive
ends of training batches (Lightning: ``on_train_batch_end``), so it includes everything the loop
does per step, measured in process CPU time (the machine is shared; with one thread per process
the step is compute bound, so CPU time is what it costs). Runs are interleaved (bare, variant, bare, variant, ...) and each variant's ratio
is taken against the bare run next to it; the median over repeats is reported.

    OMP_NUM_THREADS=1 python benchmarks/model_throughput.py [--repeats 3] [--steps 8]
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import hydra
import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict
from torch import nn
from torch.utils.data import DataLoader

from vidlab.models.slowfast import create_slowfast, pack_pathways
from vidlab.models.timesformer import create_timesformer
from vidlab.models.torchvision_models import create_r3d_18
from vidlab.models.x3d import create_x3d
from vidlab.optim import cosine_with_warmup, param_groups
from vidlab.utils.reporting import print_table

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
NUM_CLASSES = 4
LR, WEIGHT_DECAY, LABEL_SMOOTHING = 3e-3, 0.05, 0.1
OVERHEAD_TARGET = 1.05  # the Lightning step may cost at most 5% more than the bare loop
# Process CPU time (all threads of this process): with OMP_NUM_THREADS=1 the step is compute bound,
# and CPU time is far less disturbed than wall time by other jobs sharing the cores.
CLOCK = time.process_time


@dataclass(frozen=True)
class Variant:
    """A small model at a small input: `frames` x `size`^2 clips (SlowFast: Fast pathway)."""

    name: str
    build: Callable[[], nn.Module]
    frames: int
    size: int
    alpha: int | None = None


VARIANTS = (
    Variant(
        "x3d_xs",
        functools.partial(
            create_x3d,
            num_classes=NUM_CLASSES,
            num_frames=4,
            crop_size=64,
            depth_factor=2.2,
            head_dim_out=2048,
        ),
        4,
        64,
    ),
    Variant(
        "x3d_s",
        functools.partial(
            create_x3d,
            num_classes=NUM_CLASSES,
            num_frames=8,
            crop_size=64,
            depth_factor=2.2,
            head_dim_out=2048,
        ),
        8,
        64,
    ),
    Variant("r3d_18", functools.partial(create_r3d_18, num_classes=NUM_CLASSES), 8, 64),
    Variant(
        "slowfast_r50 (alpha 4)",
        functools.partial(create_slowfast, num_classes=NUM_CLASSES, depth=50, alpha=4),
        8,
        64,
        alpha=4,
    ),
    Variant(
        "timesformer (192-d, 4 blocks)",
        functools.partial(
            create_timesformer,
            num_classes=NUM_CLASSES,
            num_frames=4,
            crop_size=64,
            embed_dim=192,
            depth=4,
            num_heads=3,
        ),
        4,
        64,
    ),
)


def make_batches(
    n: int, batch: int, frames: int, size: int, alpha: int | None = None, seed: int = 0
) -> list[dict]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        clip = torch.randn(batch, 3, frames, size, size, generator=gen)  # (B, C, T, H, W)
        out.append(
            {
                "video": pack_pathways(clip, alpha) if alpha else clip,
                "label": torch.randint(0, NUM_CLASSES, (batch,), generator=gen),
                "video_index": torch.arange(batch) + i * batch,
                "view_index": torch.zeros(batch, dtype=torch.int64),
            }
        )
    return out


def optimizer_factory() -> Callable[..., torch.optim.Optimizer]:
    return functools.partial(torch.optim.AdamW, lr=LR, weight_decay=WEIGHT_DECAY)


def scheduler_factory() -> Callable:
    return functools.partial(cosine_with_warmup, warmup_fraction=0.1, start_factor=0.01)


def _train_loop(net: nn.Module, batches: Iterable[dict], num_batches: int) -> list[float]:
    """Step end times of a plain training loop over `num_batches` of `batches`."""
    net.train()
    skip = net.no_weight_decay() if hasattr(net, "no_weight_decay") else ()
    optimizer = optimizer_factory()(param_groups(net, skip))
    scheduler = scheduler_factory()(optimizer, total_steps=num_batches)
    stamps = [CLOCK()]
    for _, batch in zip(range(num_batches), batches, strict=False):
        loss = F.cross_entropy(net(batch["video"]), batch["label"], label_smoothing=LABEL_SMOOTHING)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        stamps.append(CLOCK())
    return stamps


def bare_train(net: nn.Module, batches: list[dict]) -> list[float]:
    """Step end times of a plain training loop (the reference)."""
    return _train_loop(net, DataLoader(batches, batch_size=None), len(batches))


@torch.no_grad()
def bare_infer(net: nn.Module, batches: list[dict]) -> list[float]:
    net.eval()
    stamps = [CLOCK()]
    for batch in batches:
        net(batch["video"])
        stamps.append(CLOCK())
    return stamps


def bare_train_from_datamodule(net: nn.Module, num_batches: int, out_dir: Path) -> list[float]:
    """The bare loop fed by the quickstart datamodule's train loader (configs/data/synthetic_actions:
    uint8 clips normalised per sample and collated in the loop's process, as `train.py` does)."""
    cfg = quickstart_cfg(
        out_dir,
        [
            f"data.train_size={16 * num_batches}",
            "data.val_size=16",
            "data.test_size=16",
            f"data.cache_dir={out_dir / 'data'}",
        ],
    )
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    batches = [b for _, b in zip(range(num_batches), datamodule.train_dataloader(), strict=False)]
    del batches  # generation and caching done; now time the loop with the loader in it
    return _train_loop(net, datamodule.train_dataloader(), num_batches)


def step_times(stamps: list[float], warmup: int) -> list[float]:
    return [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)][warmup:]


class StepClock(pl.Callback):
    """Time stamps at the end of every training batch (first: the start of the epoch)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.stamps = [CLOCK()]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.stamps.append(CLOCK())


def quickstart_cfg(out_dir: Path, overrides: list[str]) -> DictConfig:
    """The train config `python train.py` composes, with the run directory in `out_dir`."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
        cfg.paths.log_dir = str(out_dir / "logs")
    return cfg


LIGHTNING_VARIANTS: dict[str, list[str]] = {
    "lightning (quickstart)": [],
    "  deterministic=false": ["trainer.deterministic=false"],
    "  no checkpoint callbacks": ["~callbacks.model_checkpoint", "~callbacks.last_checkpoint"],
    "  no progress bar": ["~callbacks.progress_bar"],
    "  no logger / lr monitor": ["~logger.csv", "~callbacks.lr_monitor"],
    "  log_every_n_steps=50": ["trainer.log_every_n_steps=50"],
    "lightning (lean)": ["trainer.deterministic=false", "callbacks=none", "~logger.csv"],
}


def _instantiate_nodes(group) -> list:
    """Every node with a ``_target_`` of a dict-of-configs group (callbacks, loggers)."""
    return [
        hydra.utils.instantiate(node)
        for node in (group or {}).values()
        if node is not None and "_target_" in node
    ]


def lightning_train(
    net: nn.Module, batches: list[dict], overrides: list[str], out_dir: Path
) -> list[float]:
    """Step end times of `VideoClassifier` under the quickstart Trainer (with `overrides`)."""
    cfg = quickstart_cfg(out_dir, overrides)
    # The quickstart's LightningModule (`model._target_`: VideoClassifier), built from its config.
    module = hydra.utils.instantiate(
        cfg.model,
        net=net,
        optimizer=optimizer_factory(),
        scheduler=scheduler_factory(),
        num_classes=NUM_CLASSES,
        label_smoothing=LABEL_SMOOTHING,
        _recursive_=False,
    )
    clock = StepClock()
    callbacks = [*_instantiate_nodes(cfg.get("callbacks")), clock]
    loggers = _instantiate_nodes(cfg.get("logger")) or False
    extra = {} if "progress_bar" in cfg.get("callbacks", {}) else {"enable_progress_bar": False}
    if "model_summary" not in cfg.get("callbacks", {}):
        extra["enable_model_summary"] = False
    if "model_checkpoint" not in cfg.get("callbacks", {}):
        extra["enable_checkpointing"] = False
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers,
        accelerator="cpu",
        max_epochs=1,
        max_steps=len(batches),
        limit_val_batches=0,
        num_sanity_val_steps=0,
        **extra,
    )
    try:
        trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    finally:
        torch.use_deterministic_algorithms(False)  # deterministic=true sets it process-wide
    return clock.stamps


def clips_per_s(times: list[float], batch: int) -> float:
    return batch / statistics.median(times)


def throughput_table(args: argparse.Namespace) -> None:
    rows = []
    for variant in VARIANTS:
        torch.manual_seed(0)
        batches = make_batches(
            args.warmup + args.steps, args.batch, variant.frames, variant.size, variant.alpha
        )
        train, infer = [], []
        for _ in range(args.repeats):
            net = variant.build()
            train.append(clips_per_s(step_times(bare_train(net, batches), args.warmup), args.batch))
            infer.append(clips_per_s(step_times(bare_infer(net, batches), args.warmup), args.batch))
        params = sum(p.numel() for p in variant.build().parameters()) / 1e6
        rows.append(
            [
                variant.name,
                f"{variant.frames}x{variant.size}x{variant.size}",
                f"{params:.1f}",
                f"{statistics.median(train):.1f}",
                f"{statistics.median(infer):.1f}",
            ]
        )
    print_table(
        f"CPU throughput, batch {args.batch}, {torch.get_num_threads()} thread(s)",
        ["model", "input TxHxW", "params (M)", "train clips/s", "infer clips/s"],
        rows,
    )


def quickstart_builder(frames: int, size: int, scale: float = 1.0) -> Callable[[], nn.Module]:
    """configs/model/x3d_synthetic.yaml (width / depth optionally scaled down)."""
    return functools.partial(
        create_x3d,
        num_classes=NUM_CLASSES,
        num_frames=frames,
        crop_size=size,
        width_factor=scale,
        depth_factor=scale,
        bottleneck_factor=2.25,
        head_dim_out=256,
        dropout_rate=0.2,
    )


def compare_loops(
    build: Callable[[], nn.Module], batches: list[dict], args: argparse.Namespace, tmp: Path
) -> tuple[list[float], dict[str, list[float]]]:
    """Interleaved bare / Lightning runs: median step CPU times (s) per run."""
    bare_steps: list[float] = []
    light_steps: dict[str, list[float]] = {name: [] for name in LIGHTNING_VARIANTS}
    for repeat in range(args.repeats):
        for index, (name, overrides) in enumerate(LIGHTNING_VARIANTS.items()):
            torch.manual_seed(repeat)
            bare_steps.append(
                statistics.median(step_times(bare_train(build(), batches), args.warmup))
            )
            torch.manual_seed(repeat)
            stamps = lightning_train(build(), batches, overrides, tmp / f"{repeat}_{index}")
            light_steps[name].append(statistics.median(step_times(stamps, args.warmup)))
    return bare_steps, light_steps


def overhead_table(args: argparse.Namespace) -> None:
    """Framework cost per step measured on a cheap model (so it is resolved to the millisecond),
    then set against the quickstart model's own bare step and its data loading."""
    frames, size, batch = 8, 64, 16  # the former quickstart clip (now 32x32) and batch
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cheap = make_batches(args.warmup + args.cheap_steps, 2, 2, 32)
        cheap_args = argparse.Namespace(**{**vars(args), "steps": args.cheap_steps})
        bare, light = compare_loops(
            quickstart_builder(2, 32, 0.5), cheap, cheap_args, tmp / "cheap"
        )
        full = make_batches(args.warmup + args.steps, batch, frames, size)
        quick_bare, quick_fed = [], []
        for repeat in range(args.repeats):
            torch.manual_seed(repeat)
            quick_bare.append(
                statistics.median(
                    step_times(bare_train(quickstart_builder(frames, size)(), full), args.warmup)
                )
            )
            quick_fed.append(
                statistics.median(
                    step_times(
                        bare_train_from_datamodule(
                            quickstart_builder(frames, size)(), len(full), tmp / f"loader_{repeat}"
                        ),
                        args.warmup,
                    )
                )
            )
        quick_light = None
        if args.full:
            _, quick_light = compare_loops(
                quickstart_builder(frames, size), full, args, tmp / "full"
            )
    bare_ms = 1e3 * statistics.median(bare)
    quick_ms = 1e3 * statistics.median(quick_bare)
    rows = [["bare PyTorch loop", f"{bare_ms:.1f}", "", f"{quick_ms:.0f}", ""]]
    for name in LIGHTNING_VARIANTS:
        cost = 1e3 * statistics.median(light[name]) - bare_ms
        measured = (
            ""
            if quick_light is None
            else f"{statistics.median(quick_light[name]) / statistics.median(quick_bare):.2f}"
        )
        rows.append(
            [name, f"{bare_ms + cost:.1f}", f"{cost:+.1f}", f"{1 + cost / quick_ms:.3f}", measured]
        )
    loader_ms = 1e3 * (statistics.median(quick_fed) - statistics.median(quick_bare))
    rows.append(
        [
            "bare loop + quickstart datamodule",
            "",
            "",
            f"{1 + loader_ms / quick_ms:.3f}",
            f"({loader_ms:+.0f} ms/step)",
        ]
    )
    print_table(
        f"Training step cost (process CPU time). Framework cost = Lightning - bare on a cheap X3D "
        f"(2x32x32, batch 2); quickstart ratio = 1 + cost / quickstart bare step (X3D "
        f"{frames}x{size}x{size}, batch {batch}). Target <= {OVERHEAD_TARGET:.2f}",
        [
            "loop",
            "cheap step (ms)",
            "framework cost (ms/step)",
            "quickstart x bare (derived)",
            "quickstart x bare (measured, --full)",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per run")
    parser.add_argument("--batch", type=int, default=4, help="batch of the throughput table")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument(
        "--cheap-steps",
        type=int,
        default=40,
        help="timed steps per run of the cheap model that resolves the framework cost",
    )
    parser.add_argument(
        "--variants",
        nargs="*",
        default=None,
        help="names of the Lightning variants to run (default: all)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also time Lightning on the quickstart model itself (slow)",
    )
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    if args.variants:
        for name in [n for n in LIGHTNING_VARIANTS if n.strip() not in args.variants]:
            del LIGHTNING_VARIANTS[name]
    if not args.skip_throughput:
        throughput_table(args)
    if not args.skip_overhead:
        overhead_table(args)


if __name__ == "__main__":
    main()
