"""case numbers name their subject's stream: steps on a case are decided on that stream, not
on the cases read model

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00

Cases filed before this revision are found in the event store itself (every filing event
carries its number), not in the read model, which may be behind it. One read of the filing
events, once. Were a number ever filed twice (events appended around the case desk), the first
filing keeps it, as the cases read model keeps it.
"""

import json
import uuid

import sqlalchemy as sa

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The event store's table on each backend (the eventsourcing library's names), and the order
# in which its rows were written.
EVENTS = {"postgresql": ("credit_events", "notification_id"), "sqlite": ("stored_events", "rowid")}
FILINGS = ("credit:RepairApplied", "credit:ObjectionFiled")  # domain/cases.py's stable topics


def upgrade() -> None:
    op.create_table(
        "case_streams",
        sa.Column("case_number", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("case_number"),
    )
    conn = op.get_bind()
    table, order = EVENTS[conn.dialect.name]
    filings = conn.execute(
        sa.text(
            f"SELECT originator_id, state FROM {table} WHERE topic IN :topics ORDER BY {order}"
        ).bindparams(sa.bindparam("topics", expanding=True)),
        {"topics": list(FILINGS)},
    )
    streams: dict[str, uuid.UUID] = {}
    for originator_id, state in filings:
        number = json.loads(bytes(state))["case_number"]
        streams.setdefault(number, uuid.UUID(str(originator_id)))
    if streams:
        op.bulk_insert(
            sa.table(
                "case_streams",
                sa.column("case_number", sa.String),
                sa.column("subject_id", sa.Uuid),
            ),
            [{"case_number": n, "subject_id": s} for n, s in streams.items()],
        )


def downgrade() -> None:
    op.drop_table("case_streams")
