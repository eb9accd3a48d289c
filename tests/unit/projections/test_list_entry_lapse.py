"""A list entry lapses with the record it rests on, in the credit-file read model on SQLite and
PostgreSQL: out of publication from the moment its basis is repaired (state `lapsed`), back when
the repair is revoked, out on every day when the basis is revoked; its history says when; the
same rows whatever the paging (a rebuild), and the same as a fold of the events (as of a day)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, delete, select

from domain.cases import ObjectionResolved, RepairApproved, RepairRevoked
from domain.events import ListEntered, RecordCorrected, RecordRevoked
from projections.credit_file.as_of import fold
from projections.credit_file.projector import CreditFileProjector
from projections.credit_file.published import published_on
from projections.tables import record_revisions, records
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import stored_event
from tests.integration.readmodel import dump
from tests.unit.projections.test_credit_file_projector import (
    BOOK,
    COMMON,
    SUBJECT,
    penalty,
    registered,
)

pytestmark = pytest.mark.projections
TODAY = date(2026, 11, 20)
BASIS, OTHER, ENTRY = UUID(int=101), UUID(int=102), UUID(int=103)
APPROVED = datetime(2026, 11, 10, 2, tzinfo=UTC)
WITHDRAWN = datetime(2026, 11, 12, 2, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The read model on each backend (see tests/conftest.py), empty."""
    engine = sync_engine(Database.from_url(database_url))
    yield engine
    engine.dispose()


def case_step(step: type, version: int, at: datetime, target: UUID, **fields: Any) -> Any:
    return step(
        originator_id=SUBJECT,
        originator_version=version,
        timestamp=at,
        case_id=UUID(int=900),
        target_record_id=target,
        by=COMMON["authority_code"],
        reasons="r",
        **fields,
    )


def black_entry(version: int) -> ListEntered:
    return stored_event(
        ListEntered,
        **COMMON,
        originator_version=version,
        record_id=ENTRY,
        decision_date=date(2026, 6, 1),
        source_ref="L-1",
        list_type="black",
        basis="严重超限超载",
        planned_end=date(2029, 6, 1),
        basis_record_id=BASIS,
    )


def listed() -> list[Any]:
    return [
        registered(),
        penalty(2, BASIS, severity="serious"),
        penalty(3, OTHER),
        black_entry(4),
    ]


def project(engine: Engine, events: list[Any], first: int = 1, last: int | None = None) -> None:
    """One page: the events at log positions `first` to `last` (the log's are 1, 2, ...)."""
    page = events[first - 1 : last]
    with engine.begin() as conn:
        CreditFileProjector(BOOK).apply(conn, list(enumerate(page, start=first)))


def standing_of(engine: Engine, record_id: UUID) -> tuple[str, datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(records.c.state, records.c.repaired_at).where(records.c.record_id == record_id)
        ).one()
    return row.state, row.repaired_at.astimezone(UTC) if row.repaired_at else None


def published(engine: Engine) -> set[UUID]:
    with engine.connect() as conn:
        return set(conn.scalars(select(records.c.record_id).where(published_on(records, TODAY))))


def revisions_of(engine: Engine, record_id: UUID) -> list[tuple[int, int | None, str]]:
    with engine.connect() as conn:
        return [
            (r.from_version, r.until_version, r.state)
            for r in conn.execute(
                select(record_revisions)
                .where(record_revisions.c.record_id == str(record_id))
                .order_by(record_revisions.c.from_version)
            )
        ]


def rebuilt(engine: Engine, events: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """The read model from the whole log in one page, as `credit rebuild` leaves it."""
    with engine.begin() as conn:
        for table in reversed(CreditFileProjector.tables):
            conn.execute(delete(table))
    project(engine, events)
    return dump(engine)


def test_an_entry_lapses_with_its_repaired_basis_and_stands_again_with_it(engine):
    approved = case_step(RepairApproved, 5, APPROVED, BASIS)
    withdrawn = case_step(RepairRevoked, 6, WITHDRAWN, BASIS)  # false materials
    events = [*listed(), approved, withdrawn]
    project(engine, events, 1, 4)
    assert published(engine) == {BASIS, OTHER, ENTRY}
    project(engine, events, 5, 5)  # a later page: the entry is a stored row
    assert standing_of(engine, ENTRY) == ("lapsed", APPROVED)
    assert published(engine) == {OTHER}
    assert revisions_of(engine, ENTRY) == [(4, 5, "active"), (5, None, "lapsed")]

    project(engine, events, 6)
    assert standing_of(engine, ENTRY) == ("active", None)
    assert published(engine) == {BASIS, OTHER, ENTRY}
    assert revisions_of(engine, ENTRY)[-1] == (6, None, "active")

    live = dump(engine)
    assert rebuilt(engine, events) == live
    _, folded = fold(enumerate(events, start=1), BOOK)
    assert (folded[ENTRY]["state"], folded[ENTRY]["repaired_at"]) == ("active", None)


@pytest.mark.parametrize("how", ["RecordRevoked", "objection revoked"])
def test_an_entry_on_a_revoked_basis_lapses_on_every_day(engine, how):
    revoked: Any = (
        stored_event(
            RecordRevoked,
            **COMMON,
            originator_version=5,
            record_id=uuid4(),
            decision_date=date(2026, 11, 1),
            source_ref="R-1",
            target_record_id=BASIS,
            reason="复议撤销",
        )
        if how == "RecordRevoked"
        else case_step(ObjectionResolved, 5, APPROVED, BASIS, outcome="revoked", changes=None)
    )
    events = [*listed(), revoked]
    project(engine, events, 1, 4)
    project(engine, events, 5)
    assert standing_of(engine, ENTRY) == ("lapsed", None)  # no moment: void from the start
    assert published(engine) == {OTHER}
    assert rebuilt(engine, events) == dump(engine)


def test_a_correction_moves_the_lapse_with_the_basis_it_names(engine):
    """Corrected to rest on a record that stands, a lapsed entry stands again; its repaired
    basis keeps no hold on it."""
    approved = case_step(RepairApproved, 5, APPROVED, BASIS)
    moved = stored_event(
        RecordCorrected,
        **COMMON,
        originator_version=6,
        record_id=uuid4(),
        decision_date=TODAY,
        source_ref="C-1",
        target_record_id=ENTRY,
        changes={"basis_record_id": str(OTHER)},
        reason="更正认定依据",
    )
    events = [*listed(), approved, moved]
    project(engine, events, 1, 5)
    project(engine, events, 6)
    assert standing_of(engine, ENTRY) == ("active", None)
    assert published(engine) == {OTHER, ENTRY}
    assert revisions_of(engine, ENTRY) == [(4, 5, "active"), (5, 6, "lapsed"), (6, None, "active")]
    assert rebuilt(engine, events) == dump(engine)
