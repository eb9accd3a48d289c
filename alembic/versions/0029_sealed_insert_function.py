"""events and their seals inserted by one call on the server (PostgreSQL)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 12:00:00

An append's insert took seven round trips, five of them under the events table's EXCLUSIVE
lock: the transaction's start, the lock with the positions drawn, a COPY of the events and one
of their seals (two each), the commit. Every other writer of every process waits for that lock.
`credit_insert_sealed` does the same in one statement, its own transaction: it takes the lock
(the library's, with its timeout), reads the streams' last seals and goes on only where they
are the ones the caller hashed its links against (else it returns NULL, having written nothing,
and the caller seals under the lock as before), then tells the listeners, draws the positions
and the next leaf index, and inserts the events and their seals. The hashes are the caller's:
they are computed in one place (domain/integrity.py), before the lock.
"""

import sqlalchemy as sa

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

SIGNATURE = (
    "credit_insert_sealed(uuid[], bigint[], text[], bytea[], bytea[], bytea[], uuid[], "
    "bigint[], bytea[], text, text)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has one writer, which seals under its own transaction
    op.execute(
        sa.text("""
        CREATE OR REPLACE FUNCTION credit_insert_sealed(
            stream_ids uuid[], versions bigint[], topics text[], states bytea[],
            event_hashes bytea[], prev_hashes bytea[],
            followed_streams uuid[], followed_versions bigint[], followed_hashes bytea[],
            lock_timeout text, channel text
        ) RETURNS bigint[] LANGUAGE plpgsql AS $$
        DECLARE
            positions bigint[];
            next_leaf bigint;
        BEGIN
            PERFORM set_config('lock_timeout', lock_timeout, true);
            LOCK TABLE credit_events IN EXCLUSIVE MODE;
            IF EXISTS (
                SELECT 1
                FROM (
                    SELECT DISTINCT ON (s.stream_id) s.stream_id, s.version, s.event_hash
                    FROM event_seals AS s
                    WHERE s.stream_id = ANY(stream_ids)
                    ORDER BY s.stream_id, s.version DESC
                ) AS sealed
                FULL JOIN unnest(followed_streams, followed_versions, followed_hashes)
                    AS followed(stream_id, version, event_hash)
                    ON followed.stream_id = sealed.stream_id
                WHERE sealed.version IS DISTINCT FROM followed.version
                    OR sealed.event_hash IS DISTINCT FROM followed.event_hash
            ) THEN
                RETURN NULL;
            END IF;
            PERFORM pg_notify(channel, '');
            positions := ARRAY(
                SELECT nextval(pg_get_serial_sequence('credit_events', 'notification_id'))
                FROM generate_series(1, cardinality(stream_ids))
            );
            SELECT COALESCE(MAX(leaf_index), -1) + 1 INTO next_leaf FROM event_seals;
            INSERT INTO credit_events
                (notification_id, originator_id, originator_version, topic, state)
            SELECT * FROM unnest(positions, stream_ids, versions, topics, states);
            INSERT INTO event_seals
                (position, leaf_index, stream_id, version, event_hash, prev_hash)
            SELECT e.position, next_leaf + e.n - 1, e.stream_id, e.version, e.event_hash,
                e.prev_hash
            FROM unnest(positions, stream_ids, versions, event_hashes, prev_hashes)
                WITH ORDINALITY AS e(position, stream_id, version, event_hash, prev_hash, n);
            RETURN positions;
        END;
        $$
        """)
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(f"DROP FUNCTION IF EXISTS {SIGNATURE}"))
