"""Quantization-aware training with PyTorch 2 export quantization (`callbacks=qat`).

The flow of torchao's PT2E quantization (https://docs.pytorch.org/ao/stable/tutorials_source/pt2e_quant_qat.html):

1. ``torch.export`` the float network (dynamic batch) and ``prepare_qat_pt2e`` it with the x86
   Inductor quantizer (int8 activations per tensor, int8 weights per channel, conv + BN folded):
   the graph now simulates int8 rounding with fake-quantize modules and is fine-tuned as usual.
2. At the end of fitting, ``convert_pt2e`` turns it into a graph of real quantize / dequantize
   operations around the float ops (the pattern that Inductor, ONNX export and other backends
   lower to int8 kernels), saved as a ``torch.export`` program:
   ``<output_dir>/qat_int8.pt2`` (``torch.export.load(path).module()(video)`` gives logits).
3. The callback scores the fake-quant and the converted model on the validation set and writes
   ``<output_dir>/qat_report.json`` (top-1 of each, top-1 agreement, max abs logit difference).

Checkpoints written during QAT hold the float weights only (the fake-quant observers' buffers are
dropped), so they load into the plain network of the model config; after fitting, the module's
network is the plain float network again with the QAT-trained weights, so the run's validate and
test steps score the float model. Resuming a QAT run restarts the observers (their ranges are
not checkpointed).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn

from vidlab.export.program import export_dynamic_batch
from vidlab.utils.runinfo import write_json

log = logging.getLogger(__name__)

ARTIFACT_FILE = "qat_int8.pt2"
REPORT_FILE = "qat_report.json"
EXAMPLE_BATCH = 2  # export traces with batch 2 so the batch dimension stays symbolic
MAX_BATCH = 4096


def _export(net: nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    return torch.export.export(net, (example,), dynamic_shapes=({0: batch},))


def prepare_qat(net: nn.Module, example: torch.Tensor) -> nn.Module:
    """Export `net` and insert fake quantization for QAT (x86 int8 scheme).

    Args:
        net: float network taking (B, 3, T, H, W).
        example: an input batch of that shape (its batch size is made dynamic).

    Returns:
        The prepared graph module, in train mode; ``.train()`` / ``.eval()`` work on it.
    """
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config(is_qat=True))
    graph = _export(net.train(), example).module()
    prepared = prepare_qat_pt2e(graph, quantizer)
    allow_exported_model_train_eval(prepared)
    prepared.train()  # the patched train() returns None
    return prepared


def convert_qat(prepared: nn.Module) -> nn.Module:
    """The int8 (quantize / dequantize) graph of a prepared QAT model, in eval mode."""
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    converted = convert_pt2e(prepared)
    move_exported_model_to_eval(converted)
    return converted


def float_state_dict(
    prepared_state: dict[str, torch.Tensor], float_keys: set[str]
) -> dict[str, torch.Tensor]:
    """The entries of a prepared model's state dict that belong to the float network (the
    parameter names survive export; observer and fake-quant buffers are dropped)."""
    missing = float_keys - set(prepared_state)
    if missing:
        raise KeyError(f"QAT state dict lacks float weights {sorted(missing)[:5]}...")
    return {k: v for k, v in prepared_state.items() if k in float_keys}


@dataclass(frozen=True)
class QATReport:
    """Validation scores of the fake-quant and converted int8 models.

    Attributes:
        clips: validation clips scored.
        top1_fake_quant / top1_int8: top-1 accuracy of each.
        top1_agreement: fraction of clips where both predict the same class.
        max_abs_logit_diff: largest |fake-quant - int8| logit difference.
        artifact: path of the saved int8 program.
    """

    clips: int
    top1_fake_quant: float
    top1_int8: float
    top1_agreement: float
    max_abs_logit_diff: float
    artifact: str


@torch.no_grad()
def compare_models(
    fake_quant: nn.Module, int8: nn.Module, loader: Any, max_batches: int | None = None
) -> dict[str, float]:
    """Top-1 of both models, their agreement and max logit difference over `loader` batches."""
    correct_fq = correct_q = agree = clips = 0
    max_diff = 0.0
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        a, b = fake_quant(batch["video"]), int8(batch["video"])
        label = batch["label"]
        correct_fq += int((a.argmax(1) == label).sum())
        correct_q += int((b.argmax(1) == label).sum())
        agree += int((a.argmax(1) == b.argmax(1)).sum())
        clips += len(label)
        max_diff = max(max_diff, float((a - b).abs().max()))
    if clips == 0:
        raise ValueError("compare_models got no clips")
    return {
        "clips": clips,
        "top1_fake_quant": correct_fq / clips,
        "top1_int8": correct_q / clips,
        "top1_agreement": agree / clips,
        "max_abs_logit_diff": max_diff,
    }


class QuantizationAwareTraining(pl.Callback):
    """Fine-tune with fake quantization, convert to int8 at the end (see the module docstring).

    Args:
        output_dir: folder of ``qat_int8.pt2`` and ``qat_report.json`` (the run directory).
        init_ckpt: float weights to start from (a vidlab checkpoint of the same model config,
            possibly structurally pruned); None starts from the module's current weights.
        eval_batches: validation batches scored for the report (None: all).
    """

    def __init__(
        self, *, output_dir: str, init_ckpt: str | None = None, eval_batches: int | None = None
    ) -> None:
        super().__init__()
        self.output_dir = Path(output_dir)
        self.init_ckpt = init_ckpt
        self.eval_batches = eval_batches
        self.float_net: nn.Module | None = None
        self.converted: nn.Module | None = None
        self.report: QATReport | None = None
        self._float_keys: set[str] = set()

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.float_net is not None:
            return
        if self.init_ckpt:
            from vidlab.checkpoint import load_checkpoint
            from vidlab.models.structure import restore_structure

            ckpt = load_checkpoint(self.init_ckpt)
            restore_structure(pl_module.net, ckpt["vidlab"])
            pl_module.load_state_dict(ckpt["state_dict"])
        spec = pl_module.checkpoint_meta.get("input", {})
        if "num_frames" not in spec or "crop_size" not in spec:
            raise ValueError(
                "QAT needs the run's input spec (num_frames, crop_size) in "
                f"checkpoint_meta['input'], got {spec!r}"
            )
        size = int(spec["crop_size"])
        example = torch.randn(EXAMPLE_BATCH, 3, int(spec["num_frames"]), size, size)
        self.float_net = pl_module.net
        self._float_keys = {"net." + k for k in self.float_net.state_dict()}
        pl_module.net = prepare_qat(self.float_net, example)
        log.info("QAT: network exported and prepared with fake quantization")

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        state = checkpoint["state_dict"]
        extra = {k: v for k, v in state.items() if not k.startswith("net.")}
        checkpoint["state_dict"] = {**float_state_dict(state, self._float_keys), **extra}

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        prepared = pl_module.net
        prepared.eval()
        float_state = float_state_dict(pl_module.state_dict(), self._float_keys)
        self.float_net.load_state_dict({k[len("net.") :]: v for k, v in float_state.items()})
        fake_quant = _copy_graph(prepared)
        self.converted = convert_qat(prepared)
        pl_module.net = self.float_net.eval()
        if not trainer.is_global_zero:
            return
        artifact = self.output_dir / ARTIFACT_FILE
        self.output_dir.mkdir(parents=True, exist_ok=True)
        example = next(iter(trainer.datamodule.val_dataloader()))["video"]
        # The export stage's own tracing: dynamic batch, a copied example (a slice would store the
        # whole validation batch in the program), batch 1 handled.
        torch.export.save(export_dynamic_batch(self.converted, example[:EXAMPLE_BATCH]), artifact)
        scores = compare_models(
            fake_quant, self.converted, trainer.datamodule.val_dataloader(), self.eval_batches
        )
        self.report = QATReport(**scores, artifact=str(artifact))
        write_json(self.output_dir / REPORT_FILE, asdict(self.report))
        log.info(
            "QAT: int8 top-1 %.4f (fake-quant %.4f, agreement %.4f) -> %s",
            self.report.top1_int8,
            self.report.top1_fake_quant,
            self.report.top1_agreement,
            artifact,
        )


def _copy_graph(prepared: nn.Module) -> nn.Module:
    """A deep copy of a prepared graph module (convert_pt2e rewrites its input in place)."""
    import copy

    return copy.deepcopy(prepared)
