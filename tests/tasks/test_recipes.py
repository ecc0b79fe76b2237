"""Every published recipe in configs/experiment/ composes, and one training step runs with it.

The recipes target Kinetics / UCF101 on GPUs; here each is composed with its data root pointing
nowhere, on one CPU process, with the clip shrunk (and TimeSformer cut to one block) so the step is
cheap. What is checked is the wiring: the model builds from the recipe, the optimizer and
scheduler partials accept it, the lr follows the GPU-count scaling rule, the callbacks instantiate,
and the Lightning trainer configured by the recipe (precision, callbacks) runs a step and a
validation.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from vidlab.models.registry import create_model
from vidlab.models.slowfast import pack_pathways
from vidlab.tasks.common import build_classifier, instantiate_group

BATCH = 2
# recipe -> (overrides that shrink it, published lr at the published batch, GPUs of that batch)
RECIPES: dict[str, tuple[list[str], float, int]] = {
    "x3d_xs_k400": (["data.num_frames=4", "data.crop_size=32"], 0.1, 8),
    "x3d_s_k400": (["data.num_frames=4", "data.crop_size=32"], 0.1, 8),
    "x3d_m_k400": (["data.num_frames=4", "data.crop_size=32"], 0.1, 8),
    "slowfast_r50_8x8_k400": (["data.num_frames=8", "data.crop_size=32"], 0.1, 8),
    "timesformer_divst_8x224_k400": (
        ["data.num_frames=2", "data.crop_size=32", "+model.net.depth=1"],
        0.005,
        8,
    ),
    "r2plus1d_18_k400": (["data.num_frames=4", "data.crop_size=32"], 0.01, 2),
    "ucf101_finetune_from_k400": (["data.num_frames=4", "data.crop_size=32"], 1e-3, 8),
    "swin3d_t_k400": (["data.num_frames=4", "data.crop_size=32"], 1e-3, 8),
    "tsm_r50_k400": (["data.num_frames=2", "data.crop_size=32"], 0.1, 8),
    "tsm_r50_ssv2": (["data.num_frames=2", "data.crop_size=32"], 0.1, 8),
}


def test_every_recipe_file_is_covered():
    """Experiment files tagged `recipe` (the published training settings) are all tested here."""
    folder = Path(__file__).resolve().parents[2] / "configs" / "experiment"
    recipes = {
        p.stem
        for p in folder.glob("*.yaml")
        if "recipe" in (yaml.safe_load(p.read_text()) or {}).get("tags", [])
    }
    assert recipes == set(RECIPES)


def _batches(cfg, num_batches: int) -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    frames, size = int(cfg.data.num_frames), int(cfg.data.crop_size)
    alpha = cfg.data.get("slowfast_alpha")
    items = []
    for i in range(num_batches):
        clip = torch.randn(BATCH, 3, frames, size, size, generator=gen)  # (B, C, T, H, W)
        items.append(
            {
                "video": pack_pathways(clip, int(alpha)) if alpha else clip,
                "label": torch.randint(0, int(cfg.data.num_classes), (BATCH,), generator=gen),
                "video_index": torch.arange(BATCH) + i * BATCH,
                "view_index": torch.zeros(BATCH, dtype=torch.int64),
            }
        )
    return DataLoader(items, batch_size=None)


def _k400_checkpoint(tmp_path: Path) -> Path:
    """A Kinetics-400 R(2+1)D-18 state dict (random weights), as a torchvision file would be."""
    path = tmp_path / "r2plus1d_18_k400.pth"
    torch.save(create_model("r2plus1d_18", num_classes=400).state_dict(), path)
    return path


# The ResNet-50-sized recipes write ~0.3 GB of checkpoints per step: slow.
CHEAP = {"x3d_xs_k400"}


@pytest.mark.parametrize(
    "name", [n if n in CHEAP else pytest.param(n, marks=pytest.mark.slow) for n in sorted(RECIPES)]
)
def test_recipe_runs_one_step(name, make_cfg, tmp_path):
    shrink, published_lr, published_gpus = RECIPES[name]
    overrides = [
        f"experiment={name}",
        f"data.root={tmp_path / 'videos'}",
        "trainer=cpu",
        "recipe.num_gpus=1",
        "data.num_workers=0",
        *shrink,
    ]
    if "finetune" in name:
        overrides.append(f"finetune.pretrained={_k400_checkpoint(tmp_path)}")
    cfg = make_cfg("train", overrides)
    datamodule = hydra.utils.instantiate(cfg.data)
    assert datamodule.num_classes == cfg.model.num_classes
    module = build_classifier(cfg)
    # Linear scaling: one GPU instead of the published count divides the lr by that count.
    factory = module.optimizer_factory
    lr = factory.lr if hasattr(factory, "lr") else factory.keywords["lr"]
    assert lr == pytest.approx(published_lr / published_gpus)
    before = [p.detach().clone() for p in module.parameters()]
    callbacks = instantiate_group(cfg.callbacks)
    loggers = instantiate_group(cfg.logger)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers,
        max_epochs=1,
        check_val_every_n_epoch=1,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, train_dataloaders=_batches(cfg, 1), val_dataloaders=_batches(cfg, 1))
    assert trainer.global_step == 1
    changed = sum(
        not torch.equal(a, b.detach()) for a, b in zip(before, module.parameters(), strict=True)
    )
    assert changed > 0, "the optimizer step changed no parameter"
    assert torch.isfinite(trainer.callback_metrics["val/loss"])


def test_finetune_recipe_loads_weights_and_lowers_backbone_lr(make_cfg, tmp_path):
    ckpt = _k400_checkpoint(tmp_path)
    cfg = make_cfg(
        "train",
        [
            "experiment=ucf101_finetune_from_k400",
            "data.root=/nowhere",
            "trainer=cpu",
            "recipe.num_gpus=1",
            f"finetune.pretrained={ckpt}",
        ],
    )
    module = build_classifier(cfg)
    source = torch.load(ckpt, weights_only=True)
    torch.testing.assert_close(module.net.stem[0].weight, source["stem.0.weight"])
    assert module.net.fc.out_features == 101  # the 400-way classifier was dropped
    trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[], max_steps=1)
    module.trainer = trainer
    optimizer = module.configure_optimizers()["optimizer"]
    head = {id(p) for p in module.net.fc.parameters()}
    lrs = {"head": set(), "backbone": set()}
    for group in optimizer.param_groups:
        for param in group["params"]:
            lrs["head" if id(param) in head else "backbone"].add(group["initial_lr"])
    lr = 1e-3 / 8  # published classifier lr at 8 GPUs, run on 1
    assert len(lrs["head"]) == 1 and lrs["head"].pop() == pytest.approx(lr)
    assert len(lrs["backbone"]) == 1 and lrs["backbone"].pop() == pytest.approx(lr * 0.1)
