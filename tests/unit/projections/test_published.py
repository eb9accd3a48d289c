""" "Published on day D" is one predicate: the SQL builder selects exactly the rows the Python
predicate says are published, over the records table and its history, and the publication
state a record list shows says "published" on the same days. "Standing on a past day" (the
as-of history's test) is one predicate too."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from sqlalchemy import select

from domain.publication import publication_state, published_on, stands_on
from projections.credit_file import published
from projections.tables import record_revisions, records
from service.store.database import Database
from service.store.read_store import sync_engine

pytestmark = pytest.mark.projections
EDGES = [None, date(2026, 1, 1), date(2026, 6, 1), date(2026, 12, 1)]
DAYS = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 5, 31), date(2026, 6, 1), date(2027, 1, 1)]
STATES = ("active", "revoked", "repaired", "lapsed")
APPROVED = [None, datetime(2026, 5, 31, 16, tzinfo=UTC)]  # when a repair was approved
ROWS = [
    (UUID(int=n), state, start, end, repaired_at)
    for n, (state, start, end, repaired_at) in enumerate(
        itertools.product(STATES, EDGES, EDGES, APPROVED), start=1
    )
]


@pytest.fixture
def engine(empty_sqlite: Database):
    database = empty_sqlite
    engine = sync_engine(database)
    common = {"subject_id": UUID(int=0), "type": "X", "family": "x", "authority_name": "支队"}
    with engine.begin() as conn:
        conn.execute(
            records.insert(),
            [
                {
                    **common,
                    "record_id": record_id,
                    "state": state,
                    "repaired_at": repaired_at,
                    "publish_from": start,
                    "publish_until": end,
                    "position": n,
                    "version": n,
                    "authority_code": "11410100MB00000018",
                    "source_ref": f"R-{n}",
                    "decision_date": date(2025, 1, 1),
                    "recorded_at": datetime(2025, 1, 1, tzinfo=UTC),
                    "recorded_by": "t",
                    "correction_count": 0,
                    "summary": "",
                    "details": {},
                }
                for n, (record_id, state, start, end, repaired_at) in enumerate(ROWS, start=1)
            ],
        )
        conn.execute(
            record_revisions.insert(),
            [
                {
                    **common,
                    "record_id": str(record_id),
                    "from_version": 1,
                    "state": state,
                    "repaired_at": repaired_at,
                    "publish_from": start,
                    "publish_until": end,
                    "decision_date": date(2025, 1, 1),
                }
                for record_id, state, start, end, repaired_at in ROWS
            ],
        )
    yield engine
    engine.dispose()


@pytest.mark.parametrize("day", DAYS)
def test_the_sql_builder_selects_what_the_predicate_says(engine, day):
    expected = {rid for rid, state, start, end, _ in ROWS if published_on(day, start, end, state)}
    with engine.connect() as conn:
        shown = set(
            conn.scalars(select(records.c.record_id).where(published.published_on(records, day)))
        )
        history = conn.scalars(
            select(record_revisions.c.record_id).where(
                published.published_on(record_revisions, day)
            )
        )
        assert shown == expected
        assert {UUID(rid) for rid in history} == expected


@pytest.mark.parametrize("day", DAYS)
def test_a_record_shows_as_published_exactly_when_it_is(day):
    for _, state, start, end, _ in ROWS:
        shown = publication_state(day, start, end, state) == "published"
        assert shown == published_on(day, start, end, state), (state, start, end)


@pytest.mark.parametrize("day", DAYS)
def test_the_sql_builder_of_standing_selects_what_the_predicate_says(engine, day):
    day_ends = datetime(day.year, day.month, day.day, 16, tzinfo=UTC)  # midnight in Beijing
    repair_approved = APPROVED[1]
    assert repair_approved is not None
    expected = {rid for rid, state, _, _, at in ROWS if stands_on(state, at, day_ends)}
    assert any(state == "lapsed" for rid, state, *_ in ROWS if rid in expected) == (
        day_ends <= repair_approved
    )
    with engine.connect() as conn:
        history = conn.scalars(
            select(record_revisions.c.record_id).where(
                published.standing_on(record_revisions, day_ends)
            )
        )
        assert {UUID(rid) for rid in history} == expected
