"""Replay checks in the background, for auditors: each one a row of `replay_checks`, at most one
running at a time, run by a child process of the API so that the API's own process keeps all
of its CPU for queries. The child writes a heartbeat with its progress every second; a running
check whose heartbeat has stopped (its process died with the machine, or was killed) is shown
as an error saying it was interrupted.

The child runs the command the composition root names (`credit run-replay-check CHECK_ID`, see
`run_check`), with the settings as JSON on its stdin (they hold secrets, which have no place on a
command line)."""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from projections.credit_file.projector import to_json
from service.access.tables import replay_checks
from service.replay.check import (
    KEPT_DIFFERENCES,
    ReplayReport,
    drop_scratch_database,
    verify_read_models,
)
from service.settings import Settings
from service.store.database import Database

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_SECONDS = 1.0
STALE_AFTER_SECONDS = 30.0
SUMMARY_COLUMNS = [c for c in replay_checks.columns if c.name != "differences"]


class CheckRunning(Exception):
    """Another replay check is running (only one runs at a time)."""

    def __init__(self, check_id: UUID | None):
        super().__init__(f"replay check {check_id} is running")
        self.check_id = check_id


def scratch_name(check_id: UUID) -> str:
    """The check's scratch database on PostgreSQL, named so that one a killed process left
    behind can be found and dropped."""
    return f"credit_replay_{check_id.hex}"


def _now() -> datetime:
    return datetime.now(UTC)


