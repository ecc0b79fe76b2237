"""``python export.py ckpt_path=<reid.ckpt> [export=reid]``: the Re-ID embedding network as ONNX and
TorchScript, parity-checked, with a card.

Writes into the run directory ``model.onnx`` (input ``image`` (B, 3, H, W) normalised RGB, output
``embedding`` (B, D) **L2-normalised** BNNeck feature; its ``vidlab.input`` metadata holds the input
size, mean and std), ``model.ts`` (TorchScript, same contract), ``model_card.json`` and
``metrics.json``. Parity: every crop's ONNX / TorchScript embedding must have cosine similarity at
least ``export.min_cosine`` (0.9999) with the eager PyTorch one, on validation crops of the data
(plus the two real Market-1501 crops under ``$VIDLAB_REAL_DATA/reid/market1501_query`` when that
variable is set). With ``export.tracking_parity=true`` DeepSORT and BoT-SORT (with Re-ID) also
track a synthetic sequence with frames once with the ONNX encoder and once with the PyTorch one:
track ids, boxes and metrics must be identical. A failing artifact is renamed ``*.rejected`` and
the command raises :class:`vidlab.export.verify.ParityError`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from vidlab.export import reid as reid_export
from vidlab.export.verify import ParityError
from vidlab.tasks.reid import reid_from_checkpoint
from vidlab.utils.reporting import print_metrics
from vidlab.utils.runinfo import file_sha256, write_json

log = logging.getLogger(__name__)

#: The real crops shipped in the shared data folder (relative to $VIDLAB_REAL_DATA).
REAL_CROPS_DIR = Path("reid") / "market1501_query"
DEFAULTS = {
    "opset": 18,
    "min_cosine": reid_export.MIN_COSINE,
    "num_parity_crops": 32,
    "tracking_parity": False,
    "tracking_frames": 60,
    "tracking_people": 6,
    "tracking_seed": 0,
}
#: Formats a Re-ID model is exported to (other names in ``export.formats`` are skipped).
REID_FORMATS = ("onnx", "torchscript")


def export_options(cfg: DictConfig) -> dict[str, Any]:
    """``cfg.export`` over :data:`DEFAULTS`, plus ``torchscript`` from ``export.formats``."""
    given = OmegaConf.to_container(cfg.get("export") or {}, resolve=True)
    opts = {k: type(v)(given.get(k, v)) for k, v in DEFAULTS.items()}
    formats = list(given.get("formats", ["onnx"]))
    skipped = [f for f in formats if f not in REID_FORMATS]
    if skipped:
        log.warning("Re-ID export writes %s; skipping formats %s", REID_FORMATS, skipped)
    opts["torchscript"] = "torchscript" in formats
    return opts


def data_config(cfg: DictConfig, meta: dict[str, Any]) -> DictConfig:
    """The command's ``data`` if it is a Re-ID datamodule, else the one stored in the checkpoint."""
    data = cfg.get("data")
    if data is not None and ".reid." in str(data.get("_target_", "")):
        return data
    return OmegaConf.create(meta["config"]["data"])


def validation_crops(data_cfg: DictConfig, count: int) -> torch.Tensor:
    """Up to `count` (N, 3, H, W) normalised crops, alternating query and gallery images."""
    datamodule = hydra.utils.instantiate(data_cfg)
    datamodule.prepare_data()
    datamodule.setup("validate")
    images = []
    for loader in datamodule.val_dataloader():
        taken = 0
        for batch in loader:
            images.append(batch["image"])
            taken += len(batch["image"])
            if taken >= count // 2:
                break
    return torch.cat(images)[:count]


