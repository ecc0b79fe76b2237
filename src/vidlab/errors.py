"""Errors the user can fix from the message alone, and how command-line entry points report them.

A `UserError` (or one of its subclasses, e.g. `MotFormatError`, `AnnotationError`) says which file,
line or setting is wrong and what was expected. The entry points (`train.py`, `evaluate.py`,
`export.py`, `python -m vidlab.export.inference`) print such errors, and missing files, as one
``error: <message>`` line on stderr and exit with status 2, without a traceback. Set
``VIDLAB_VERBOSE=1`` (or Hydra's ``HYDRA_FULL_ERROR=1``) to get the traceback as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Exit status of a command stopped by an expected user error (argparse uses 2 as well).
USER_ERROR_EXIT_CODE = 2
#: Environment variables that, set to a true value, keep full tracebacks for expected errors.
VERBOSE_ENV_VARS = ("VIDLAB_VERBOSE", "HYDRA_FULL_ERROR")
_FALSE_VALUES = ("", "0", "false", "no", "off")


class UserError(ValueError):
    """A bad input file, folder or setting; the message names it and what was expected."""


#: Exceptions reported without a traceback: their message already says what to fix.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def verbose_errors() -> bool:
    """Whether the environment asks for full tracebacks (`VERBOSE_ENV_VARS`)."""
    return any(
        os.environ.get(name, "").strip().lower() not in _FALSE_VALUES for name in VERBOSE_ENV_VARS
    )


def error_line(err: BaseException) -> str:
    """The one-line report of an expected error: ``error: <message>`` (lines of the message joined)."""
    message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return f"error: {message or type(err).__name__}"


@contextmanager
def report_user_errors(extra: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn expected errors raised in the block into ``error: <message>`` on stderr and exit 2.

    Args:
        extra: further exception types to treat as expected (e.g. a missing config value).

    Raises:
        SystemExit: status `USER_ERROR_EXIT_CODE` after an expected error (unless verbose, where
            the error propagates with its traceback).
    """
    try:
        yield
    except Exception as err:
        expected = expected_cause(err, EXPECTED_ERRORS + extra)
        if expected is None or verbose_errors():
            raise
        sys.stderr.write(error_line(expected) + "\n")
        sys.stderr.flush()
        raise SystemExit(USER_ERROR_EXIT_CODE) from None


def expected_cause(
    err: BaseException, types: tuple[type[BaseException], ...] = EXPECTED_ERRORS
) -> BaseException | None:
    """`err` or the first of its causes that is one of `types`, else None.

    Wrappers such as Hydra's `InstantiationException` (raised ``from`` the error of the object
    being built) keep the user's error as their cause; its message is the one worth showing.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, types):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None
