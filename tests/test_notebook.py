"""The results notebook executes end to end on a real (tiny) training run."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from vidlab.tasks import train

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "training_report.ipynb"


@pytest.mark.integration
def test_training_report_notebook_runs(make_cfg, monkeypatch):
    overrides = ["data.factors=[horizontal]", "data.num_classes=2", "data.num_frames=4",
                 "data.crop_size=32", "data.train_size=32", "data.val_size=16", "data.test_size=16",
                 "data.batch_size=8", "model.net.depth_factor=0.5", "model.net.width_factor=0.5",
                 "model.net.head_dim_out=32", "trainer.max_epochs=2", "trainer.accelerator=cpu"]
    cfg = make_cfg("train", overrides)
    train.run(cfg)
    monkeypatch.setenv("VIDLAB_RUN_DIR", str(cfg.paths.output_dir))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend shows figures
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2, "expected the learning-curve and confusion figures"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "hardest class" in text
