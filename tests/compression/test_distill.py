"""Distillation: the KD loss by hand, and a short run proving the teacher stays frozen in eval
mode, the feature projection learns, and the teacher is not saved with the student."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vidlab.checkpoint import load_checkpoint
from vidlab.compression.distill import Distillation, distillation_loss, kd_loss
from vidlab.tasks import train


def test_kd_loss_matches_hand_computed_value():
    student = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    teacher = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    temperature = 2.0
    expected = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist(), strict=True):
        zs = sum(math.exp(v / temperature) for v in s_row)
        zt = sum(math.exp(v / temperature) for v in t_row)
        ps = [math.exp(v / temperature) / zs for v in s_row]
        pt = [math.exp(v / temperature) / zt for v in t_row]
        expected += sum(p * math.log(p / q) for p, q in zip(pt, ps, strict=True))
    expected = expected / 2 * temperature**2
    assert kd_loss(student, teacher, temperature).item() == pytest.approx(expected, rel=1e-5)
    hard = torch.tensor(0.7)
    mixed = distillation_loss(hard, student, teacher, alpha=0.25, temperature=temperature)
    assert mixed.item() == pytest.approx(0.25 * expected + 0.75 * 0.7, rel=1e-5)
    assert kd_loss(teacher, teacher, temperature).item() == pytest.approx(0.0, abs=1e-7)


def test_kd_loss_rejects_bad_inputs():
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(torch.zeros(1, 3), torch.zeros(1, 3), 0.0)
    with pytest.raises(ValueError, match="same classes"):
        kd_loss(torch.zeros(1, 3), torch.zeros(1, 4), 1.0)
    with pytest.raises(ValueError, match="cache_logits"):
        Distillation(teacher_ckpt="x", feature_weight=1.0, cache_logits=True)


@pytest.fixture
def captured(monkeypatch) -> list[Distillation]:
    """Distillation callbacks set up during the test, each with a record of its teacher's mode
    (training flag, grad enabled) at every forward and its projection's initial weights."""
    created: list[Distillation] = []
    original_setup = Distillation.setup

    def spy_setup(self, trainer, pl_module, stage):
        original_setup(self, trainer, pl_module, stage)
        if self.teacher is None or self in created:
            return
        created.append(self)
        self.projection_init = (
            {k: v.clone() for k, v in self.projection.state_dict().items()}
            if self.projection is not None
            else {}
        )
        self.teacher_modes = []
        first_block = self.teacher.blocks[0]  # runs in forward and in forward_features
        first_block.register_forward_pre_hook(
            lambda m, args: self.teacher_modes.append((m.training, torch.is_grad_enabled()))
        )

    monkeypatch.setattr(Distillation, "setup", spy_setup)
    return created


def test_distill_run_freezes_teacher_and_trains_projection(
    make_cfg, short_run, make_teacher, captured
):
    teacher_path = make_teacher()
    teacher_state = torch.load(teacher_path, weights_only=True)["state_dict"]
    cfg = make_cfg(
        "train",
        [
            *short_run,
            "callbacks=distill",
            f"callbacks.distill.teacher_ckpt={teacher_path}",
            "callbacks.distill.feature_weight=1.0",
            "callbacks.distill.alpha=0.7",
            "validate=false",
            "test=false",
        ],
    )
    train.run(cfg)
    (callback,) = captured
    # The teacher ran in every training step (2 epochs x 4 batches), in eval mode, no autograd.
    assert len(callback.teacher_modes) == 8
    assert all(mode == (False, False) for mode in callback.teacher_modes)
    assert all(not p.requires_grad and p.grad is None for p in callback.teacher.parameters())
    teacher_now = {f"net.{k}": v for k, v in callback.teacher.state_dict().items()}
    for key, value in teacher_state.items():
        assert torch.equal(teacher_now[key], value), key  # weights and BN running stats
    # The feature projection was optimised.
    for key, value in callback.projection.state_dict().items():
        assert not torch.equal(value, callback.projection_init[key]), key
    # The student's checkpoint holds the student only, loadable into the student's config.
    ckpt = load_checkpoint(Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt")
    assert all(k.startswith("net.") for k in ckpt["state_dict"])
    assert ckpt["state_dict"]["net.blocks.5.proj.weight"].shape[1] == cfg.model.net.head_dim_out
    assert cfg.model.net.head_dim_out != 48  # the teacher's head width


def test_logit_cache_reuses_teacher_outputs(make_cfg, short_run, make_teacher, captured):
    teacher_path = make_teacher()
    cfg = make_cfg(
        "train",
        [
            *short_run,
            "callbacks=distill",
            "data.train_size=32",
            f"callbacks.distill.teacher_ckpt={teacher_path}",
            "callbacks.distill.cache_logits=true",
            "validate=false",
            "test=false",
        ],
    )
    train.run(cfg)
    (callback,) = captured
    # 32 training clips in 4 batches for 2 epochs: the teacher runs on the first epoch only.
    assert len(callback._cache) == 32
    assert callback.cache_hits == 4
    assert len(callback.teacher_modes) == 4
