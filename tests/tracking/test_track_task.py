"""`python evaluate.py task=track ...` through vidlab.tasks.track.run with composed configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidlab.evaluation.mot.io import read_mot_txt
from vidlab.tasks.track import run

SMALL = [
    "task=track",
    "data.synthetic.n_sequences=2",
    "data.synthetic.num_frames=60",
    "data.synthetic.render_frames=false",
    "data.synthetic.initial_people=4",
]


def test_default_synthetic_run_writes_tracks_and_metrics(make_cfg):
    cfg = make_cfg("evaluate", SMALL)
    assert cfg.tracker._target_.endswith("ByteTrack")  # the task's default tracker
    metrics = run(cfg)
    out = cfg.paths.output_dir
    for seq in ("SYN-01", "SYN-02"):
        table = read_mot_txt(f"{out}/tracks/{seq}.txt", kind="results", num_frames=60)
        assert len(table) > 0 and table.track_id.min() >= 1
    written = json.loads(open(f"{out}/metrics.json").read())
    assert written["task"] == "track" and written["metrics"] == pytest.approx(metrics)
    scores = written["details"]
    assert set(scores) >= {"sequences", "COMBINED"}
    assert set(scores["sequences"]) == {"SYN-01", "SYN-02"}
    assert metrics["test/MOTA"] == pytest.approx(scores["COMBINED"]["MOTA"])
    assert 0.3 < metrics["test/HOTA"] <= 1.0 and metrics["test/fps"] > 0
    assert written["provenance"]["tracker"]["_target_"].endswith("ByteTrack")
    assert written["provenance"]["data"]["synthetic"]["n_sequences"] == 2


def test_synthetic_data_is_generated_once(make_cfg, tmp_path):
    cfg = make_cfg("evaluate", SMALL, name="first")
    run(cfg)
    data_dir = tmp_path / "data" / "synthetic_mot"
    (folder,) = list(data_dir.iterdir())
    stamp = (folder / "SYN-01" / "det" / "det.txt").stat().st_mtime_ns
    run(make_cfg("evaluate", [*SMALL, "tracker=sort"], name="second"))
    assert (folder / "SYN-01" / "det" / "det.txt").stat().st_mtime_ns == stamp
    run(make_cfg("evaluate", [*SMALL, "data.synthetic.seed=5"], name="third"))
    assert len(list(data_dir.iterdir())) == 2


def test_other_detections_and_folder_without_gt(make_cfg, tmp_path):
    cfg = make_cfg("evaluate", SMALL, name="gen")
    run(cfg)
    (data_root,) = list((tmp_path / "data" / "synthetic_mot").iterdir())
    det_dir = tmp_path / "dets"
    det_dir.mkdir()
    for seq in ("SYN-01", "SYN-02"):  # "other detections": only the confident half of each file
        rows = np.loadtxt(data_root / seq / "det" / "det.txt", delimiter=",")
        np.savetxt(det_dir / f"{seq}.txt", rows[rows[:, 6] > 0.7], fmt="%.6g", delimiter=",")
    cfg = make_cfg(
        "evaluate",
        [
            *SMALL,
            f"data.root={data_root}",
            f"detections={det_dir}",
            "tracker=sort",
            "tracker.min_hits=0",
        ],
        name="other",
    )
    run(cfg)
    tracks = read_mot_txt(
        f"{cfg.paths.output_dir}/tracks/SYN-01.txt", kind="results", num_frames=60
    )
    confident = np.loadtxt(det_dir / "SYN-01.txt", delimiter=",")
    assert len(tracks) <= len(confident)  # SORT reports at most one box per matched detection
    nogt = tmp_path / "nogt"
    nogt.mkdir()
    (nogt / "SEQ").mkdir()
    for part in ("seqinfo.ini", "det"):
        src = data_root / "SYN-01" / part
        dst = nogt / "SEQ" / part
        dst.mkdir() if src.is_dir() else dst.write_text(src.read_text())
    (nogt / "SEQ" / "det" / "det.txt").write_text(
        (data_root / "SYN-01" / "det" / "det.txt").read_text()
    )
    cfg = make_cfg("evaluate", [*SMALL, f"data.root={nogt}"], name="nogt_run")
    metrics = run(cfg)
    assert list(metrics) == ["test/fps"]
    assert not (tmp_path / "nogt_run" / "metrics.json").exists()
    assert (tmp_path / "nogt_run" / "tracks" / "SEQ.txt").is_file()


def test_val_split_and_bad_sequence_names(make_cfg):
    cfg = make_cfg("evaluate", [*SMALL, "data.sequences=[SYN-02]", "data.val_sequences=[SYN-01]"])
    metrics = run(cfg)
    assert {"val/HOTA", "test/HOTA"} <= set(metrics)
    val = json.loads(open(f"{cfg.paths.output_dir}/metrics_val.json").read())
    assert list(val["details"]["sequences"]) == ["SYN-01"]
    assert set(val["metrics"]) == {k for k in metrics if k.startswith("val/")}
    with pytest.raises(ValueError, match=r"sequences \['SYN-09'\] not found"):
        run(make_cfg("evaluate", [*SMALL, "data.sequences=[SYN-09]"], name="bad"))


@pytest.mark.parametrize("tracker", ["sort", "deepsort", "botsort", "ocsort"])
def test_every_tracker_config_runs(make_cfg, tracker):
    overrides = [*SMALL, f"tracker={tracker}", "data.synthetic.num_frames=30"]
    if tracker in ("deepsort", "botsort"):
        overrides.append("data.synthetic.render_frames=true")
    metrics = run(make_cfg("evaluate", overrides))
    assert metrics["test/MOTA"] > 0.2


def test_interpolation_option_adds_boxes(make_cfg):
    base = run(make_cfg("evaluate", [*SMALL, "tracker=ocsort"], name="plain"))
    filled = run(
        make_cfg("evaluate", [*SMALL, "tracker=ocsort", "interpolate_max_gap=20"], name="filled")
    )
    assert filled["test/MOTA"] > base["test/MOTA"]


def test_sequence_folder_without_seqinfo_is_an_error_unless_allowed(make_cfg, tmp_path):
    run(make_cfg("evaluate", SMALL, name="gen"))
    (data_root,) = list((tmp_path / "data" / "synthetic_mot").iterdir())
    (data_root / "SYN-02" / "seqinfo.ini").unlink()
    overrides = [*SMALL, f"data.root={data_root}"]
    with pytest.raises(FileNotFoundError, match=r"SYN-02/seqinfo\.ini.*allow_missing=true"):
        run(make_cfg("evaluate", overrides, name="strict"))
    cfg = make_cfg("evaluate", [*overrides, "allow_missing=true"], name="lenient")
    run(cfg)
    scores = json.loads(open(f"{cfg.paths.output_dir}/metrics.json").read())
    assert list(scores["details"]["sequences"]) == [
        "SYN-01"
    ]  # the unreadable one skipped, with a warning


def test_tracker_factory_takes_the_frame_rate_from_the_config(make_cfg, tmp_path):
    from types import SimpleNamespace

    from vidlab.tasks.track import tracker_factory

    info = SimpleNamespace(frame_rate=15.0)
    cfg = make_cfg("evaluate", ["task=track"])
    assert cfg.tracker.frame_rate is None  # bytetrack.yaml: null means "the sequence's"
    make, cache = tracker_factory(cfg.tracker, tmp_path)
    tracker = make(info)
    assert tracker.frame_rate == 15.0 and tracker.max_time_lost == 15 and cache is None
    fixed = make_cfg("evaluate", ["task=track", "tracker.frame_rate=60"], name="fixed")
    assert tracker_factory(fixed.tracker, tmp_path)[0](info).max_time_lost == 60
    sort = make_cfg("evaluate", ["task=track", "tracker=sort"], name="sort")
    assert "frame_rate" not in sort.tracker  # trackers without the key get no frame rate
    assert type(tracker_factory(sort.tracker, tmp_path)[0](info)).__name__ == "Sort"
