"""The dataset check task (`python evaluate.py task=check_data data=<name> data.root=<dir>`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vidlab.tasks import check_data

REPO = Path(__file__).resolve().parents[2]
BROKEN = {"v_ApplyEyeMakeup_g09_c01.avi": "truncated.mp4", "v_Biking_g01_c01.avi": "empty.mp4",
          "v_Biking_g10_c01.avi": "av1.mp4"}  # fmt: skip
MISSING = ("v_HandStandPushups_g02_c01.avi",)


def check_cfg(make_cfg, root: Path, *overrides: str):
    return make_cfg("evaluate", ["task=check_data", "data=ucf101", f"data.root={root}",
                                 "data.num_classes=3", "check.workers=2", *overrides])  # fmt: skip


def test_check_counts_and_lists_bad_files(make_cfg, ucf101_layout, capsys):
    cfg = check_cfg(make_cfg, ucf101_layout(broken=BROKEN, missing=MISSING))
    assert cfg.task_fn == "vidlab.tasks.check_data.run"
    metrics = check_data.run(cfg)
    assert metrics == {
        "train/listed": 9, "train/found": 9, "train/missing": 0, "train/undecodable": 1,
        "train/usable": 8, "test/listed": 6, "test/found": 5, "test/missing": 1,
        "test/undecodable": 1, "test/usable": 4}  # fmt: skip
    out_dir = Path(cfg.paths.output_dir)
    bad = [line.split("\t") for line in (out_dir / "bad_files.txt").read_text().splitlines()]
    assert sorted((b[0], b[1], Path(b[2]).name) for b in bad) == [
        ("test", "missing", "v_HandStandPushups_g02_c01.avi"),
        ("test", "undecodable", "v_Biking_g01_c01.avi"),
        ("train", "undecodable", "v_ApplyEyeMakeup_g09_c01.avi"),
    ]
    written = json.loads((out_dir / "metrics.json").read_text())
    assert written["task"] == "check_data" and written["metrics"] == metrics
    train = next(s for s in written["details"]["splits"] if s["name"] == "train")
    assert train["pyav"] == 1  # the AV1 file decodes, through the fallback
    assert train["duration_s"] == pytest.approx([0.96, 0.96], abs=0.01)
    assert train["fps"] == pytest.approx([25.0, 25.0])
    printed = capsys.readouterr().out
    assert "Dataset check: ucf101" in printed and "missing" in printed


def test_check_exits_non_zero_when_a_split_has_no_usable_video(make_cfg, ucf101_layout):
    broken = {f"v_{c}_g{g:02d}_c01.avi": "empty.mp4"
              for c in ("ApplyEyeMakeup", "Biking", "HandStandPushups") for g in (1, 2)}  # fmt: skip
    cfg = check_cfg(make_cfg, ucf101_layout(broken=broken))
    with pytest.raises(SystemExit) as caught:
        check_data.run(cfg)
    assert caught.value.code == 1
    report = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())["details"]
    assert report["problems"] == ["split 'test' has no usable video (6 listed, 0 missing, "
                                  "6 undecodable)"]  # fmt: skip
    assert len((Path(cfg.paths.output_dir) / "bad_files.txt").read_text().splitlines()) == 6


def test_check_flags_a_wrong_class_count(make_cfg, ucf101_layout):
    cfg = check_cfg(make_cfg, ucf101_layout(), "data.num_classes=101", "check.splits=[train]")
    with pytest.raises(SystemExit):
        check_data.run(cfg)
    written = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    problems = written["details"]["problems"]
    assert problems == ["data.num_classes=101 but the annotations define 3 classes"]


def run_python(code: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, timeout=timeout,
                          capture_output=True, text=True)  # fmt: skip


def test_check_data_stays_light():
    result = run_python(
        """
        import sys
        import vidlab.tasks.check_data
        heavy = {"torch", "lightning", "decord", "av"} & set(sys.modules)
        assert not heavy, heavy
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_workers_do_not_hang_after_the_check_in_the_same_process(ucf101_layout, tmp_path):
    """The check decodes (with PyAV too) in spawned processes only, so this process can fork
    DataLoader workers afterwards. Runs in a subprocess so that a hang fails the test."""
    root = ucf101_layout(broken={"v_Biking_g10_c01.avi": "av1.mp4"})
    code = f"""
        import sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        from pathlib import Path
        import hydra
        from torch.utils.data import DataLoader
        from conftest import compose_config
        from vidlab.data.clip_sampling import ClipSpec, RandomClipSampler
        from vidlab.data.datasets.clip_dataset import VideoClipDataset
        from vidlab.data.datasets.loading import SeededSampler, VideoCollate
        from vidlab.data.transforms.video import VideoTrainTransform
        from vidlab.tasks import check_data
        cfg = compose_config("evaluate", ["task=check_data", "data=ucf101", "data.root={root}",
                             "data.num_classes=3"], Path({str(tmp_path / "run")!r}))
        check_data.run(cfg)
        # The same layout, decoded by two forked workers (the AV1 file through PyAV).
        records = hydra.utils.instantiate(cfg.data.index).build().split("train").records
        dataset = VideoClipDataset(records, sampler=RandomClipSampler(ClipSpec(4)),
                                   transform=VideoTrainTransform(crop_size=32))
        loader = DataLoader(dataset, batch_size=3, num_workers=2, timeout=60,
                            sampler=SeededSampler(len(dataset), 0),
                            collate_fn=VideoCollate(dataset.clip_shape()))
        print("clips", sum(len(b["label"]) for b in loader))
    """
    result = run_python(code, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "clips 9" in result.stdout


@pytest.mark.integration
def test_command_line_exit_status(ucf101_layout, tmp_path):
    broken = {f"v_{c}_g{g:02d}_c01.avi": "empty.mp4"
              for c in ("ApplyEyeMakeup", "Biking", "HandStandPushups") for g in (1, 2)}  # fmt: skip
    root = ucf101_layout(broken=broken)
    run_dir = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "evaluate.py", "task=check_data", "data=ucf101", f"data.root={root}",
         "data.num_classes=3", f"hydra.run.dir={run_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    assert "split 'test' has no usable video" in result.stdout + result.stderr
    assert (run_dir / "bad_files.txt").is_file()