def real_crops(spec: dict[str, Any]) -> torch.Tensor | None:
    """The Market-1501 crops of ``$VIDLAB_REAL_DATA`` in the model's preprocessing, or None."""
    root = os.environ.get("VIDLAB_REAL_DATA")
    if not root or not (Path(root) / REAL_CROPS_DIR).is_dir():
        return None
    from vidlab.data.reid.transforms import load_reid_images

    paths = sorted((Path(root) / REAL_CROPS_DIR).glob("*.jpg"))
    if not paths:
        return None
    images = load_reid_images(paths, spec["image_size"], spec["mean"], spec["std"])
    return torch.as_tensor(images, dtype=torch.float32)


def reject(artifact: Path) -> Path:
    """Rename a failed artifact to ``<name>.rejected`` so nothing downstream picks it up."""
    rejected = artifact.with_name(artifact.name + ".rejected")
    os.replace(artifact, rejected)
    return rejected


def model_card(
    meta: dict[str, Any], ckpt_path: Path, artifacts: dict[str, Path], parity: dict[str, Any]
) -> dict[str, Any]:
    spec = meta["input"]
    height, width = (int(v) for v in spec["image_size"])
    return {
        "task": "reid",
        "files": {fmt: path.name for fmt, path in artifacts.items()},
        "input": {
            "name": reid_export.INPUT_NAME,
            "shape": ["batch", 3, height, width],
            "layout": "NCHW",
            "dtype": "float32",
            "image_size": [height, width],
            "mean": list(spec["mean"]),
            "std": list(spec["std"]),
            "value_range": "RGB in [0, 1] before normalisation",
        },
        "output": {
            "name": reid_export.OUTPUT_NAME,
            "shape": ["batch", int(meta["embedding_dim"])],
            "embedding_dim": int(meta["embedding_dim"]),
            "l2_normalized": True,
            "feature": "BNNeck",
            "distance": "cosine (= 1 - dot product)",
        },
        "source_checkpoint": {"path": str(ckpt_path), "sha256": file_sha256(ckpt_path)},
        "model": meta["config"]["model"]["net"],
        "parity": parity,
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    if not cfg.get("ckpt_path"):
        raise ValueError("export needs a checkpoint: python export.py ckpt_path=<file.ckpt>")
    ckpt_path, out_dir = Path(cfg.ckpt_path), Path(cfg.paths.output_dir)
    opts = export_options(cfg)
    module, meta = reid_from_checkpoint(ckpt_path)
    net, spec = module.net.eval(), meta["input"]
    images = validation_crops(data_config(cfg, meta), opts["num_parity_crops"])
    real = real_crops(spec)
    if real is not None:
        images = torch.cat([real, images])
    artifacts = write_artifacts(net, images[:1], meta, ckpt_path, out_dir, opts)
    metrics, report, failed = check_artifacts(net, images, artifacts, opts)
    metrics["export/real_crops"] = 0 if real is None else len(real)
    if not failed and opts["tracking_parity"]:
        gates = run_tracking_parity(net, spec, artifacts["onnx"], opts)
        report["tracking"] = [g.as_dict() for g in gates]
        metrics["export/tracking_parity"] = float(all(g.ok for g in gates))
        failed += [] if all(g.ok for g in gates) else ["onnx"]
    print_metrics("Re-ID export parity", metrics)
    if failed:
        _fail(artifacts, failed, metrics, report, out_dir)
    write_json(out_dir / "model_card.json", model_card(meta, ckpt_path, artifacts, report))
    files = {k: str(v) for k, v in artifacts.items()}
    write_json(
        out_dir / "metrics.json",
        {
            "task": "export_reid",
            "metrics": metrics,
            "ok": True,
            "parity": report,
            "artifacts": files,
        },
    )
    return metrics


def write_artifacts(
    net: torch.nn.Module,
    example: torch.Tensor,
    meta: dict[str, Any],
    ckpt_path: Path,
    out_dir: Path,
    opts: dict[str, Any],
) -> dict[str, Path]:
    """``model.onnx`` (with its preprocessing as metadata) and, if asked, ``model.ts``."""
    onnx_meta = {
        "input": {k: meta["input"][k] for k in ("image_size", "mean", "std")},
        "embedding_dim": int(meta["embedding_dim"]),
        "l2_normalized": True,
        "source_sha256": file_sha256(ckpt_path),
    }
    artifacts = {
        "onnx": reid_export.export_onnx(
            net, example, out_dir / "model.onnx", metadata=onnx_meta, opset=opts["opset"]
        )
    }
    if opts["torchscript"]:
        artifacts["torchscript"] = reid_export.export_torchscript(
            net, example, out_dir / "model.ts"
        )
    return artifacts


def check_artifacts(
    net: torch.nn.Module, images: torch.Tensor, artifacts: dict[str, Path], opts: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Embedding parity of every artifact: (metrics, report per format, failed formats)."""
    reference = reid_export.eager_embeddings(net, images)
    runners = {
        "onnx": reid_export.onnx_embeddings,
        "torchscript": reid_export.torchscript_embeddings,
    }
    parity = {
        fmt: reid_export.embedding_parity(reference, runners[fmt](path, images), opts["min_cosine"])
        for fmt, path in artifacts.items()
    }
    metrics: dict[str, Any] = {
        f"export/{fmt}_min_cosine": p.min_cosine for fmt, p in parity.items()
    }
    metrics["export/parity_crops"] = len(images)
    report: dict[str, Any] = {fmt: p.as_dict() for fmt, p in parity.items()}
    return metrics, report, [fmt for fmt, p in parity.items() if not p.ok]


def _fail(
    artifacts: dict[str, Path],
    failed: list[str],
    metrics: dict[str, Any],
    report: dict[str, Any],
    out_dir: Path,
) -> None:
    rejected = {fmt: str(reject(artifacts[fmt])) for fmt in sorted(set(failed))}
    write_json(
        out_dir / "metrics.json",
        {
            "task": "export_reid",
            "metrics": metrics,
            "ok": False,
            "parity": report,
            "rejected": rejected,
        },
    )
    raise ParityError(
        f"Re-ID export parity failed for {sorted(rejected)}: {report}; artifacts "
        f"moved to {sorted(rejected.values())}"
    )


def run_tracking_parity(
    net: torch.nn.Module, spec: dict[str, Any], onnx_path: Path, opts: dict[str, Any]
) -> list[reid_export.TrackingParity]:
    """DeepSORT and BoT-SORT (with Re-ID) on a synthetic sequence (generated into a temporary
    folder): the ONNX encoder against the PyTorch one."""
    from vidlab.data.synthetic.mot import SceneConfig, write_mot_folder

    scene = SceneConfig(num_frames=opts["tracking_frames"], initial_people=opts["tracking_people"])
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_mot_folder(
            Path(tmp), 1, opts["tracking_seed"], render_frames=True, config=scene
        )
        return _tracking_gates(net, spec, onnx_path, folders)


def _tracking_gates(
    net: torch.nn.Module, spec: dict[str, Any], onnx_path: Path, folders: list[Path]
) -> list[reid_export.TrackingParity]:
    from vidlab.tracking.encoders import TorchEncoder, encoder_from_weights
    from vidlab.tracking.trackers.botsort import BotSort
    from vidlab.tracking.trackers.deepsort import DeepSort

    preprocessing = {
        "input_size": tuple(int(v) for v in spec["image_size"]),
        "mean": tuple(spec["mean"]),
        "std": tuple(spec["std"]),
    }
    torch_encoder = TorchEncoder(net, **preprocessing)
    onnx_encoder = encoder_from_weights(onnx_path)  # preprocessing from the file's metadata
    builders = {
        "deepsort": lambda enc: DeepSort(encoder=enc),
        "botsort": lambda enc: BotSort(with_reid=True, cmc="none", encoder=enc),
    }
    gates = [
        reid_export.tracking_parity(folders, make, torch_encoder, onnx_encoder, name)
        for name, make in builders.items()
    ]
    for gate in gates:
        log.info("tracking parity %s: %s", gate.tracker, gate.as_dict())
    return gates
