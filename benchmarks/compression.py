"""What distillation, structured pruning and int8 quantization cost and buy, on the synthetic
action dataset.

All runs happen in this one process, on the same generated data (same seed, same splits), through
the real training task (the config's ``task_fn``) with the project's configs:

1. teacher, trained for ``--teacher-epochs``;
2. student alone, ``--epochs`` epochs;
3. student distilled: the same student, same epochs, seed and data, with ``callbacks=distill``
   from the teacher's best checkpoint (KL at ``--kd-temperature`` weighted ``--kd-alpha``, the
   hard labels ``1 - alpha``; teacher logits cached: the synthetic clips carry no random
   augmentation);
4. structured pruning: the preset's base checkpoint (student alone or teacher) pruned by
   ``--ratio`` of its channels (``callbacks=prune_structured``), fine-tuned for
   ``--finetune-epochs``;
5. post-training static int8 of the pruning base and of the pruned model through the export stage
   (the export stage, formats ``onnx_int8`` and ``pt2e_int8``, calibrated on training
   clips): validation top-1 and its drop from eager fp32, latency at batch 1 and 8 on one thread.

Presets (``--preset``): ``xs`` is the issue's setting, teacher X3D-L (``model=x3d_l``), student
X3D-XS (``model=x3d_xs``), X3D-XS pruned; ``small`` is a CPU-cheap stand-in, teacher the quickstart
X3D (``model=x3d_synthetic``), student that X3D at half width, the teacher pruned.

``--teacher-run <dir>`` / ``--student-run <dir>`` reuse the teacher / student-alone run of an
earlier run (its ``checkpoints/best.ckpt`` and ``metrics.json``); ``--skip-distill``,
``--skip-prune`` and ``--skip-int8`` leave out steps 3, 4-5 and 5.

Then eager latency of the pruning base and the pruned model, batch 1 and 8, one CPU thread
(``torch.set_num_threads``), alternating the two models repeat by repeat (both see the same
machine load) at the training input size and at X3D-XS's published 4x160x160; medians and their
ratio are reported. Test top-1 is on the test split.

    OMP_NUM_THREADS=1 python benchmarks/compression.py --preset xs --frames 8 --crop 32 \
        --train-size 2000 --teacher-epochs 3 --epochs 2 --finetune-epochs 1 [--out <dir>]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import hydra
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from vidlab.checkpoint import load_network
from vidlab.models.complexity import count_complexity
from vidlab.utils.reporting import print_table

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
PUBLISHED_XS = (4, 160)  # X3D-XS input: frames, crop
INT8_FORMATS = ("onnx_int8", "pt2e_int8")  # post-training static int8 (ONNX Runtime, PT2E x86)
SMALL_STUDENT = ["model=x3d_synthetic", "model.net.width_factor=0.5", "model.net.head_dim_out=128"]
# preset: (teacher name, teacher overrides, student name, student overrides, pruning base)
PRESETS = {
    "xs": ("X3D-L", ["model=x3d_l"], "X3D-XS", ["model=x3d_xs"], "student"),
    "small": ("X3D quickstart", ["model=x3d_synthetic"], "X3D half", SMALL_STUDENT, "teacher"),
}


def compose_run(
    overrides: list[str], out_dir: Path, data_dir: Path, config: str = "train"
) -> DictConfig:
    """`configs/<config>.yaml` composed as the entry script would, with its run dir set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config, overrides=overrides, return_hydra_config=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(out_dir)
        cfg.hydra.runtime.cwd = str(CONFIG_DIR.parent)
        cfg.hydra.job.num = 0
        cfg.paths.output_dir = str(out_dir)
        cfg.paths.log_dir = str(out_dir / "logs")
        cfg.paths.data_dir = str(data_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def run_task(cfg: DictConfig) -> dict:
    """Run the task the composed config names (``task_fn``), as its entry script would."""
    return hydra.utils.get_method(cfg.task_fn)(cfg)


def best_ckpt(run_dir: Path) -> Path:
    """The best checkpoint a training run directory keeps."""
    return run_dir / "checkpoints" / "best.ckpt"


def reuse(run_dir: Path) -> tuple[dict, Path]:
    """Metrics and best checkpoint of an earlier training run directory."""
    payload = json.loads((run_dir / "metrics.json").read_text())
    return {**payload["metrics"], "wall_s": payload["details"]["wall_time_s"]}, best_ckpt(run_dir)


def run(name: str, overrides: list[str], args: argparse.Namespace) -> tuple[dict, Path]:
    """Train one configuration; returns its metrics and best checkpoint."""
    out = args.out / name
    started = time.perf_counter()
    metrics = run_task(compose_run(overrides, out, args.out / "data"))
    metrics["wall_s"] = time.perf_counter() - started
    return metrics, best_ckpt(out)


def quantize(name: str, ckpt: Path, data: list[str], args: argparse.Namespace) -> list[tuple]:
    """int8 exports of one checkpoint through the export stage (`python export.py`): rows of
    model, format, validation top-1, its drop from eager fp32, latency at batch 1 / 8 and the
    speed-up over eager fp32, on one thread."""
    overrides = [
        f"ckpt_path={ckpt}",
        f"export.formats=[{','.join(INT8_FORMATS)}]",
        "export.threads=1",
        f"export.num_parity_clips={args.val_size}",
        *[d for d in data if d.startswith("data.")],
    ]
    metrics = run_task(
        compose_run(overrides, args.out / f"export_{name}", args.out / "data", config="export")
    )
    base = "export/pytorch_fp32"
    rows = []
    for fmt in ("pytorch_fp32", *INT8_FORMATS):
        key = f"export/{fmt}"
        rows.append(
            (
                name,
                fmt,
                metrics[f"{key}/top1"],
                metrics[f"{key}/top1_drop"],
                metrics[f"{key}/latency_ms_b1"],
                metrics[f"{key}/latency_ms_b8"],
                metrics[f"{base}/latency_ms_b1"] / metrics[f"{key}/latency_ms_b1"],
            )
        )
    return rows


@torch.no_grad()
def latency_ms(
    models: dict[str, torch.nn.Module], shape: tuple[int, ...], repeats: int
) -> dict[str, float]:
    """Median forward time per model (ms), models alternating within each repeat."""
    clip = torch.randn(shape)
    times: dict[str, list[float]] = {k: [] for k in models}
    for m in models.values():  # warm-up
        m(clip)
    for _ in range(repeats):
        for key, m in models.items():
            start = time.perf_counter()
            m(clip)
            times[key].append(1e3 * (time.perf_counter() - start))
    return {k: statistics.median(v) for k, v in times.items()}


def latency_table(models: dict[str, torch.nn.Module], name: str, args: argparse.Namespace) -> None:
    """Latency of the base and pruned model at the run's input and at X3D-XS's published input."""
    rows = []
    for frames, crop in ((args.frames, args.crop), PUBLISHED_XS):
        for batch in (1, 8):
            ms = latency_ms(models, (batch, 3, frames, crop, crop), args.repeats)
            rows.append(
                (
                    f"{frames}x{crop}px batch {batch}",
                    ms["base"],
                    ms["pruned"],
                    ms["base"] / ms["pruned"],
                )
            )
    print_table(
        f"Eager CPU latency, {torch.get_num_threads()} thread(s), median of {args.repeats}",
        ["input", f"{name} ms", "pruned ms", "speed-up"],
        rows,
    )


def latency_only(args: argparse.Namespace) -> None:
    """Prune the preset's base network as built from its config and time both."""
    import copy

    from vidlab.compression.structured import prune_channels

    t_name, t_model, s_name, s_model, base = PRESETS[args.preset]
    name, overrides = (s_name, s_model) if base == "student" else (t_name, t_model)
    cfg = compose_run(
        [f"data.num_frames={args.frames}", f"data.crop_size={args.crop}", *overrides],
        args.out / "latency",
        args.out / "data",
    )
    net = hydra.utils.instantiate(cfg.model.net).eval()
    pruned = copy.deepcopy(net)
    result = prune_channels(
        pruned, torch.zeros(1, 3, args.frames, args.crop, args.crop), ratio=args.ratio
    )
    print_table(
        f"Structured pruning {args.ratio:.0%}",
        ["model", "params", "GFLOPs/clip"],
        [
            (name, result.params_before, result.gflops_before),
            (f"{name} pruned", result.params_after, result.gflops_after),
        ],
    )
    latency_table({"base": net, "pruned": pruned.eval()}, name, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="xs")
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--teacher-epochs", type=int, default=4)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--crop", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("/tmp/vidlab_compression"))
    parser.add_argument("--teacher-run", type=Path, default=None)
    parser.add_argument(
        "--student-run",
        type=Path,
        default=None,
        help="reuse the student-alone run of an earlier run",
    )
    parser.add_argument(
        "--val-size",
        type=int,
        default=400,
        help="validation and test clips (also the int8 parity clips)",
    )
    parser.add_argument(
        "--kd-alpha",
        type=float,
        default=0.9,
        help="weight of the distillation term (1 - alpha: the hard labels)",
    )
    parser.add_argument("--kd-temperature", type=float, default=4.0)
    parser.add_argument("--skip-distill", action="store_true")
    parser.add_argument("--skip-prune", action="store_true")
    parser.add_argument("--skip-int8", action="store_true")
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="no training: prune the preset's randomly initialised pruning base "
        "and time it (latency does not depend on the weights' values)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.latency_only:
        latency_only(args)
        return
    data = [
        f"data.train_size={args.train_size}",
        f"data.val_size={args.val_size}",
        f"data.test_size={args.val_size}",
        f"data.num_frames={args.frames}",
        f"data.crop_size={args.crop}",
        "data.batch_size=16",
        "trainer.accelerator=cpu",
        "logger=csv",
        "callbacks.progress_bar=null",
    ]
    t_name, t_model, s_name, s_model, base = PRESETS[args.preset]
    teacher, teacher_ckpt = (
        reuse(args.teacher_run)
        if args.teacher_run is not None
        else run("teacher", [*data, *t_model, f"trainer.max_epochs={args.teacher_epochs}"], args)
    )
    student = [*data, *s_model, f"trainer.max_epochs={args.epochs}"]
    alone, alone_ckpt = (
        reuse(args.student_run)
        if args.student_run is not None
        else run("student_alone", student, args)
    )
    rows = [
        (f"teacher {t_name}", teacher["test/top1"], teacher["wall_s"]),
        (f"student {s_name} alone", alone["test/top1"], alone["wall_s"]),
    ]
    if not args.skip_distill:
        distilled, _ = run(
            "student_distilled",
            [
                *student,
                "callbacks=distill",
                f"callbacks.distill.teacher_ckpt={teacher_ckpt}",
                f"callbacks.distill.alpha={args.kd_alpha}",
                f"callbacks.distill.temperature={args.kd_temperature}",
                "callbacks.distill.cache_logits=true",
            ],
            args,
        )
        rows.append((f"student {s_name} distilled", distilled["test/top1"], distilled["wall_s"]))
    title = f"Synthetic actions, {args.train_size} training clips, {args.frames}x{args.crop}px"
    if args.skip_prune:
        print_table(title, ["model", "test top1", "train wall s"], rows)
        return
    base_ckpt, base_model = (alone_ckpt, s_model) if base == "student" else (teacher_ckpt, t_model)
    pruned, pruned_ckpt = run(
        "pruned",
        [
            *data,
            *base_model,
            f"trainer.max_epochs={args.finetune_epochs}",
            "callbacks=prune_structured",
            f"callbacks.prune_structured.init_ckpt={base_ckpt}",
            f"callbacks.prune_structured.ratio={args.ratio}",
        ],
        args,
    )

    models = {"base": load_network(base_ckpt)[0], "pruned": load_network(pruned_ckpt)[0]}
    b_name = s_name if base == "student" else t_name
    rows.append(
        (f"{b_name} pruned {args.ratio:.0%} + fine-tuned", pruned["test/top1"], pruned["wall_s"])
    )
    clip = torch.zeros(1, 3, args.frames, args.crop, args.crop)
    sizes = {k: count_complexity(m, clip) for k, m in models.items()}
    int8_rows = (
        []
        if args.skip_int8
        else [
            *quantize(b_name, base_ckpt, data, args),
            *quantize(f"{b_name} pruned", pruned_ckpt, data, args),
        ]
    )
    print_table(title, ["model", "test top1", "train wall s"], rows)
    print_table(
        "Structured pruning",
        ["model", "params", "GFLOPs/clip"],
        [(f"{b_name} {k}", c.params, c.gflops) for k, c in sizes.items()],
    )
    latency_table(models, b_name, args)
    if int8_rows:
        print_table(
            f"Post-training int8 (export stage), {args.val_size} validation clips, "
            f"{args.frames}x{args.crop}px, 1 thread",
            ["model", "format", "val top1", "drop", "ms b1", "ms b8", "speed-up b1"],
            int8_rows,
        )


if __name__ == "__main__":
    main()
