"""Errors that are the user's to fix (a bad file, value or option), as opposed to bugs.

The entry points print the message of a `UserError` alone (no traceback) and exit non-zero; the
message names the file (and line or entry) and what was expected.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input: the message says which file or option, what is wrong, and what was expected."""
