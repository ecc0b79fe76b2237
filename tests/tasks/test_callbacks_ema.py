"""EMA of weights: the average itself, evaluation with EMA weights, checkpoints and resuming."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vidlab.tasks.callbacks import EMA

STEPS_PER_EPOCH = 4


class TinyRegressor(pl.LightningModule):
    """A linear layer plus a BatchNorm (a float buffer the EMA must also average)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
        self.val_weight_sums: list[float] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def validation_step(self, batch, batch_idx):
        self.val_weight_sums.append(float(self.net[0].weight.sum()))

    def test_step(self, batch, batch_idx):
        self.log("test/weight_sum", self.net[0].weight.sum())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


class Recorder(pl.Callback):
    """Snapshots of the live state dict after every optimizer step."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.states.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})


def _loader() -> DataLoader:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(STEPS_PER_EPOCH * 8, 3, generator=gen)
    y = torch.randn(STEPS_PER_EPOCH * 8, 2, generator=gen)
    return DataLoader(TensorDataset(x, y), batch_size=8)


def _trainer(tmp_path, callbacks, max_epochs=1) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        max_epochs=max_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        callbacks=callbacks,
        default_root_dir=tmp_path,
    )


def _expected_ema(initial, states, decay, warmup=True):
    ema = {k: v.clone().float() if v.is_floating_point() else v.clone() for k, v in initial.items()}
    for n, state in enumerate(states):
        d = min(decay, (1 + n) / (10 + n)) if warmup else decay
        for k, v in state.items():
            ema[k] = d * ema[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    return ema


def test_ema_matches_formula(tmp_path):
    torch.manual_seed(0)
    module = TinyRegressor()
    initial = {k: v.clone() for k, v in module.state_dict().items()}
    recorder, ema = Recorder(), EMA(decay=0.9, eval_with_ema=False)
    _trainer(tmp_path, [recorder, ema], max_epochs=2).fit(module, _loader())
    assert ema.num_updates == 2 * STEPS_PER_EPOCH
    expected = _expected_ema(initial, recorder.states, 0.9)
    for name, value in expected.items():
        torch.testing.assert_close(ema.ema_state[name], value, rtol=1e-5, atol=1e-6)
    # The average differs from the live weights (it lags behind).
    assert not torch.allclose(ema.ema_state["net.0.weight"], module.net[0].weight)


def test_gradient_accumulation_updates_once_per_optimizer_step(tmp_path):
    module, ema = TinyRegressor(), EMA(decay=0.9, eval_with_ema=False)
    trainer = _trainer(tmp_path, [ema])
    trainer.accumulate_grad_batches = 2
    trainer.fit(module, _loader())
    assert ema.num_updates == STEPS_PER_EPOCH // 2


def test_validation_and_test_use_ema_then_restore_live_weights(tmp_path):
    torch.manual_seed(1)
    module, ema = TinyRegressor(), EMA(decay=0.9, eval_with_ema=True)
    trainer = _trainer(tmp_path, [ema])
    trainer.num_sanity_val_steps = 0
    trainer.fit(module, _loader(), val_dataloaders=_loader())
    ema_sum = float(ema.ema_state["net.0.weight"].sum())
    live_sum = float(module.net[0].weight.detach().sum())
    assert module.val_weight_sums[-1] == pytest.approx(ema_sum, abs=1e-6)
    assert abs(ema_sum - live_sum) > 1e-4
    result = trainer.test(module, _loader(), verbose=False)[0]
    assert result["test/weight_sum"] == pytest.approx(ema_sum, abs=1e-6)
    assert float(module.net[0].weight.detach().sum()) == pytest.approx(live_sum, abs=1e-6)


def test_checkpoint_holds_ema_weights_and_resumes_from_live(tmp_path):
    torch.manual_seed(2)
    module, ema = TinyRegressor(), EMA(decay=0.9)
    trainer = _trainer(tmp_path, [ema])
    trainer.fit(module, _loader())
    path = tmp_path / "ema.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    live = {k: v.clone() for k, v in module.state_dict().items()}
    for name, value in ema.ema_state.items():
        torch.testing.assert_close(ckpt["state_dict"][name], value)
    own = ckpt["callbacks"][ema.state_key]
    for name, value in live.items():
        torch.testing.assert_close(own["live_state_dict"][name], value)

    resumed_module, resumed_ema = TinyRegressor(), EMA(decay=0.9)
    _trainer(tmp_path, [resumed_ema]).fit(resumed_module, _loader(), ckpt_path=path)
    for name, value in live.items():  # nothing left to train: weights are the restored live ones
        torch.testing.assert_close(resumed_module.state_dict()[name], value)
    for name, value in ema.ema_state.items():
        torch.testing.assert_close(resumed_ema.ema_state[name], value)
    assert resumed_ema.num_updates == ema.num_updates


def test_bad_decay_is_rejected():
    with pytest.raises(ValueError, match="decay"):
        EMA(decay=1.0)
