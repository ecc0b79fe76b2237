"""Expected user errors end a command with one `error: <message>` line and exit status 2."""

from __future__ import annotations

import hydra
import pytest

from vidlab.errors import USER_ERROR_EXIT_CODE, UserError, expected_cause, report_user_errors


def refuse(value: int) -> None:
    """A Hydra target that rejects its argument like a datamodule rejecting a setting."""
    raise UserError(f"data.num_frames={value}, expected an integer >= 1")


@pytest.fixture
def quiet(monkeypatch):
    for name in ("VIDLAB_VERBOSE", "HYDRA_FULL_ERROR"):
        monkeypatch.delenv(name, raising=False)


def test_user_error_prints_one_line_and_exits_2(quiet, capsys):
    with pytest.raises(SystemExit) as code, report_user_errors():
        raise UserError("cfg.yaml:3: bad value\n  (details)")
    assert code.value.code == USER_ERROR_EXIT_CODE
    assert capsys.readouterr().err == "error: cfg.yaml:3: bad value (details)\n"


def test_error_wrapped_by_hydra_instantiate_is_unwrapped(quiet, capsys):
    with pytest.raises(SystemExit), report_user_errors():
        hydra.utils.instantiate({"_target_": f"{__name__}.refuse", "value": 0})
    assert capsys.readouterr().err == "error: data.num_frames=0, expected an integer >= 1\n"


def test_missing_file_is_expected_and_a_bug_is_not(quiet):
    assert isinstance(expected_cause(FileNotFoundError("x.txt: no such file")), FileNotFoundError)
    with pytest.raises(ZeroDivisionError), report_user_errors():
        raise ZeroDivisionError  # a bug keeps its traceback


@pytest.mark.parametrize("variable", ["VIDLAB_VERBOSE", "HYDRA_FULL_ERROR"])
def test_verbose_switch_keeps_the_exception(monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    with pytest.raises(UserError), report_user_errors():
        raise UserError("bad")
