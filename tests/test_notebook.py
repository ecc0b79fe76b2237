"""The results notebook executes end to end on a real (tiny) training run."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from vidlab.tasks import train

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "training_report.ipynb"


@pytest.mark.integration
def test_training_report_notebook_runs(make_cfg, tiny_run, monkeypatch):
    cfg = make_cfg("train", tiny_run)
    train.run(cfg)
    monkeypatch.setenv("VIDLAB_RUN_DIR", str(cfg.paths.output_dir))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend shows figures
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2, "expected the learning-curve and confusion figures"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "hardest class" in text
