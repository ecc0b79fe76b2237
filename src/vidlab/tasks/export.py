"""`python export.py ckpt_path=<file.ckpt> [export=<format>|all]`: deployable, verified bundles.

Config glue around the one export stage (`vidlab.export.stage.export_checkpoint`), which picks the
model family from the checkpoint and writes, verifies and reports every format the same way. This
module supplies what needs the config: the real parity inputs from a datamodule (validation clips
of ``data`` for a classifier, with training clips for int8 calibration; validation crops of the
checkpoint's Re-ID data for an embedder, plus the Market-1501 crops of ``$VIDLAB_REAL_DATA``; letterboxed validation frames of the checkpoint's
detection data for a detector, with training frames for int8 calibration), and
the extra gates (``export.tracking_parity=true``: DeepSORT and BoT-SORT must track identically with
the exported encoder and the PyTorch one, `vidlab.tracking.parity`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from vidlab.checkpoint import CLASSIFIER, DETECTOR, EMBEDDING
from vidlab.errors import UserError
from vidlab.export.families import Family, classifier_inputs
from vidlab.export.inputs import InputSpec, split_clip
from vidlab.export.stage import ExportInputs, Gate, export_checkpoint

log = logging.getLogger(__name__)

#: The real crops shipped in the shared data folder (relative to $VIDLAB_REAL_DATA).
REAL_CROPS_DIR = Path("reid") / "market1501_query"


def datamodule_clips(
    data_cfg: DictConfig, split: str, count: int
) -> tuple[torch.Tensor | tuple[torch.Tensor, ...], torch.Tensor]:
    """Up to `count` clips (N, C, T, H, W) and labels (N,) of `split` ("val" or "train"); a
    datamodule that packs pathways (SlowFast) gives a tuple of one (N, C, T_p, H, W) per pathway."""
    datamodule = hydra.utils.instantiate(data_cfg)
    datamodule.prepare_data()
    datamodule.setup("fit" if split == "train" else "validate")
    loader = datamodule.train_dataloader() if split == "train" else datamodule.val_dataloader()
    clips, labels = [], []
    for batch in loader:
        # Datamodules may finish batches after the device transfer (uint8 -> normalised float).
        batch = datamodule.on_after_batch_transfer(batch, 0)
        clips.append(batch["video"])
        labels.append(batch["label"])
        if len(torch.cat(labels)) >= count:
            break
    labels = torch.cat(labels)[:count]
    if isinstance(clips[0], (list, tuple)):  # [slow, fast] per batch
        return tuple(torch.cat(p)[:count] for p in zip(*clips, strict=True)), labels
    return torch.cat(clips)[:count], labels


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


def reid_data_config(cfg: DictConfig, meta: dict[str, Any]) -> DictConfig:
    """The command's ``data`` if it is a Re-ID datamodule, else the one stored in the checkpoint."""
    data = cfg.get("data")
    if data is not None and ".reid." in str(data.get("_target_", "")):
        return data
    return OmegaConf.create(meta["config"]["data"])


def detection_data_config(cfg: DictConfig, meta: dict[str, Any]) -> DictConfig:
    """The command's ``data`` if it is a detection datamodule, else the checkpoint's."""
    data = cfg.get("data")
    if data is not None and ".detection." in str(data.get("_target_", "")):
        return data
    return OmegaConf.create(meta["config"]["data"])


def detection_frames(
    data_cfg: DictConfig, split: str, count: int, image_size: list[int]
) -> torch.Tensor:
    """Up to `count` frames (N, 3, H, W) of `split`, spread over the split, letterboxed to
    `image_size` as the evaluation pipeline does (RGB in [0, 1])."""
    import numpy as np

    from vidlab.data.detection.datamodule import DetectionDataset

    records = hydra.utils.instantiate(data_cfg).records(split)
    dataset = DetectionDataset(records, (int(image_size[0]), int(image_size[1])))
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round())
    return torch.stack([dataset[int(i)]["image"] for i in picks])


def pathways(
    clips: torch.Tensor | tuple[torch.Tensor, ...] | None, specs: list[InputSpec]
) -> torch.Tensor | tuple[torch.Tensor, ...] | None:
    """Clips as the model's inputs: a multi-input model's (SlowFast's pathways, a two-stream
    network's RGB and flow channels) are built from whole clips when the data config did not pack
    them (``data.slowfast_alpha`` unset).

    Raises:
        UserError: the data gives clips without the channels the model takes (RGB-only data for a
            model of RGB + flow).
    """
    if clips is None or isinstance(clips, tuple) or len(specs) == 1:
        return clips
    try:
        return split_clip(clips, specs)
    except ValueError as err:
        raise UserError(
            f"export data: {err}; the checkpoint's model takes "
            f"{[(s.name, s.source) for s in specs]}: pass the data config it was trained with "
            "(data=synthetic_actions_flow for RGB + flow)"
        ) from err


def make_inputs_fn(cfg: DictConfig, options: dict[str, Any]):
    """The stage's `InputsFn` for this config."""

    def inputs(family: Family, meta: dict[str, Any], calibration: bool) -> ExportInputs:
        if family.name == CLASSIFIER:
            clips, labels = datamodule_clips(cfg.data, "val", int(options["num_parity_clips"]))
            calib = None
            if calibration and int(options["num_calibration_clips"]) > 0:
                calib = datamodule_clips(cfg.data, "train", int(options["num_calibration_clips"]))[
                    0
                ]
            specs = classifier_inputs(meta)
            return ExportInputs(pathways(clips, specs), labels.numpy(), pathways(calib, specs))
        if family.name == EMBEDDING:
            images = validation_crops(reid_data_config(cfg, meta), int(options["num_parity_crops"]))
            real = real_crops(meta["input"])
            if real is not None:
                images = torch.cat([real, images])
            return ExportInputs(
                images, None, None, {"real_crops": 0 if real is None else len(real)}
            )
        if family.name == DETECTOR:
            data_cfg, size = detection_data_config(cfg, meta), meta["input"]["image_size"]
            images = detection_frames(data_cfg, "val", int(options["num_parity_images"]), size)
            calib = None
            if calibration and int(options["num_calibration_images"]) > 0:
                calib = detection_frames(
                    data_cfg, "train", int(options["num_calibration_images"]), size
                )
            return ExportInputs(images, None, calib, {"parity_frames": len(images)})
        raise ValueError(f"export.py has no parity data for a {family.name} model")

    return inputs


def make_gates(options: dict[str, Any]) -> list[Gate]:
    """The extra verification steps the options ask for."""
    gates: list[Gate] = []
    if options.get("tracking_parity"):
        from vidlab.tracking.parity import TrackingParityGate

        gates.append(
            TrackingParityGate(
                num_frames=int(options["tracking_frames"]),
                num_people=int(options["tracking_people"]),
                seed=int(options["tracking_seed"]),
            )
        )
    return gates


def run(cfg: DictConfig) -> dict[str, Any]:
    if not cfg.get("ckpt_path"):
        raise ValueError("export needs a checkpoint: python export.py ckpt_path=<file.ckpt>")
    options = OmegaConf.to_container(cfg.export, resolve=True)
    return export_checkpoint(
        Path(cfg.ckpt_path),
        Path(cfg.paths.output_dir),
        options,
        make_inputs_fn(cfg, options),
        make_gates(options),
    )
