"""How an import's messages quote the file: never what may be an ID number, nor a long value.
The reasons a row is rejected for are read by the agency's clerks, in Chinese; a whole-file
problem is an API problem, in English like every other."""

from __future__ import annotations

import re

DIGIT_RUN = re.compile(r"\d{6,}")
MAX_QUOTED_CHARS = 30


def _unquotable(value: str) -> bool:
    return len(value) > MAX_QUOTED_CHARS or DIGIT_RUN.search(value) is not None


def quote_cell(value: str) -> str:
    """Quote a cell in a message unless it might be an ID number or is too long to help."""
    if not value:
        return "an empty cell"
    if _unquotable(value):
        return f"a value of {len(value)} characters"
    return repr(value)


def quote_cell_zh(value: str) -> str:
    """The same, in a row's reason: “value”, 空值, or 一个 N 个字符的值."""
    if not value:
        return "空值"
    if _unquotable(value):
        return f"一个 {len(value)} 个字符的值"
    return f"“{value}”"
