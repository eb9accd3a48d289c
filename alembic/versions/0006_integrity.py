"""integrity: event seals (hash chain per stream, Merkle leaf index), Merkle nodes, signed
checkpoints and their keys; all append-only; existing events are sealed in position order

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 06:20:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = ("event_seals", "merkle_nodes", "checkpoints")
PROTECTED = ("credit_events", *APPEND_ONLY, "checkpoint_keys")


def upgrade() -> None:
    op.create_table(
        "event_seals",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event_hash", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("leaf_index"),
    )
    op.create_index("event_seals_stream", "event_seals", ["stream_id", "version"], unique=True)
    op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    op.create_table(
        "checkpoint_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    _seal_existing_events()
    if op.get_bind().dialect.name == "postgresql":
        _postgres_append_only()
    else:
        _sqlite_append_only()


def _seal_existing_events() -> None:
    """Events stored before seals existed get theirs now, in position order, as if written
    with them (the recorder seals every event from here on)."""
    from eventsourcing.persistence import StoredEvent

    from service.integrity.sealing import seal_rows

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    events, position_column = (
        ("credit_events", "notification_id")
        if postgres
        else (
            "stored_events",
            "rowid",
        )
    )
    seals = sa.table(
        "event_seals",
        *(sa.column(name) for name in ("position", "leaf_index", "stream_id", "version")),
        sa.column("event_hash"),
        sa.column("prev_hash"),
    )
    heads: dict = {}
    after, next_leaf = 0, 0
    while True:
        page = bind.execute(
            sa.text(
                f"SELECT {position_column}, originator_id, originator_version, topic, state "
                f"FROM {events} WHERE {position_column} > :after "
                f"ORDER BY {position_column} LIMIT 5000"
            ),
            {"after": after},
        ).all()
        if not page:
            return
        stored = [StoredEvent(row[1], row[2], row[3], bytes(row[4])) for row in page]
        rows = seal_rows(stored, [row[0] for row in page], heads, next_leaf)
        bind.execute(
            seals.insert(),
            [
                {
                    "position": position,
                    "leaf_index": leaf,
                    "stream_id": stream if postgres else stream.hex,
                    "version": version,
                    "event_hash": digest,
                    "prev_hash": prev,
                }
                for position, leaf, stream, version, digest, prev in rows
            ],
        )
        heads |= {row[2]: (row[3], row[4]) for row in rows}
        after, next_leaf = page[-1][0], next_leaf + len(rows)


def _postgres_append_only() -> None:
    for table in APPEND_ONLY:
        op.execute(
            sa.text(f"""
            CREATE TRIGGER {table}_append_only
            BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION credit_events_append_only()
        """)
        )
    # TRUNCATE fires no row trigger: a statement trigger refuses it, for the owner too.
    for table in ("credit_events", *APPEND_ONLY, "checkpoint_keys"):
        op.execute(
            sa.text(f"""
            CREATE TRIGGER {table}_no_truncate
            BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION credit_events_append_only()
        """)
        )
    op.execute(
        sa.text("""
        CREATE TRIGGER checkpoint_keys_kept
        BEFORE DELETE ON checkpoint_keys
        FOR EACH ROW EXECUTE FUNCTION credit_events_append_only()
    """)
    )
    # Triggers bind every role but a superuser; grants say the same to anyone who reads them,
    # and TRUNCATE, which fires no row trigger, is refused here.
    for table in PROTECTED:
        op.execute(sa.text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC"))


def _sqlite_append_only() -> None:
    message = "the integrity tables are append-only: UPDATE and DELETE are refused"
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                sa.text(f"""
                CREATE TRIGGER {table}_no_{action.lower()}
                BEFORE {action} ON {table}
                BEGIN SELECT RAISE(ABORT, '{message}'); END
            """)
            )
    op.execute(
        sa.text(f"""
        CREATE TRIGGER checkpoint_keys_no_delete
        BEFORE DELETE ON checkpoint_keys
        BEGIN SELECT RAISE(ABORT, '{message}'); END
    """)
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS credit_events_no_truncate ON credit_events"))
    for table in ("checkpoint_keys", "checkpoints", "merkle_nodes", "event_seals"):
        op.drop_table(table)
