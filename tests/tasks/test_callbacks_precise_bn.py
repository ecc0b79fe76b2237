"""Precise BatchNorm: population statistics recomputed exactly from training batches."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from vidlab.models.layers.finetune import freeze_batchnorm_stats
from vidlab.tasks.callbacks import PreciseBN, update_bn_stats

NUM_BATCHES = 5
BATCH = 4


def _clips(seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    # (B, C, T, H, W) clips with a per-channel offset and scale, far from BN's initial 0 / 1.
    offset = torch.tensor([3.0, -2.0]).view(1, 2, 1, 1, 1)
    return [
        offset + 2.5 * torch.randn(BATCH, 2, 2, 3, 3, generator=gen) for _ in range(NUM_BATCHES)
    ]


def _net() -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm3d(2), nn.Conv3d(2, 4, 1), nn.BatchNorm3d(4))


def test_first_bn_gets_population_mean_and_unbiased_variance():
    torch.manual_seed(0)
    net, clips = _net(), _clips()
    updated = update_bn_stats(net, iter(clips), num_batches=NUM_BATCHES)
    assert updated == 2
    data = torch.cat(clips).transpose(0, 1).reshape(2, -1)  # (C, all samples)
    torch.testing.assert_close(net[0].running_mean, data.mean(dim=1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        net[0].running_var, data.var(dim=1, unbiased=True), rtol=1e-5, atol=1e-5
    )
    # The momentum and the module mode are restored.
    assert net[0].momentum == 0.1 and net.training


def test_second_bn_sees_train_mode_normalised_inputs():
    torch.manual_seed(0)
    net, clips = _net(), _clips()
    update_bn_stats(net, iter(clips), num_batches=NUM_BATCHES)
    with torch.no_grad():  # what the second BN received: conv of batch-normalised batches
        bn0 = nn.functional.batch_norm
        feats = [
            net[1](bn0(c, None, None, net[0].weight, net[0].bias, training=True)) for c in clips
        ]
    data = torch.cat(feats).transpose(0, 1).reshape(4, -1)
    torch.testing.assert_close(net[2].running_mean, data.mean(dim=1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(net[2].running_var, data.var(dim=1), rtol=1e-4, atol=1e-5)


def test_only_num_batches_are_used_and_frozen_bn_is_left_alone():
    net, clips = _net(), _clips()
    freeze_batchnorm_stats(net[2:])
    before = net[2].running_mean.clone()
    assert update_bn_stats(net, iter(clips), num_batches=2) == 1
    data = torch.cat(clips[:2]).transpose(0, 1).reshape(2, -1)
    torch.testing.assert_close(net[0].running_mean, data.mean(dim=1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(net[2].running_mean, before)


class _Module(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = _net()
        self.seen_val_means: list[torch.Tensor] = []

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        return self(batch["video"]).square().mean()

    def validation_step(self, batch, batch_idx):
        self.seen_val_means.append(self.net[0].running_mean.clone())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)  # weights fixed: stats are the test


def test_callback_runs_before_validation(tmp_path):
    clips = _clips()
    loader = DataLoader([{"video": c} for c in clips], batch_size=None)
    module = _Module()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        callbacks=[PreciseBN(num_batches=NUM_BATCHES)],
        default_root_dir=tmp_path,
    )
    trainer.fit(module, loader, val_dataloaders=DataLoader([{"video": clips[0]}], batch_size=None))
    data = torch.cat(clips).transpose(0, 1).reshape(2, -1)
    torch.testing.assert_close(module.seen_val_means[0], data.mean(dim=1), rtol=1e-5, atol=1e-5)
