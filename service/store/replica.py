"""Whether the read replica is close enough behind the primary for queries to read there.

Queries read the replica (CREDIT_READ_DATABASE_URL) while its replay lag is within
CREDIT_READ_REPLICA_MAX_LAG_SECONDS; a replica further behind, or one that cannot be reached,
sends them to the primary until it has caught up again (docs/operations.md, "Read replicas").
The lag is measured on the replica itself, at most every CREDIT_READ_REPLICA_CHECK_SECONDS,
in the background of the requests that read: none waits for the check."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.store.database import DATABASE_ERRORS

log = logging.getLogger(__name__)

# Seconds since the last transaction the replica replayed, or 0 when it has replayed all it has
# received (an idle primary sends nothing, and an idle replica is not behind). A server that is
# not in recovery is a primary: nothing to wait for.
LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) END"
)

ReplicaStatus = Literal["unknown", "ok", "behind", "unreachable"]


@dataclass(frozen=True)
class ReplicaState:
    status: ReplicaStatus
    lag_seconds: float | None  # None: not measured (unreachable, unknown, nothing replayed yet)
    checked_at: float  # time.monotonic() of the check; 0 never

    @property
    def serves_reads(self) -> bool:
        return self.status == "ok"


class ReadReplica:
    """Chooses the engine queries read from: the replica's while it keeps up, else the
    primary's. Until the first check has answered, reads go to the primary."""

    def __init__(
        self,
        replica: AsyncEngine,
        primary: AsyncEngine,
        *,
        max_lag_seconds: float,
        check_seconds: float,
    ) -> None:
        self.replica = replica
        self.primary = primary
        self.max_lag_seconds = max_lag_seconds
        self.check_seconds = check_seconds
        self.state = ReplicaState("unknown", None, 0.0)
        self._checking: asyncio.Task[ReplicaState] | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The engine to read from now; starts a check in the background when the last one is
        older than `check_seconds` (inside a running event loop)."""
        if time.monotonic() - self.state.checked_at >= self.check_seconds:
            self._start_check()
        return self.replica if self.state.serves_reads else self.primary

    @property
    def reads_from(self) -> Literal["replica", "primary"]:
        return "replica" if self.state.serves_reads else "primary"

    def _start_check(self) -> asyncio.Task[ReplicaState] | None:
        if self._checking is None or self._checking.done():
            try:
                self._checking = asyncio.get_running_loop().create_task(self._check())
            except RuntimeError:  # no running loop: a synchronous caller; keep the last state
                return None
        return self._checking

    async def check(self) -> ReplicaState:
        """A fresh measurement (joins one under way)."""
        task = self._start_check()
        return await task if task is not None else self.state

    async def _check(self) -> ReplicaState:
        try:
            async with self.replica.connect() as conn:
                lag = (await conn.execute(LAG)).scalar()
        except DATABASE_ERRORS as error:
            state = ReplicaState("unreachable", None, time.monotonic())
            if self.state.status != "unreachable":
                log.warning("read replica unreachable, reads go to the primary: %r", error)
        else:
            seconds = None if lag is None else float(lag)
            behind = seconds is None or seconds > self.max_lag_seconds
            state = ReplicaState("behind" if behind else "ok", seconds, time.monotonic())
            if behind and self.state.status != "behind":
                log.warning(
                    "read replica %s s behind (more than %s s), reads go to the primary",
                    "an unknown number of" if seconds is None else f"{seconds:.1f}",
                    self.max_lag_seconds,
                )
            elif not behind and self.state.status in ("behind", "unreachable"):
                log.warning("read replica caught up (%.1f s behind), reads go to it again", seconds)
        self.state = state
        return state

    def report(self) -> dict[str, object]:
        """What /health shows of the replica."""
        return {
            "status": self.state.status,
            "lag_seconds": None
            if self.state.lag_seconds is None
            else round(self.state.lag_seconds, 3),
            "max_lag_seconds": self.max_lag_seconds,
            "reads_from": self.reads_from,
        }

    async def dispose(self) -> None:
        if self._checking is not None and not self._checking.done():
            self._checking.cancel()
        await self.replica.dispose()
        await self.primary.dispose()
