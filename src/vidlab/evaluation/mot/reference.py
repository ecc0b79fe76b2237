"""Run TrackEval 1.3.0 in process on a MOTChallenge folder, for parity tests and benchmarks.

This is the one place where vidlab imports TrackEval (a test dependency, not a runtime one:
`pip install trackeval==1.3.0`). Tests and `benchmarks/mot_metrics_speed.py` call
`trackeval_evaluate_folder` and compare its output with `vidlab.evaluation.mot.evaluate_folder`.

numpy 2 note: TrackEval's repository code used the `np.float` / `np.int` / `np.bool` aliases that
numpy removed (TrackEval issue #114). The 1.3.0 wheel from PyPI does not: a grep of the installed
package finds none, and it runs under numpy 2.4 (the parity tests). So no alias shim is installed;
if another TrackEval build is ever pinned, `_import_trackeval` is the one place for such a shim.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from vidlab.evaluation.mot.io import find_sequences, read_seqinfo

TRACKEVAL_VERSION = "1.3.0"
_CLASS = "pedestrian"
_METRICS = ("HOTA", "CLEAR", "Identity", "Count")
# Count's per-sequence "Frames" is not a summed field in TrackEval and has no combined value.
_SKIPPED_FIELDS = {"Frames"}
# TrackEval's name for the combination over sequences, and ours.
TRACKEVAL_COMBINED, COMBINED = "COMBINED_SEQ", "COMBINED"


def _import_trackeval() -> Any:
    """Import TrackEval, checking that it is the version the parity claims are made against."""
    import trackeval

    if trackeval.__version__ != TRACKEVAL_VERSION:
        raise ImportError(
            f"trackeval {trackeval.__version__} is installed, expected {TRACKEVAL_VERSION}"
        )
    return trackeval


def trackeval_evaluate_folder(
    gt_root: str | Path,
    results_dir: str | Path,
    *,
    sequences: list[str] | None = None,
    benchmark: str = "MOT17",
    raw: bool = False,
) -> dict[str, Any]:
    """Evaluate `results_dir/<seq>.txt` against `gt_root/<seq>/gt/gt.txt` with TrackEval.

    The folders are used in place: TrackEval is pointed at them with `SKIP_SPLIT_FOL`, an explicit
    `SEQ_INFO` (lengths from each `seqinfo.ini`) and an empty tracker sub-folder. Its console output
    is swallowed and it writes nothing but into a temporary output folder.

    Args:
        gt_root: Folder of sequence folders.
        results_dir: Folder of `<seq>.txt` result files.
        sequences: Sequence names to evaluate; all of `gt_root` when None.
        benchmark: TrackEval's BENCHMARK ("MOT15", "MOT16", "MOT17", "MOT20").
        raw: Return TrackEval's own nested result (`res[seq][cls][metric][field]`) instead of the
            flattened form.

    Returns:
        `{"sequences": {seq: {field: value}}, "COMBINED": {field: value}}` in the layout of
        `vidlab.evaluation.mot.evaluate_folder` (see `flatten_trackeval`), or the raw result.
    """
    trackeval = _import_trackeval()
    gt_root, results_dir = Path(gt_root).resolve(), Path(results_dir).resolve()
    if sequences is None:
        sequences = [p.name for p in find_sequences(gt_root)]
    seq_info = {seq: read_seqinfo(gt_root / seq).seq_length for seq in sequences}
    with tempfile.TemporaryDirectory(prefix="trackeval_out_") as out_dir:
        dataset_config = {
            "GT_FOLDER": str(gt_root),
            "TRACKERS_FOLDER": str(results_dir.parent),
            "TRACKERS_TO_EVAL": [results_dir.name],
            "TRACKER_SUB_FOLDER": "",
            "OUTPUT_FOLDER": out_dir,
            "BENCHMARK": benchmark,
            "SKIP_SPLIT_FOL": True,
            "SEQ_INFO": seq_info,
            "PRINT_CONFIG": False,
        }
        eval_config = {
            "USE_PARALLEL": False,
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "TIME_PROGRESS": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "LOG_ON_ERROR": None,
        }
        metric_config = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
        metrics = [
            trackeval.metrics.HOTA(),
            trackeval.metrics.CLEAR(metric_config),
            trackeval.metrics.Identity(metric_config),
        ]
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = trackeval.Evaluator(eval_config)
            dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
            output, messages = evaluator.evaluate([dataset], metrics)
    res = output[dataset.get_name()][results_dir.name]
    if res is None:
        raise RuntimeError(f"TrackEval failed: {messages}")
    return res if raw else flatten_trackeval(res)


def flatten_trackeval(res: dict[str, Any]) -> dict[str, Any]:
    """Flatten TrackEval's `res[seq][cls][metric][field]` into vidlab's result layout.

    Scalars become Python floats/ints; each per-alpha HOTA array `F` becomes `F` (its mean over
    the 19 alphas, as TrackEval's summaries report it) plus `F_per_alpha` (the list).
    """
    flat: dict[str, Any] = {"sequences": {}}
    for seq, by_class in res.items():
        fields: dict[str, Any] = {}
        for metric in _METRICS:
            for field, value in by_class[_CLASS][metric].items():
                if field in _SKIPPED_FIELDS:
                    continue
                arr = np.asarray(value)
                if arr.ndim == 1:
                    fields[field] = float(arr.mean())
                    fields[f"{field}_per_alpha"] = arr.astype(float).tolist()
                else:
                    fields[field] = arr.item()
        if seq == TRACKEVAL_COMBINED:
            flat[COMBINED] = fields
        else:
            flat["sequences"][seq] = fields
    return flat
