"""The condition a page of the projections (a rebuild's: thousands of events) reads its stored
rows by: on PostgreSQL the keys go as one array, and it finds the rows an IN list finds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from sqlalchemy import delete, select

from projections.tables import projection_skips, told_statuses
from projections.writes import KEYS, AmongKeys, chunks, insert_rows, replace_rows

pytestmark = pytest.mark.integration

STORED = AmongKeys(
    lambda among: select(told_statuses.c.subject_id).where(among(told_statuses.c.subject_id))
)
SKIPPED = AmongKeys(
    lambda among: select(projection_skips.c.projector).where(among(projection_skips.c.projector))
)


def test_thousands_of_keys_find_the_rows_an_in_list_finds(services):
    stored = [uuid4() for _ in range(3000)]
    names = [f"projector-{n}" for n in range(40)]
    with services.write_engine.begin() as conn:
        insert_rows(
            conn,
            told_statuses,
            [
                {
                    "subject_id": s,
                    "evaluated_on": date(2026, 1, 1),
                    "version": 1,
                    "told": {},
                    "next_time_change": None,
                }
                for s in stored
            ],
        )
        insert_rows(
            conn,
            projection_skips,
            [
                {
                    "projector": name,
                    "position": 1,
                    "event_type": "T",
                    "reason": "r",
                    "skipped_by": "t",
                    "skipped_at": datetime.now(UTC),
                }
                for name in names
            ],
        )
    asked = stored[::2] + [uuid4() for _ in range(500)]  # half of them, and keys not stored
    try:
        with services.write_engine.connect() as conn:
            found = conn.execute(STORED.on(conn), {KEYS: asked}).scalars()
            assert sorted(found) == sorted(stored[::2])
            found = conn.execute(SKIPPED.on(conn), {KEYS: [*names[:5], "x"]})
            assert sorted(found.scalars()) == sorted(names[:5])
            assert not conn.execute(STORED.on(conn), {KEYS: []}).all()
            # the keys in chunks, as a page reads thousands of them
            found = [
                key
                for chunk in chunks(iter(asked), size=700)
                for key in conn.execute(STORED.on(conn), {KEYS: chunk}).scalars()
            ]
            assert sorted(found) == sorted(stored[::2])
            assert [len(chunk) for chunk in chunks(range(1500), size=700)] == [700, 700, 100]
    finally:
        with services.write_engine.begin() as conn:
            conn.execute(delete(told_statuses))
            conn.execute(delete(projection_skips))


def told(subject_id, version: int) -> dict:
    return {
        "subject_id": subject_id,
        "evaluated_on": date(2026, 1, version),
        "version": version,
        "told": {"grades": {"A": version}, "warnings": {}},
        "next_time_change": None if version % 2 else date(2026, 2, version),
    }


def test_replaced_rows_stand_as_given_one_or_many_stored_or_new(services):
    """A live page's one told status goes in one statement (PostgreSQL: no delete first); many
    go by a delete of their keys and a COPY; either way the table holds the rows as given."""
    from sqlalchemy import event

    stored, new = [uuid4() for _ in range(3)], [uuid4() for _ in range(2)]
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = services.write_engine
    try:
        with engine.begin() as conn:
            insert_rows(conn, told_statuses, [told(s, 1) for s in stored])
        event.listen(engine, "before_cursor_execute", seen)
        with engine.begin() as conn:
            replace_rows(conn, told_statuses, "subject_id", [told(stored[0], 2)])
            replace_rows(conn, told_statuses, "subject_id", [told(new[0], 3)])
        one_at_a_time = list(statements)
        with engine.begin() as conn:
            replace_rows(
                conn,
                told_statuses,
                "subject_id",
                [told(stored[1], 4), told(stored[2], 5), told(new[1], 6)],
            )
        event.remove(engine, "before_cursor_execute", seen)
        with engine.connect() as conn:
            rows = {
                row["subject_id"]: dict(row)
                for row in conn.execute(select(told_statuses)).mappings()
            }
        expected = [
            told(stored[0], 2),
            told(stored[1], 4),
            told(stored[2], 5),
            told(new[0], 3),
            told(new[1], 6),
        ]
        assert rows == {row["subject_id"]: row for row in expected}
        if engine.dialect.name == "postgresql":
            assert not any(s.lstrip().upper().startswith("DELETE") for s in one_at_a_time)
    finally:
        with engine.begin() as conn:
            conn.execute(delete(told_statuses))
