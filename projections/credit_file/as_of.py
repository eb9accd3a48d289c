"""Status on two time axes: what was known by a recorded time (`known_before`, the end of the
as-of day) about the day the rules are applied for (`on`, the valid day), under the policy in
force on that day.

Two ways to the same answer. `status_as_of` folds the subject's events with the projector's own
record logic: the reference, and the fallback. `status_from_history` reads the bitemporal
history the projector keeps (record revisions by stream version, stream versions by recorded
time): a few indexed queries, whatever the length of the stream.

On the valid axis: a record counts from its decision date (`evaluate`), is published within its
window, and a list exit, licence revocation or commitment outcome ends it on its own decision
date; a repair takes a record out from the day it was approved (so a day before that still
counts it), and the records resting on it (a list entry on its basis) with it; a revocation, a
revoking objection outcome and a correction are taken as they are known, for every day (they
say the record was void or wrong, not that it changed), and so is the lapse of a record
resting on a revoked one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from domain import publication
from domain.cases import CaseEvent
from domain.credit_status import RecordFact, conduct_horizon, evaluate
from domain.events import (
    CONDUCT_TYPES,
    RULE_INPUT_TYPES,
    RecordEvent,
    SubjectRegistered,
    traits_of,
)
from domain.policy import PolicyBook
from projections.credit_file.projector import CreditFileProjector
from projections.credit_file.published import published_on, standing_on
from projections.credit_file.queries import CENTS, record_fact, status_view
from projections.tables import record_revisions, subject_versions, subjects

MAX_VERSION = 2**31 - 1
OTHER_RULE_TYPES = tuple(t for t in RULE_INPUT_TYPES if t not in CONDUCT_TYPES)


# Asked at each evaluation of a status (the change projector evaluates one at each event).
@lru_cache(maxsize=4096)
def end_of_day(day: date, zone: tzinfo) -> datetime:
    """The first instant after `day` in the service's time zone, in UTC."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)


def known_events(
    events: Iterable[tuple[int, Any]], known_before: datetime
) -> Iterator[tuple[int, Any]]:
    """The events of one stream known before `known_before`: those up to the first recorded at
    or after it. A stream is known in order: were a writer's clock behind, its event still came
    after the ones before it."""
    for position, event in events:
        if event.timestamp >= known_before:
            return
        yield position, event


def fold(
    events: Iterable[tuple[int, Any]], policy: PolicyBook
) -> tuple[dict[str, Any] | None, dict[UUID, dict[str, Any]]]:
    """The subject row and its record rows, as the projector would have written them."""
    projector = CreditFileProjector(policy)
    subject: dict[str, Any] | None = None
    rows: dict[UUID, dict[str, Any]] = {}

    def resting_of(_: UUID) -> list[dict[str, Any]]:  # one subject's rows: all of them
        return [row for row in rows.values() if traits_of(row["type"]).rests_on is not None]

    for position, event in events:
        if isinstance(event, SubjectRegistered):
            subject = {
                "subject_id": event.originator_id,
                "kind": event.kind,
                "name": event.name,
                "code_masked": event.code_masked,
                "region_code": event.region_code,
                "sectors": list(event.sectors),
            }
        elif isinstance(event, RecordEvent):
            projector.apply_record(event, position, rows, rows.get)
        elif isinstance(event, CaseEvent):
            projector.apply_case_effect(event, rows.get)
        projector.follow_bases(event, rows.get, resting_of)
        if subject is not None:
            subject["version"], subject["last_position"] = event.originator_version, position
    return subject, rows


def status_as_of(
    events: Iterable[tuple[int, Any]],
    known_before: datetime,
    on: date,
    policy: PolicyBook,
    *,
    zone: tzinfo,
) -> dict[str, Any] | None:
    """The status on `on` from the events known before `known_before`, by folding them."""
    subject, rows = fold(known_events(events, known_before), policy)
    if subject is None:
        return None
    return status_of_fold(subject, rows, on, policy, zone=zone)


