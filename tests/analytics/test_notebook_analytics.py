"""The scene analytics notebook runs end to end: store -> scores and four figures."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "scene_analytics.ipynb"


@pytest.mark.integration
def test_scene_analytics_notebook_runs(monkeypatch):
    monkeypatch.delenv("VIDLAB_STORE", raising=False)
    monkeypatch.delenv("VIDLAB_SCENE", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    src = str(Path(__file__).resolve().parents[2] / "src")  # this checkout's vidlab in the kernel
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    )
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert len([o for o in outputs if "image/png" in o.get("data", {})]) == 4
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "line_crossing  TP" in text and "line count error 0.000" in text
