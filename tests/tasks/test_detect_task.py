"""`evaluate.py task=detect detector=<bundle>` writes det.txt files for every sequence, and
`task=track detector=<bundle>` detects on the rendered frames, tracks and scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidlab.evaluation.mot.io import read_mot_txt, read_seqinfo
from vidlab.tasks import export
from vidlab.tasks.detect import run as detect_run
from vidlab.tasks.track import run as track_run

# Two short rendered synthetic sequences at a small size.
SEQUENCES = [
    "data.synthetic.n_sequences=2",
    "data.synthetic.seed=3",
    "data.synthetic.num_frames=12",
    "data.synthetic.width=320",
    "data.synthetic.height=180",
    "data.synthetic.initial_people=3",
]


@pytest.fixture
def tiny_bundle(make_cfg, tiny_detector_checkpoint) -> Path:
    ckpt = tiny_detector_checkpoint()
    cfg = make_cfg(
        "export",
        [
            f"ckpt_path={ckpt}",
            "export.formats=[torchscript]",
            "export.num_parity_images=4",
            "export.warmup_runs=1",
            "export.timed_runs=1",
        ],
        name="export",
    )
    export.run(cfg)
    return Path(cfg.paths.output_dir) / "bundles" / "torchscript"


@pytest.mark.slow
def test_detect_writes_det_txt_for_every_sequence(make_cfg, tiny_bundle):
    cfg = make_cfg(
        "evaluate",
        ["task=detect", f"detector={tiny_bundle}", *SEQUENCES, "detect.batch_size=5"],
        name="detect",
    )
    metrics = detect_run(cfg)
    out = Path(cfg.paths.output_dir)
    root = Path(json.loads((out / "metrics.json").read_text())["provenance"]["data"]["root"])
    files = sorted((out / "detections").glob("*.txt"))
    assert [f.stem for f in files] == sorted(p.name for p in root.iterdir() if p.is_dir())
    total = 0
    for path in files:
        info = read_seqinfo(root / path.stem)
        table = read_mot_txt(path, kind="det", num_frames=info.seq_length)
        total += len(table)
        assert np.all(table.track_id == -1) and np.all(table.score >= 0.05)
        assert np.all(table.tlwh[:, 2:] >= 1.0)  # boxes clipped away at the border dropped
        assert np.all(table.tlwh[:, 0] + table.tlwh[:, 2] <= info.im_width + 1e-3)
        assert np.all(table.tlwh[:, 1] + table.tlwh[:, 3] <= info.im_height + 1e-3)
    assert total > 0 and metrics["test/detect_fps"] > 0


@pytest.mark.slow
def test_track_on_our_detections_is_scored(make_cfg, tiny_bundle):
    cfg = make_cfg(
        "evaluate",
        ["task=track", "tracker=bytetrack", f"detector={tiny_bundle}", *SEQUENCES],
        name="track",
    )
    metrics = track_run(cfg)
    out = Path(cfg.paths.output_dir)
    payload = json.loads((out / "metrics.json").read_text())
    for key in ("HOTA", "MOTA", "IDF1"):
        assert key in payload["COMBINED"] and f"test/{key}" in metrics
    assert payload["provenance"]["detector"] == str(tiny_bundle)
    detections = sorted(p.stem for p in (out / "detections").glob("*.txt"))
    assert detections == sorted(p.stem for p in (out / "tracks").glob("*.txt"))
    assert metrics["test/detect_fps"] > 0
