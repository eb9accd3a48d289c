"""Reads the policy file (TOML); refuses it at start-up naming the file and place of a mistake."""

from __future__ import annotations

import functools
import re
import tomllib
from pathlib import Path
from typing import Any

from domain.policy import PolicyBook, PolicyError, parse_policy

DEFAULT_POLICY_PATH = Path(__file__).with_name("credit-policy.toml")

# tomllib (3.11) puts the position only in its message: "... (at line 3, column 7)".
_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = re.compile(r"\s*\(at end of document\)$")


def read_policy_data(path: Path | None = None) -> dict[str, Any]:
    """The policy file's raw data; a missing file or bad TOML is a PolicyError naming the file
    (and, for bad TOML, `file:line:column`)."""
    path = DEFAULT_POLICY_PATH if path is None else Path(path)
    return _policy_data(path.name, _policy_bytes(path))


def _policy_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise PolicyError(path.name, f"cannot read the policy file: {error.strerror}") from None


def _policy_data(name: str, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(name, f"not UTF-8 (byte {error.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _POSITION.search(message)
        if position:
            line, column = position.groups()
            location = f"{name}:{line}:{column}"
            message = message[: position.start()]
        else:
            at_end = _AT_END.search(message)
            location = f"{name}:{text.count(chr(10)) + 1}" if at_end else name
            message = message[: at_end.start()] if at_end else message
        raise PolicyError(location, f"TOML syntax: {message}") from None


def load_policy(path: Path | None = None) -> PolicyBook:
    """The policy book from `path` (default: the file shipped next to this module). The file is
    read every time; bytes read before give the book made from them then, which is frozen:
    reading and checking the shipped file is some 17 ms of CPU, spent again by each set of
    services a process builds (the test suite builds thousands)."""
    path = DEFAULT_POLICY_PATH if path is None else Path(path)
    return _policy_book(path.name, _policy_bytes(path))


@functools.lru_cache(maxsize=8)
def _policy_book(name: str, raw: bytes) -> PolicyBook:
    data = _policy_data(name, raw)
    try:
        return parse_policy(data)
    except PolicyError as error:
        raise PolicyError(f"{name}:{error.location}", error.reason) from None
