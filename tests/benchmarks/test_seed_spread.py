"""benchmarks/seed_spread.py: parsing, reading metrics.json, the spread rows and the sweep loop,
with fake runs (a stand-in interpreter writes each run's metrics.json; nothing is trained)."""

from __future__ import annotations

import csv
import importlib.util
import json
import stat
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "seed_spread.py"


@pytest.fixture(scope="module")
def seed_spread():
    spec = importlib.util.spec_from_file_location("seed_spread", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_spread"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("seed_spread", None)


def write_metrics(path: Path, val: float, test: float | None, wall: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = {"val/top1": val} if test is None else {"val/top1": val, "test/top1": test}
    path.write_text(
        json.dumps(
            {
                "schema": 1,
                "task": "train",
                "metrics": metrics,
                "details": {"wall_time_s": wall},
                "provenance": {"git_commit": "abc123"},
            }
        )
    )


def test_parse_run_splits_tag_and_overrides(seed_spread):
    exp = seed_spread.parse_run("f2d: experiment=synthetic_direction 'model=frame2d_synthetic'")
    assert exp.tag == "f2d"
    assert exp.overrides == ("experiment=synthetic_direction", "model=frame2d_synthetic")


@pytest.mark.parametrize(
    "spec", ["no colon here", ": a=1", "a/b: x=1", "t: seed=3", "t: hydra.run.dir=/x"]
)
def test_parse_run_rejects_bad_specs(seed_spread, spec):
    with pytest.raises(ValueError, match="--run"):
        seed_spread.parse_run(spec)


def test_rows_give_seeds_then_min_median_max(seed_spread, tmp_path):
    results = []
    for seed, val, test, wall in [
        (2, 0.25, 0.30, 120.0),
        (0, 0.99, None, 60.0),
        (1, 0.50, 0.90, 180.0),
    ]:
        path = tmp_path / f"seed{seed}" / "metrics.json"
        write_metrics(path, val, test, wall)
        results.append(seed_spread.read_result(path, "x", seed, "cmd"))
    rows = seed_spread.experiment_rows(results, ["val/top1", "test/top1"])
    assert [r[0] for r in rows] == ["seed 0", "seed 1", "seed 2", "min", "median", "max"]
    assert rows[0] == ["seed 0", 0.99, None, 1.0]
    assert rows[3] == ["min", 0.25, 0.30, 1.0]
    # the missing test/top1 of seed 0 is left out of its spread, not counted as zero
    assert rows[4] == ["median", 0.50, pytest.approx(0.60), 2.0]
    assert rows[5] == ["max", 0.99, 0.90, 3.0]
    table = seed_spread.markdown_table(seed_spread.table_columns(["val/top1", "test/top1"]), rows)
    assert "| seed 0 | 0.9900 | - | 1.0000 |" in table.splitlines()


def test_read_result_names_the_file_on_a_bad_layout(seed_spread, tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"val/top1": 0.5}))  # the old flat layout
    with pytest.raises(ValueError, match=str(path)):
        seed_spread.read_result(path, "x", 0, "cmd")


FAKE_TRAIN = """#!{python}
import json, sys
from pathlib import Path
args = dict(a.split("=", 1) for a in sys.argv[2:])
assert sys.argv[1] == "train.py", sys.argv
seed = int(args["seed"])
if args.get("fail") == str(seed):
    sys.exit(3)
out = Path(args["hydra.run.dir"]); out.mkdir(parents=True)
(out / "metrics.json").write_text(json.dumps({{
    "schema": 1, "task": "train",
    "metrics": {{"val/top1": 0.1 * seed + float(args["base"]), "test/top1": 0.5}},
    "details": {{"wall_time_s": 60.0 * (seed + 1)}}, "provenance": {{"git_commit": "c0ffee"}}}}))
"""


def test_main_runs_each_seed_once_and_writes_reports(seed_spread, tmp_path):
    fake = tmp_path / "fake_python"
    fake.write_text(FAKE_TRAIN.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    out = tmp_path / "out"
    argv = [
        "--python",
        str(fake),
        "--out",
        str(out),
        "--seeds",
        "0",
        "1",
        "2",
        "--run",
        "a: base=0.2",
        "--run",
        "b: base=0.5 fail=1",
    ]
    assert seed_spread.main(argv) == 1  # b seed 1 failed
    assert (out / "b" / "seed1.log").exists()
    with open(out / "seed_spread.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["tag"], r["seed"]) for r in rows] == [
        ("a", "0"),
        ("a", "1"),
        ("a", "2"),
        ("b", "0"),
        ("b", "2"),
    ]
    assert float(rows[2]["val/top1"]) == pytest.approx(0.4)
    assert rows[0]["command"] == f"python train.py base=0.2 seed=0 hydra.run.dir={out}/a/seed0"
    md = (out / "seed_spread.md").read_text()
    assert "| median | 0.3000 | 0.5000 | 2.0000 |" in md  # a: val 0.2, 0.3, 0.4; wall 1-3 min
    # a second call reads the existing runs rather than training again
    (out / "a" / "seed0" / "metrics.json").write_text(
        (out / "a" / "seed0" / "metrics.json")
        .read_text()
        .replace('"val/top1": 0.2', '"val/top1": 0.9')
    )
    seed_spread.main(argv[:-2])
    assert "| seed 0 | 0.9000 |" in (out / "seed_spread.md").read_text()


def test_curve_is_the_per_epoch_validation_without_the_final_best_checkpoint_row(
    seed_spread, tmp_path
):
    run = tmp_path / "seed3"
    (run / "csv").mkdir(parents=True)
    # The CSV logger's rows: training steps (no val/top1), one validation per epoch, then the
    # validation of the best checkpoint after fitting.
    (run / "csv" / "metrics.csv").write_text(
        "epoch,step,train/loss_step,val/top1\n"
        "0,9,1.38,\n0,124,,0.25\n1,249,,0.5\n1,249,1.0,\n2,374,,0.75\n2,374,,0.75\n"
    )
    (run / "metrics.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "task": "train",
                "metrics": {"val/top1": 0.75, "test/top1": 0.7},
                "details": {"wall_time_s": 30.0, "epochs": 3},
                "provenance": {},
            }
        )
    )
    result = seed_spread.read_result(run / "metrics.json", "x", 3, "cmd")
    assert result.curve == [0.25, 0.5, 0.75]
    rows = seed_spread.experiment_rows([result], ["val/top1"])
    assert rows[0] == ["seed 3", 0.75, 0.5, "0.250, 0.500, 0.750"]
    assert rows[1] == ["min", 0.75, 0.5, ""]
    assert seed_spread.table_columns(["val/top1"], "val/top1")[-1] == "val/top1 by epoch"
