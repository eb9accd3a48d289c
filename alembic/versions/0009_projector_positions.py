"""each projector tracks its own position and failure; operators' skips; case-number series

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:00:00

The one position the read models shared ("read_models") becomes one row per projector, each
starting where the shared one stood. Case numbers come from a counter per kind and day from now
on: the series of the days that already have cases start after their highest number, so that a
serial never meets a random number handed out before.
"""

import sqlalchemy as sa

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SHARED = "read_models"
PROJECTORS = ("credit_file", "cases")  # service/bootstrap.py's projectors as of this revision
SERIES_CHARS = 10  # a prefix of two letters and the day, YYYYMMDD


def upgrade() -> None:
    with op.batch_alter_table("projection_tracking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_position", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("failed_event_type", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("failure", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "projection_skips",
        sa.Column("projector", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("skipped_by", sa.String(length=100), nullable=False),
        sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("projector", "position"),
    )
    op.create_table(
        "case_number_series",
        sa.Column("series", sa.String(length=20), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series"),
    )

    conn = op.get_bind()
    tracking = sa.table(
        "projection_tracking",
        sa.column("name", sa.String),
        sa.column("position", sa.BigInteger),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    shared = conn.execute(
        sa.select(tracking.c.position, tracking.c.updated_at).where(tracking.c.name == SHARED)
    ).first()
    if shared is not None:
        present = set(conn.execute(sa.select(tracking.c.name)).scalars())
        for name in PROJECTORS:
            if name not in present:
                conn.execute(
                    tracking.insert().values(
                        name=name, position=shared.position, updated_at=shared.updated_at
                    )
                )
        conn.execute(tracking.delete().where(tracking.c.name == SHARED))

    cases = sa.table("cases", sa.column("case_number", sa.String))
    highest: dict[str, int] = {}
    for number in conn.execute(sa.select(cases.c.case_number)).scalars():
        series, serial = number[:SERIES_CHARS], number[SERIES_CHARS:]
        if serial.isdigit():
            highest[series] = max(highest.get(series, 0), int(serial))
    if highest:
        op.bulk_insert(
            sa.table(
                "case_number_series",
                sa.column("series", sa.String),
                sa.column("last_serial", sa.Integer),
            ),
            [{"series": s, "last_serial": n} for s, n in sorted(highest.items())],
        )


def downgrade() -> None:
    conn = op.get_bind()
    tracking = sa.table(
        "projection_tracking",
        sa.column("name", sa.String),
        sa.column("position", sa.BigInteger),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    rows = conn.execute(
        sa.select(tracking.c.position, tracking.c.updated_at).where(tracking.c.name.in_(PROJECTORS))
    ).all()
    if rows:
        lowest = min(rows, key=lambda row: row.position)  # what every read model has
        conn.execute(tracking.delete().where(tracking.c.name.in_(PROJECTORS)))
        conn.execute(
            tracking.insert().values(
                name=SHARED, position=lowest.position, updated_at=lowest.updated_at
            )
        )
    op.drop_table("case_number_series")
    op.drop_table("projection_skips")
    with op.batch_alter_table("projection_tracking", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("failure")
        batch_op.drop_column("failed_event_type")
        batch_op.drop_column("failed_position")