def status_of_fold(
    subject: dict[str, Any],
    rows: dict[UUID, dict[str, Any]],
    on: date,
    policy: PolicyBook,
    *,
    zone: tzinfo,
) -> dict[str, Any]:
    """The status on `on` of a subject and its record rows as `fold` gives them (a credit
    report reads the same rows for its record sections, so it folds once)."""
    day_ends = end_of_day(on, zone)
    every = [SimpleNamespace(**row) for row in rows.values()]
    standing = [row for row in every if publication.stands_on(row.state, row.repaired_at, day_ends)]
    counts: dict[str, int] = {}
    for row in standing:
        # decided by then (and, in force, active that day)
        if row.decision_date <= on and publication.published_on(
            on, row.publish_from, row.publish_until
        ):
            counts[row.family] = counts.get(row.family, 0) + 1
    facts = [record_fact(row) for row in standing if row.type in RULE_INPUT_TYPES]
    authorities = {str(row.record_id): row.authority_name for row in standing}
    return {
        **subject,
        "published_records": {"total": sum(counts.values()), "by_family": counts},
        **status_view(evaluate(facts, policy, on), authorities),
        "position": subject["last_position"],
        "evaluated_on": on,
    }


class NotInHistory(Exception):
    """The history does not (yet) hold this subject up to the time asked: fold its events."""


async def status_from_history(
    conn: AsyncConnection,
    subject_id: UUID,
    known_before: datetime,
    on: date,
    policy: PolicyBook,
    *,
    zone: tzinfo,
    next_recorded: Callable[[UUID, int], Awaitable[datetime | None]],
) -> dict[str, Any] | None:
    """`status_as_of`, from the history tables. `next_recorded(subject_id, version)` gives the
    recorded time of the subject's first stored event after `version` (None: there is none);
    it is asked only when every version the history holds was known before `known_before`, to
    tell whether an event not projected yet was known too. Raises NotInHistory when the answer
    needs events the history does not hold."""
    known_before = known_before.astimezone(UTC)
    versions = subject_versions.c
    # The first version recorded at or after the cut-off ends what was known before it.
    first_late = (
        select(func.min(versions.version))
        .where(versions.subject_id == subject_id, versions.recorded_at >= known_before)
        .scalar_subquery()
    )
    head = (
        select(versions.version, versions.position)
        .where(
            versions.subject_id == subject_id,
            versions.version < func.coalesce(first_late, MAX_VERSION),
        )
        .order_by(versions.version.desc())
        .limit(1)
        .subquery()
    )
    found = (
        await conn.execute(
            select(
                subjects.c.kind,
                subjects.c.name,
                subjects.c.code_masked,
                subjects.c.region_code,
                subjects.c.sectors,
                select(func.min(versions.version))
                .where(versions.subject_id == subject_id)
                .scalar_subquery()
                .label("first"),
                select(func.max(versions.version))
                .where(versions.subject_id == subject_id)
                .scalar_subquery()
                .label("last"),
                select(head.c.version).scalar_subquery().label("version"),
                select(head.c.position).scalar_subquery().label("position"),
            ).where(subjects.c.subject_id == subject_id)
        )
    ).first()

    async def unprojected_before(version: int) -> bool:
        # If the next event was recorded at or after the cut-off, no later one was known.
        recorded = await next_recorded(subject_id, version)
        return recorded is not None and recorded.astimezone(UTC) < known_before

    if found is None:  # no such subject, or not projected yet
        if await unprojected_before(0):
            raise NotInHistory(f"subject {subject_id} is not projected yet")
        return None
    if found.first != 1:
        raise NotInHistory(f"subject {subject_id} was projected before its history was kept")
    if found.version is None:  # registered at or after `known_before`
        return None
    if found.version == found.last and await unprojected_before(found.last):
        raise NotInHistory(f"subject {subject_id} has events before the cut-off not projected")
    return await _evaluate_revisions(
        conn,
        {
            "subject_id": subject_id,
            "kind": found.kind,
            "name": found.name,
            "code_masked": found.code_masked,
            "region_code": found.region_code,
            "sectors": found.sectors,
            "version": found.version,
            "last_position": found.position,
        },
        on,
        end_of_day(on, zone),
        policy,
    )


