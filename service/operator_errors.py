"""Errors an operator makes or meets (a bad setting, an unreachable database, a missing file),
told as one line with an exit code instead of a traceback: the one place the CLI maps them."""

from __future__ import annotations

import os

from domain.policy import PolicyError
from service.settings import SettingsError
from service.store.database import DATABASE_ERRORS, DatabaseUrlError, database_unavailable
from service.tracing import TracingUnavailable

# sysexits(3) codes, so that a script can tell "fix the configuration" from "retry later".
EXIT_CONFIG = os.EX_CONFIG if hasattr(os, "EX_CONFIG") else 78  # a setting or the policy file
EXIT_UNAVAILABLE = os.EX_UNAVAILABLE if hasattr(os, "EX_UNAVAILABLE") else 69  # the database
EXIT_NO_INPUT = os.EX_NOINPUT if hasattr(os, "EX_NOINPUT") else 66  # a file missing, unreadable
EXIT_IO = os.EX_IOERR if hasattr(os, "EX_IOERR") else 74  # any other file or socket error


def operator_error(error: BaseException) -> tuple[str, int] | None:
    """The line to print and the exit code, if `error` is the operator's to fix; None for a
    fault of the program, which keeps its traceback."""
    if isinstance(error, SettingsError):
        return f"bad setting: {error}", EXIT_CONFIG
    if isinstance(error, DatabaseUrlError):
        return f"bad setting: CREDIT_DATABASE_URL: {error}", EXIT_CONFIG
    if isinstance(error, TracingUnavailable):
        return f"bad setting: {error}", EXIT_CONFIG
    if isinstance(error, PolicyError):
        return f"bad policy file: {error}", EXIT_CONFIG
    if isinstance(error, DATABASE_ERRORS):
        what = "database unreachable" if database_unavailable(error) else "database error"
        return f"{what}: {_first_line(error)}", EXIT_UNAVAILABLE
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        reason = error.strerror or _first_line(error)
        if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
            return f"cannot open a file: {reason}{where}", EXIT_NO_INPUT
        return f"{reason}{where}", EXIT_IO
    return None


def _first_line(error: BaseException) -> str:
    """The driver's own words, first line only (the SQL and the library's links follow)."""
    text = str(error).strip() or type(error).__name__
    return " ".join(text.splitlines()[0].split())
