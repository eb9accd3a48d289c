"""How an import's messages quote the file: never what may be an ID number, nor a long value."""

from __future__ import annotations

import re

DIGIT_RUN = re.compile(r"\d{6,}")


def quote_cell(value: str) -> str:
    """Quote a cell in a message unless it might be an ID number or is too long to help."""
    if not value:
        return "an empty cell"
    if len(value) > 30 or DIGIT_RUN.search(value):
        return f"a value of {len(value)} characters"
    return repr(value)
