"""Statements given to the driver's connection itself, past SQLAlchemy's execution, where its
per-statement work costs more than the statement (a status read, an access-log commit): only
while nothing follows the engine's statements, which would not see them."""

from __future__ import annotations

from sqlalchemy import Engine


def statements_followed(engine: Engine) -> bool:
    """Whether something follows the engine's statements (tracing's spans, a test counting
    them): it sees them only when they go through SQLAlchemy."""
    dispatch = engine.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)
