"""Reads the policy file (TOML); refuses it at start-up naming the file and place of a mistake."""

from __future__ import annotations

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
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PolicyError(path.name, f"cannot read the policy file: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(path.name, f"not UTF-8 (byte {error.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _POSITION.search(message)
        if position:
            line, column = position.groups()
            location = f"{path.name}:{line}:{column}"
            message = message[: position.start()]
        else:
            at_end = _AT_END.search(message)
            location = f"{path.name}:{text.count(chr(10)) + 1}" if at_end else path.name
            message = message[: at_end.start()] if at_end else message
        raise PolicyError(location, f"TOML syntax: {message}") from None


def load_policy(path: Path | None = None) -> PolicyBook:
    """The policy book from `path` (default: the file shipped next to this module)."""
    path = DEFAULT_POLICY_PATH if path is None else Path(path)
    data = read_policy_data(path)
    try:
        return parse_policy(data)
    except PolicyError as error:
        raise PolicyError(f"{path.name}:{error.location}", error.reason) from None
