"""Queries over the credit-file read model (async; the API reads nothing else)."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    Date,
    Select,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import Pool, PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from domain import publication
from domain.credit_status import CreditStatus, RecordFact, evaluate
from domain.events import FOLLOW_UP_TYPES, RULE_INPUT_TYPES
from domain.policy import PolicyBook
from projections.credit_file.published import published_on
from projections.driver import statements_followed
from projections.tables import projection_tracking, records, subjects

READ_MODEL = "credit_file"  # the projector whose tables these queries read


async def tracked_position(conn: AsyncConnection, name: str = READ_MODEL) -> int:
    found = await conn.scalar(
        select(projection_tracking.c.position).where(projection_tracking.c.name == name)
    )
    return int(found or 0)


async def tracked_state(conn: AsyncConnection, names: tuple[str, ...]) -> tuple[int, list[str]]:
    """The lowest tracked position of these read models, and those of them that are stopped on
    a failure (an operator must resume them before they move on)."""
    rows = (
        await conn.execute(
            select(
                projection_tracking.c.name,
                projection_tracking.c.position,
                projection_tracking.c.failed_position,
            ).where(projection_tracking.c.name.in_(names))
        )
    ).all()
    found = {row.name: row for row in rows}
    position = min((int(found[n].position) if n in found else 0 for n in names), default=0)
    stopped = [n for n in names if n in found and found[n].failed_position is not None]
    return position, stopped


async def subject_exists(conn: AsyncConnection, subject_id: UUID) -> bool:
    found = await conn.scalar(select(subjects.c.version).where(subjects.c.subject_id == subject_id))
    return found is not None


CENTS = Decimal("0.01")


async def masked_codes(conn: AsyncConnection, subject_ids: Sequence[UUID]) -> dict[UUID, str]:
    """Each known subject's code as every answer shows it (an ID number masked:
    410105********1234); unknown ids are absent."""
    rows = await conn.execute(
        select(subjects.c.subject_id, subjects.c.code_masked).where(
            subjects.c.subject_id.in_(list(subject_ids))
        )
    )
    return {row.subject_id: row.code_masked for row in rows}


# The rule inputs' type names written into the statement: a list of values would be an
# expanding parameter, rendered into the SQL again at every execution. They are identifiers
# (event class names), so quoting them is all it takes.
assert all(name.isidentifier() for name in RULE_INPUT_TYPES)
_RULE_INPUT_LITERALS: list[Any] = [literal_column(f"'{name}'") for name in sorted(RULE_INPUT_TYPES)]


def _status_statement(*, one: bool, array: bool = False) -> Select[*tuple[Any, ...]]:
    """Built once: constructing the expression per request cost more than running it. `today`
    and the subject ids are bound at execution; the compiled form is cached by SQLAlchemy. For
    one subject (`one`: the `subject_id` parameter) the id is compared, not listed: an expanding
    list is rendered into the SQL again at every execution, a tenth of a status read's CPU.
    `array`: several ids bound as one PostgreSQL array (`= ANY`), for the driver's own
    prepared statement (`_driver_rows`)."""
    today = bindparam("today", type_=Date)
    tracked = (
        select(projection_tracking.c.position)
        .where(projection_tracking.c.name == READ_MODEL)
        .scalar_subquery()
    )
    relevant = and_(
        records.c.subject_id == subjects.c.subject_id,
        records.c.state == "active",
        # the rows the rules read (follow-ups are already folded into them), and those published
        or_(records.c.type.in_(_RULE_INPUT_LITERALS), published_on(records, today)),
    )
    return (
        select(
            # in the order `_status_rows` unpacks them
            subjects.c.subject_id,
            subjects.c.kind,
            subjects.c.name,
            subjects.c.code_masked,
            subjects.c.region_code,
            # as its JSON text: every record row repeats it, and it is read once a subject
            cast(subjects.c.sectors, Text).label("sectors"),
            subjects.c.version,
            subjects.c.position,
            tracked.label("tracked"),
            records.c.record_id,
            records.c.type,
            records.c.family,
            records.c.severity,
            records.c.list_type,
            records.c.scheme,
            records.c.grade,
            records.c.score,
            records.c.valid_from,
            records.c.valid_until,
            records.c.decision_date,
            records.c.ended_on,
            records.c.authority_name,
            records.c.publish_from,
            records.c.publish_until,
            records.c.procedure,
            records.c.basis,
            records.c.planned_end,
            records.c.basis_record_id,
            records.c.due_date,
        )
        .select_from(subjects.outerjoin(records, relevant))
        .where(
            subjects.c.subject_id == bindparam("subject_id")
            if one
            else (
                subjects.c.subject_id == any_(bindparam("subject_ids", type_=ARRAY(Uuid)))
                if array
                else subjects.c.subject_id.in_(bindparam("subject_ids", expanding=True))
            )
        )
        .order_by(records.c.decision_date, records.c.position)
    )


STATUS_STATEMENT = _status_statement(one=False)
ONE_STATUS_STATEMENT = _status_statement(one=True)
ARRAY_STATUS_STATEMENT = _status_statement(one=False, array=True)


class DriverStatement:
    """A status statement as SQLAlchemy renders it for asyncpg, run on asyncpg's connection
    itself: SQLAlchemy's execution context and result layer cost a status read more than the
    query. The rows are the same: the SQL is SQLAlchemy's own, and on asyncpg no column of
    the statement has a result processor (the JSON columns are decoded by the codec SQLAlchemy
    sets on each connection, with the engine's deserializer): tests/integration/
    test_status_driver_rows.py holds the rows and the answers to SQLAlchemy's."""

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        names = list(dict.fromkeys(compiled.positiontup or ()))
        self.names = names  # in the order of their $n
        self.fixed = {
            name: compiled.binds[name].effective_value
            for name in names
            if name not in ("today", "subject_id", "subject_ids")
        }

    def arguments(self, given: dict[str, Any]) -> list[Any]:
        return [given[name] if name in given else self.fixed[name] for name in self.names]


_DRIVER_STATEMENTS: dict[bool, DriverStatement] = {}


async def _status_rows(
    conn: AsyncConnection, wanted: list[UUID], today: date
) -> Iterable[Sequence[Any]]:
    """The status statement's rows, in its columns' order."""
    if conn.dialect.driver == "asyncpg" and not statements_followed(conn.sync_engine):
        return await _driver_rows(conn, wanted, today)
    if len(wanted) == 1:
        return await conn.execute(ONE_STATUS_STATEMENT, {"today": today, "subject_id": wanted[0]})
    return await conn.execute(STATUS_STATEMENT, {"today": today, "subject_ids": wanted})


def _values(wanted: list[UUID], today: date) -> dict[str, Any]:
    """The status statement's parameters for `wanted`: one id, or an array of them."""
    if len(wanted) == 1:
        return {"today": today, "subject_id": wanted[0]}
    return {"today": today, "subject_ids": wanted}


async def _fetched_on_driver(
    driver: Any, dialect: Any, wanted: list[UUID], today: date
) -> list[Any] | None:
    """The status statement's rows read on asyncpg's connection itself; None where the
    connection turns out lost. Any other error is the driver's, which SQLAlchemy's carries as
    its cause."""
    one = len(wanted) == 1
    statement = _DRIVER_STATEMENTS.get(one)
    if statement is None:
        statement = DriverStatement(
            ONE_STATUS_STATEMENT if one else ARRAY_STATUS_STATEMENT, dialect
        )
        _DRIVER_STATEMENTS[one] = statement
    try:
        # asyncpg prepares the statement once per connection and keeps it
        rows: list[Any] = await driver.fetch(
            statement.sql, *statement.arguments(_values(wanted, today))
        )
    except Exception:
        if not driver.is_closed():
            raise
        return None
    return rows


async def _driver_rows(
    conn: AsyncConnection, wanted: list[UUID], today: date
) -> Iterable[Sequence[Any]]:
    synced = conn.sync_connection
    if synced is not None and not synced.invalidated:
        pooled = synced.connection  # checked out when the connection was opened: no I/O
    else:
        pooled = await conn.get_raw_connection()
    driver = pooled.driver_connection
    assert driver is not None
    rows = await _fetched_on_driver(driver, conn.dialect, wanted, today)
    if rows is None:
        # The connection is lost: SQLAlchemy's own execution meets the closed connection,
        # drops it and the pool's older ones, and raises its error for it, as it did before.
        statement = ONE_STATUS_STATEMENT if len(wanted) == 1 else ARRAY_STATUS_STATEMENT
        return await conn.execute(statement, _values(wanted, today))
    return rows


async def statuses_from_pool(
    engine: AsyncEngine, subject_ids: Sequence[UUID], today: date, policy: PolicyBook
) -> tuple[dict[UUID, dict[str, Any]], int]:
    """`statuses` on a connection of `engine`'s pool. On asyncpg the statement runs on the
    pool's own connection, checked out without SQLAlchemy's `Connection` around it: opening
    and closing one cost a status read some 40 µs of CPU, a sixth of its query's share, where
    the pool's checkout alone costs a third of that. Where SQLAlchemy's execution is wanted
    (another driver, statements followed), or this path meets an error SQLAlchemy would wrap
    or a lost connection, `statuses` answers on a `Connection` as before: it answers from
    another connection, or raises SQLAlchemy's error (and drops the pool's older ones)."""
    if engine.dialect.driver != "asyncpg" or statements_followed(engine.sync_engine):
        return await _statuses_on_connection(engine, subject_ids, today, policy)
    wanted = list(dict.fromkeys(subject_ids))
    try:
        pooled = await engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error:
        return await _statuses_on_connection(engine, subject_ids, today, policy)
    try:
        rows = await _fetched_on_driver(pooled.driver_connection, engine.dialect, wanted, today)
        if rows is None:
            pooled.invalidate()  # lost: not handed out again (ended at once, without I/O)
    finally:
        await _given_back(pooled, engine.pool)
    if rows is None:
        return await _statuses_on_connection(engine, subject_ids, today, policy)
    result, position = _folded(rows, today, policy)
    if position is None:  # no subject found: the position from the tracking table
        async with engine.connect() as conn:
            position = await tracked_position(conn)
    return result, position


async def _given_back(pooled: PoolProxiedConnection, pool: Pool) -> None:
    """`pooled` given back to its pool. Where the pool keeps it (a queue pool not full, as the
    read pool always is: it has no overflow), giving it back does no I/O and is done here, in
    a few µs. Where the pool may close it instead (full, or a pool that keeps none), closing an
    asyncpg connection awaits the driver, which only works from within SQLAlchemy's greenlet:
    outside one the close failed, was logged as an error, and left the connection to the
    garbage collector."""
    if isinstance(pool, QueuePool) and pool.checkedin() < pool.size():
        pooled.close()
    else:
        await greenlet_spawn(pooled.close)


async def _statuses_on_connection(
    engine: AsyncEngine, subject_ids: Sequence[UUID], today: date, policy: PolicyBook
) -> tuple[dict[UUID, dict[str, Any]], int]:
    async with engine.connect() as conn:
        return await statuses(conn, subject_ids, today, policy)


async def statuses(
    conn: AsyncConnection, subject_ids: Sequence[UUID], today: date, policy: PolicyBook
) -> tuple[dict[UUID, dict[str, Any]], int]:
    """Current status of each known subject among `subject_ids` (unknown ones are absent), and
    the log position the read models had reached: one round trip, whatever the count. Grades,
    lists, tier and warnings are evaluated here, on the day asked, so that expiry needs no event."""
    result, position = _folded(
        await _status_rows(conn, list(dict.fromkeys(subject_ids)), today), today, policy
    )
    if position is None:
        position = await tracked_position(conn)
    return result, position


def _folded(
    rows: Iterable[Sequence[Any]], today: date, policy: PolicyBook
) -> tuple[dict[UUID, dict[str, Any]], int | None]:
    """Each subject's status from the status statement's rows, and the tracked position they
    carry (None without a row)."""
    result: dict[UUID, dict[str, Any]] = {}
    facts: dict[UUID, list[RecordFact]] = {}
    authorities: dict[str, str] = {}
    position = None
    subject_facts: list[RecordFact] = []
    for (
        subject_id,
        kind,
        name,
        code_masked,
        region_code,
        sectors,
        version,
        last_position,
        tracked,
        record_id,
        type_,
        family,
        severity,
        list_type,
        scheme,
        grade,
        score,
        valid_from,
        valid_until,
        decision_date,
        ended_on,
        authority_name,
        publish_from,
        publish_until,
        procedure,
        basis,
        planned_end,
        basis_record_id,
        due_date,
    ) in rows:
        position = tracked
        status = result.get(subject_id)
        if status is None:
            subject_facts = facts[subject_id] = []
            status = result[subject_id] = {
                "subject_id": subject_id,
                "kind": kind,
                "name": name,
                "code_masked": code_masked,
                "region_code": region_code,
                "sectors": json.loads(sectors),
                "version": version,
                "last_position": last_position,
                "published_records": {"total": 0, "by_family": {}},
            }
        else:
            subject_facts = facts[subject_id]
        if record_id is None:
            continue
        # the row is active (the join takes no other)
        if publication.published_on(today, publish_from, publish_until):
            counts = status["published_records"]
            by_family = counts["by_family"]
            by_family[family] = by_family.get(family, 0) + 1
            counts["total"] += 1
        if type_ in RULE_INPUT_TYPES:
            key = str(record_id)
            authorities[key] = authority_name
            subject_facts.append(
                fact(
                    key,
                    type_,
                    decision_date,
                    severity,
                    procedure,
                    scheme,
                    grade,
                    score,
                    valid_from,
                    valid_until,
                    list_type,
                    basis,
                    planned_end,
                    basis_record_id,
                    ended_on,
                    due_date,
                    publish_from,
                    publish_until,
                )
            )
    for subject_id, status in result.items():
        status.update(status_view(evaluate(facts[subject_id], policy, today), authorities))
    return result, None if position is None else int(position)


async def published_counts_by_severity(
    conn: AsyncConnection, subject_ids: Sequence[UUID], today: date
) -> dict[UUID, dict[str, int]]:
    """Records published today per subject and severity (minor, general, serious), for the
    records that have one; a subject with none is absent. One round trip, whatever the count."""
    rows = await conn.execute(
        select(records.c.subject_id, records.c.severity, func.count())
        .where(
            records.c.subject_id.in_(list(dict.fromkeys(subject_ids))),
            records.c.severity.is_not(None),
            published_on(records, today),
        )
        .group_by(records.c.subject_id, records.c.severity)
    )
    counts: dict[UUID, dict[str, int]] = {}
    for subject_id, severity, count in rows:
        counts.setdefault(subject_id, {})[severity] = int(count)
    return counts


def record_fact(row: Any) -> RecordFact:
    return fact(
        str(row.record_id),
        row.type,
        row.decision_date,
        row.severity,
        row.procedure,
        row.scheme,
        row.grade,
        row.score,
        row.valid_from,
        row.valid_until,
        row.list_type,
        row.basis,
        row.planned_end,
        row.basis_record_id,
        row.ended_on,
        row.due_date,
        row.publish_from,
        row.publish_until,
    )


def fact(
    record_id: str,
    type_: str,
    decision_date: date,
    severity: str | None,
    procedure: str | None,
    scheme: str | None,
    grade: str | None,
    score: Any,
    valid_from: date | None,
    valid_until: date | None,
    list_type: str | None,
    basis: str | None,
    planned_end: date | None,
    basis_record_id: str | None,
    ended_on: date | None,
    due_date: date | None,
    publish_from: date | None,
    publish_until: date | None,
) -> RecordFact:
    """What the rules know of a record row (its columns)."""
    return RecordFact(
        record_id=record_id,
        type=type_,
        decision_date=decision_date,
        severity=severity,
        procedure=procedure,
        scheme=scheme,
        grade=grade,
        # as the score column stores it, so a fold of events and a read of rows agree
        score=Decimal(score).quantize(CENTS) if score is not None else None,
        valid_from=valid_from,
        valid_until=valid_until,
        list_type=list_type,
        basis=basis,
        planned_end=planned_end,
        basis_record_id=basis_record_id,
        ended_on=ended_on,
        due_date=due_date,
        publish_from=publish_from,
        publish_until=publish_until,
    )


def status_view(status: CreditStatus, authorities: dict[str, str]) -> dict[str, Any]:
    return {
        "policy_version": status.policy_version,
        "grades": [
            {
                "scheme": g.scheme,
                "grade": g.grade,
                "score": g.value,
                "valid_from": g.valid_from,
                "valid_until": g.valid_until,
                "record_id": g.base_record_id,
                "authority_name": authorities.get(g.base_record_id, ""),
                "base_grade": g.base_grade,
                "base_score": g.base_value,
                "adjustments": [
                    {"record_id": a.record_id, "amount": a.amount, "rule": a.rule}
                    for a in g.adjustments
                ],
                "capped_by": g.capped_by,
                "forced_by": g.forced_by,
            }
            for g in sorted(status.grades, key=lambda g: g.scheme)
        ],
        "lists": [
            {
                "list_type": m.list_type,
                "entered_on": m.entered_on,
                "basis": m.basis,
                "planned_end": m.planned_end,
                "record_id": m.record_id,
                "authority_name": authorities.get(m.record_id or ""),
                "derived": m.derived,
            }
            for m in status.lists
        ],
        "supervision": {"tier": status.tier, "sampling_ratio": status.sampling_ratio},
        "warnings": [
            {"kind": w.kind, "detail": w.detail, "record_id": w.record_id} for w in status.warnings
        ],
    }


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Raises ValueError for a cursor this service did not hand out."""
    padded = cursor + "=" * (-len(cursor) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict) or not isinstance(value.get("p"), int):
        raise ValueError("not a cursor")
    if not 0 <= value["p"] < 2**63:  # positions are 64-bit: anything else was never handed out
        raise ValueError("not a cursor")
    return int(value["p"])


async def record_page(
    conn: AsyncConnection,
    subject_id: UUID,
    today: date,
    *,
    include_unpublished: bool,
    after_position: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a subject's records, newest recorded first, with each one's publication state."""
    query = select(records).where(records.c.subject_id == subject_id)
    if include_unpublished:
        # follow-ups show in the record they act on, not on their own
        query = query.where(records.c.type.not_in(FOLLOW_UP_TYPES))
    else:
        query = query.where(published_on(records, today))
    if after_position is not None:
        query = query.where(records.c.position < after_position)
    rows = list(
        (await conn.execute(query.order_by(records.c.position.desc()).limit(limit + 1))).mappings()
    )
    next_after = rows[limit - 1]["position"] if len(rows) > limit else None
    return [_record_view(row, today) for row in rows[:limit]], next_after


async def records_by_id(
    conn: AsyncConnection, subject_id: UUID, record_ids: Collection[UUID], today: date
) -> list[dict[str, Any]]:
    """These records of the subject, as the read model has them (one not projected yet is
    missing), latest decision first."""
    if not record_ids:
        return []
    query = (
        select(records)
        .where(records.c.subject_id == subject_id, records.c.record_id.in_(list(record_ids)))
        .order_by(records.c.decision_date.desc(), records.c.position.desc())
    )
    return [_record_view(row, today) for row in (await conn.execute(query)).mappings()]


def publication_state(row: Any, today: date) -> str:
    return publication.publication_state(
        today, row["publish_from"], row["publish_until"], row["state"]
    )


def _utc(moment: datetime) -> datetime:
    """SQLite keeps no time zone: its timestamps come back naive, and they were stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record_view(row: Any, today: date) -> dict[str, Any]:
    return {
        "record_id": row["record_id"],
        "type": row["type"],
        "family": row["family"],
        "severity": row["severity"],
        "summary": row["summary"],
        "decision_date": row["decision_date"],
        "recorded_at": _utc(row["recorded_at"]),
        "authority": {"name": row["authority_name"], "code": row["authority_code"]},
        "source_ref": row["source_ref"],
        "publication": {
            "state": publication_state(row, today),
            "from": row["publish_from"],
            "until": row["publish_until"],
        },
        "corrected": row["correction_count"] > 0,
        "objection": (
            {"case_number": row["objection_case"], "label": "异议处理中"}
            if row["objection_case"]
            else None
        ),
        "ended_on": row["ended_on"],
        "details": row["details"],
        "position": row["position"],
    }
