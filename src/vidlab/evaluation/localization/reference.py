"""The official ActivityNet detection evaluation, as the reference of the parity tests and benchmark.

ActivityNet's ``Evaluation/eval_detection.py`` is not on PyPI. ActionFormer (``actionformer`` on
PyPI, version 1.5.0) ships a copy of its ``compute_average_precision_detection``,
``segment_iou`` and ``interpolated_prec_rec`` in ``actionformer/utils/metrics.py`` that differs
from the official text only in ``.astype(float)`` for the removed ``np.float`` (pandas
DataFrames, ``argsort()[::-1]`` ranking, the per-prediction ``iterrows`` loop: all as there).
mmaction2's port is *not* used: it computes tIoU in float32 and ranks tied scores with a stable
sort, so it disagrees with the official code at thresholds and ties.

The package itself is not installed (its build compiles a C++ extension against torch, and it
pins nothing vidlab needs): only that one pure numpy/pandas file is taken from the sdist, by

    python -m vidlab.evaluation.localization.reference --fetch

which runs ``pip download --no-deps --no-binary :all: actionformer==1.5.0`` and extracts the file
to `default_path()` (``~/.cache/vidlab/references/``, or ``$VIDLAB_ANET_REFERENCE``). The parity
tests skip when the file is absent. Nothing of it is vendored in this repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from vidlab.evaluation.localization.metrics import SegmentTable

PACKAGE, VERSION = "actionformer", "1.5.0"
MEMBER = f"{PACKAGE}-{VERSION}/actionformer/utils/metrics.py"
ENV_VAR = "VIDLAB_ANET_REFERENCE"


def default_path() -> Path:
    """Where the reference file is looked for: ``$VIDLAB_ANET_REFERENCE`` or the user cache."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "vidlab" / "references" / f"{PACKAGE}-{VERSION}" / "metrics.py"


def load_reference(path: str | Path | None = None) -> ModuleType | None:
    """The reference module (None when the file is absent or its imports are missing)."""
    path = Path(path) if path else default_path()
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("anet_reference_eval_detection", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError:
        return None
    return module


def fetch(path: str | Path | None = None) -> Path:
    """Download the sdist with pip (no install) and extract the reference file to `path`."""
    path = Path(path) if path else default_path()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
            + ["--no-build-isolation", "-q", "-d", tmp, f"{PACKAGE}=={VERSION}"],
            check=True,
        )
        (archive,) = Path(tmp).glob(f"{PACKAGE}-{VERSION}.tar.gz")
        with tarfile.open(archive) as tar:
            source = tar.extractfile(MEMBER)
            if source is None:
                raise FileNotFoundError(f"{archive} has no {MEMBER}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read())
    return path


def reference_ap(
    module: ModuleType, gt: SegmentTable, pred: SegmentTable, thresholds: Sequence[float]
) -> tuple[list[str], np.ndarray]:
    """(classes, AP (T, C)) computed by the official code, with its data frames built as the
    official ``ANETdetection`` builds them (classes in first-appearance order of the ground
    truth, predictions in file order, grouped by label; unknown labels dropped)."""
    import pandas as pd

    classes = gt.classes()
    index = {name: i for i, name in enumerate(classes)}
    gt_frame = pd.DataFrame(
        {
            "video-id": gt.videos.tolist(),
            "t-start": gt.segments[:, 0],
            "t-end": gt.segments[:, 1],
            "label": [index[x] for x in gt.labels],
        }
    )
    known = np.array([x in index for x in pred.labels], dtype=bool)
    pred_frame = pd.DataFrame(
        {
            "video-id": pred.videos[known].tolist(),
            "t-start": pred.segments[known, 0],
            "t-end": pred.segments[known, 1],
            "label": [index[x] for x in pred.labels[known]],
            "score": pred.scores[known],
        }
    )
    thresholds = np.asarray(thresholds, dtype=np.float64)
    ap = np.zeros((len(thresholds), len(classes)))
    gt_by_label = gt_frame.groupby("label")
    pred_by_label = pred_frame.groupby("label")
    for c in range(len(classes)):
        try:
            preds = pred_by_label.get_group(c).reset_index(drop=True)
        except KeyError:
            preds = pd.DataFrame()
        ap[:, c] = module.compute_average_precision_detection(
            gt_by_label.get_group(c).reset_index(drop=True), preds, thresholds
        )
    return classes, ap


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fetch", action="store_true", help="download and extract the file")
    parser.add_argument("--path", default=None, help=f"where it goes (default {default_path()})")
    args = parser.parse_args(argv)
    path = fetch(args.path) if args.fetch else Path(args.path or default_path())
    status = "present" if load_reference(path) is not None else "missing"
    sys.stdout.write(f"{path}: {status}\n")


if __name__ == "__main__":
    main()