class ReplayChecks:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        command: Sequence[str],
        *,
        stale_after_seconds: float = STALE_AFTER_SECONDS,
    ):
        """`command` runs one check in a child process, given the check id after it."""
        self.engine = engine
        self.settings = settings
        self.command = list(command)
        self.stale_after = timedelta(seconds=stale_after_seconds)
        self._children: dict[UUID, tuple[subprocess.Popen, threading.Thread]] = {}
        self._lock = threading.Lock()

    # Starting ---------------------------------------------------------------------------
    def start(self, requested_by: str) -> dict[str, Any]:
        """Record a new running check and start its process; CheckRunning if one runs."""
        self._expire_stale()
        check_id, now = uuid4(), _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(replay_checks).values(
                        check_id=check_id,
                        state="running",
                        requested_by=requested_by,
                        started_at=now,
                        heartbeat_at=now,
                        events_replayed=0,
                    )
                )
        except IntegrityError:  # the index that admits one running check at most
            raise CheckRunning(self.running()) from None
        try:
            self._launch(check_id)
        except Exception as error:
            self.finish_error(check_id, f"the check process could not start: {error!r}")
            raise
        found = self.get(check_id)
        assert found is not None
        return found

    def _launch(self, check_id: UUID) -> None:
        process = subprocess.Popen(
            [*self.command, str(check_id)],
            stdin=subprocess.PIPE,
            cwd=ROOT,
        )
        assert process.stdin is not None
        process.stdin.write(self.settings.model_dump_json().encode())
        process.stdin.close()
        supervisor = threading.Thread(
            target=self._supervise,
            args=(check_id, process),
            name=f"replay-check-{check_id}",
            daemon=True,
        )
        with self._lock:
            self._children[check_id] = (process, supervisor)
        supervisor.start()

    def _supervise(self, check_id: UUID, process: subprocess.Popen) -> None:
        """A process that ended without recording its result leaves an error, not a check
        that seems to run until its heartbeat is missed."""
        status = process.wait()
        self.finish_error(
            check_id,
            f"interrupted: the check process ended (exit status {status}) without a result",
            only_if_running=True,
        )
        if status != 0:
            self._drop_scratch(check_id)
        with self._lock:
            self._children.pop(check_id, None)

    def _drop_scratch(self, check_id: UUID) -> None:
        try:
            drop_scratch_database(
                Database.from_url(self.settings.database_url), scratch_name(check_id)
            )
        except Exception as error:  # the check's result stands; the operator can drop it
            log.warning("replay check %s: its scratch database stays: %s", check_id, error)

    def close(self, timeout: float = 10) -> None:
        """Stop the checks this process started (each records that it was interrupted)."""
        with self._lock:
            children = list(self._children.values())
        for process, _ in children:
            process.terminate()
        for process, supervisor in children:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
            supervisor.join(timeout)

    # Reading ----------------------------------------------------------------------------
    def get(self, check_id: UUID) -> dict[str, Any] | None:
        self._expire_stale()
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(replay_checks).where(replay_checks.c.check_id == check_id))
                .mappings()
                .first()
            )
        return _view(row) if row else None

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest checks, newest first, without their lists of differences."""
        self._expire_stale()
        query = select(*SUMMARY_COLUMNS).order_by(replay_checks.c.started_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_view(row) for row in conn.execute(query).mappings()]

    def running(self) -> UUID | None:
        query = select(replay_checks.c.check_id).where(replay_checks.c.state == "running")
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def _expire_stale(self) -> None:
        """Running checks whose heartbeat stopped: marked interrupted, their scratch
        databases dropped."""
        now = _now()
        stale = (replay_checks.c.state == "running") & (
            replay_checks.c.heartbeat_at < now - self.stale_after
        )
        with self.engine.begin() as conn:
            expired = list(conn.execute(select(replay_checks.c.check_id).where(stale)).scalars())
            if not expired:
                return
            conn.execute(
                update(replay_checks)
                .where(stale, replay_checks.c.check_id.in_(expired))
                .values(
                    state="error",
                    finished_at=now,
                    error="interrupted: the process running the check stopped (no heartbeat "
                    f"for {self.stale_after.total_seconds():.0f} s)",
                )
            )
        for check_id in expired:
            self._drop_scratch(check_id)

    # Writing (by the process running the check) -----------------------------------------
    def heartbeat(self, check_id: UUID, replayed: int, total: int | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(replay_checks)
                .where(replay_checks.c.check_id == check_id)
                .values(heartbeat_at=_now(), events_replayed=replayed, events_total=total)
            )

    def finish(self, check_id: UUID, report: ReplayReport) -> None:
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                update(replay_checks)
                .where(replay_checks.c.check_id == check_id)
                .values(
                    state="passed" if report.ok else "failed",
                    heartbeat_at=now,
                    finished_at=now,
                    position=report.position,
                    events_total=report.events,
                    events_replayed=report.events,
                    rows_compared=report.rows_compared,
                    difference_count=report.difference_count,
                    differences=[
                        {
                            "table": d.table,
                            "key": d.key,
                            "subject_id": d.subject_id,
                            "field": d.field,
                            "live": to_json(d.live),
                            "replayed": to_json(d.replayed),
                        }
                        for d in report.differences
                    ],
                )
            )

    def finish_error(self, check_id: UUID, error: str, *, only_if_running: bool = False) -> None:
        query = update(replay_checks).where(replay_checks.c.check_id == check_id)
        if only_if_running:
            query = query.where(replay_checks.c.state == "running")
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                query.values(state="error", heartbeat_at=now, finished_at=now, error=error[:4000])
            )


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone: they are UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _view(row: Any) -> dict[str, Any]:
    view = {
        "check_id": row["check_id"],
        "state": row["state"],
        "requested_by": row["requested_by"],
        "started_at": _utc(row["started_at"]),
        "finished_at": _utc(row["finished_at"]),
        "heartbeat_at": _utc(row["heartbeat_at"]),
        "progress": {
            "events_replayed": row["events_replayed"],
            "events_total": row["events_total"],
        },
        "position": row["position"],
        "rows_compared": row["rows_compared"],
        "difference_count": row["difference_count"],
        "error": row["error"],
    }
    if "differences" in row:
        view["differences"] = row["differences"] or []
        view["differences_limit"] = KEPT_DIFFERENCES
    return view


# The process running one check ---------------------------------------------------------
def run_check(services: Any, check_id: UUID, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> bool:
    """Verify the read models, reporting progress as a heartbeat; record the result or the
    error. True if a result was recorded."""
    checks: ReplayChecks = services.replay_checks
    progress: list[Any] = [0, None]
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat_seconds):
            try:
                checks.heartbeat(check_id, *progress)
            except Exception as error:  # a missed beat is retried at the next; say why
                log.warning("replay check %s: heartbeat failed: %s", check_id, error)

    beating = threading.Thread(target=beat, name="replay-check-heartbeat", daemon=True)
    beating.start()
    try:
        report = verify_read_models(
            services,
            lambda replayed, total: progress.__setitem__(slice(None), [replayed, total]),
            scratch_name=scratch_name(check_id),
        )
    except BaseException as error:
        done.set()
        beating.join()
        if isinstance(error, SystemExit | KeyboardInterrupt):
            checks.finish_error(check_id, "interrupted: the service stopped while it ran")
            raise
        log.exception("replay check %s failed", check_id)
        checks.finish_error(check_id, f"{type(error).__name__}: {error}")
        return False
    done.set()
    beating.join()
    checks.finish(check_id, report)
    return True