FACT_COLUMNS = (
    record_revisions.c.record_id,
    record_revisions.c.type,
    record_revisions.c.decision_date,
    record_revisions.c.severity,
    record_revisions.c.procedure,
    record_revisions.c.scheme,
    record_revisions.c.grade,
    record_revisions.c.score,
    record_revisions.c.valid_from,
    record_revisions.c.valid_until,
    record_revisions.c.list_type,
    record_revisions.c.basis,
    record_revisions.c.planned_end,
    record_revisions.c.basis_record_id,
    record_revisions.c.ended_on,
    record_revisions.c.due_date,
    record_revisions.c.publish_from,
    record_revisions.c.publish_until,
    record_revisions.c.authority_name,
)
# A conduct record has none of the other fields (no rating, list or commitment content, and
# nothing ends it): these columns, all in the index, make its fact.
CONDUCT_COLUMNS = (
    record_revisions.c.record_id,
    record_revisions.c.type,
    record_revisions.c.decision_date,
    record_revisions.c.severity,
    record_revisions.c.procedure,
    record_revisions.c.publish_from,
    record_revisions.c.publish_until,
)


async def _evaluate_revisions(
    conn: AsyncConnection,
    subject: dict[str, Any],
    on: date,
    day_ends: datetime,
    policy: PolicyBook,
) -> dict[str, Any]:
    revisions = record_revisions.c
    version = subject["version"]
    standing = and_(
        revisions.subject_id == subject["subject_id"],
        revisions.decision_date <= on,
        revisions.from_version <= version,
        or_(revisions.until_version.is_(None), revisions.until_version > version),
        standing_on(record_revisions, day_ends),
    )
    counts = {
        family: count
        for family, count in await conn.execute(
            select(revisions.family, func.count())
            .where(published_on(record_revisions, on, standing=standing))
            .group_by(revisions.family)
        )
    }
    others = list(
        await conn.execute(
            select(*FACT_COLUMNS).where(standing, revisions.type.in_(OTHER_RULE_TYPES))
        )
    )
    facts = [revision_fact(row) for row in others]
    authorities = {row[0]: row[-1] for row in others}
    # Older conduct can weigh only while published (the supervision tier) or as a list
    # entry's basis; each part comes from a range of the covering index.
    horizon = conduct_horizon(facts, policy, on)
    bases = [f.basis_record_id for f in facts if f.basis_record_id]
    conduct = and_(standing, revisions.type.in_(CONDUCT_TYPES))
    facts += [
        RecordFact(
            record_id=record_id,
            type=record_type,
            decision_date=decided,
            severity=severity,
            procedure=procedure,
            publish_from=publish_from,
            publish_until=publish_until,
        )
        for record_id, record_type, decided, severity, procedure, publish_from, publish_until in (
            await conn.execute(
                union_all(
                    select(*CONDUCT_COLUMNS).where(conduct, revisions.decision_date > horizon),
                    select(*CONDUCT_COLUMNS).where(
                        conduct,
                        revisions.decision_date <= horizon,
                        or_(
                            # `conduct` holds the test of standing already
                            published_on(record_revisions, on, standing=true()),
                            revisions.record_id.in_(bases),
                        ),
                    ),
                )
            )
        )
    ]
    return {
        **subject,
        "published_records": {"total": sum(counts.values()), "by_family": counts},
        **status_view(evaluate(facts, policy, on), authorities),
        "position": subject["last_position"],
        "evaluated_on": on,
    }


def revision_fact(row: Any) -> RecordFact:
    """A fact from a row of FACT_COLUMNS (unpacked by position: much cheaper than by name)."""
    (
        record_id,
        record_type,
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
        _,
    ) = row
    return RecordFact(
        record_id=record_id,
        type=record_type,
        decision_date=decision_date,
        severity=severity,
        procedure=procedure,
        scheme=scheme,
        grade=grade,
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
