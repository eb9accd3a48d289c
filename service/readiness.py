"""Whether a process may take traffic (GET /readyz, `credit projections ready`): the database's
migrations are at head and every projector is running and within a bound of the log's head."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine

from projections.runner import ProjectionRunner
from service.store.migrations import ROOT


@dataclass
class Readiness:
    ready: bool
    migrations_at_head: bool
    log_head: int
    projectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not-ready",
            "migrations_at_head": self.migrations_at_head,
            "log_head": self.log_head,
            "projectors": self.projectors,
            "reasons": self.reasons,
        }


@lru_cache
def _script_heads() -> frozenset[str]:
    # alembic is imported at the first check, not by every process's start (some 0.1 s).
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "alembic"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def migrations_at_head(engine: Engine) -> bool:
    """The revisions the database is at are the migrations' heads (none missing, none extra)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
    return current == _script_heads()


def readiness(engine: Engine, runner: ProjectionRunner, log_head: int, max_lag: int) -> Readiness:
    at_head = migrations_at_head(engine)
    reasons = [] if at_head else ["the database's migrations are not at head: run credit migrate"]
    projectors = {}
    for name, state in runner.states().items():
        lag = log_head - state.position
        projectors[name] = {"position": state.position, "lag": lag, "failed": bool(state.failure)}
        if state.failure is not None:
            reasons.append(f"{name} stopped on position {state.failure.position}")
        elif lag > max_lag:
            reasons.append(f"{name} is {lag} events behind the log (at most {max_lag})")
    return Readiness(not reasons, at_head, log_head, projectors, reasons)
