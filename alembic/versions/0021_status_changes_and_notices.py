"""what a subject's status told last, notices to stop using a repaired or revoked record, and
their acknowledgements

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 04:00:00

The changes projector now derives grades, warnings and lapsed list entries, and keeps what each
subject's status told last in `told_statuses`; the changes derived so far lack those kinds, so
its tracked position is reset and the changes are derived again from the start of the log (their
ids follow from the log, so the changes told before keep theirs). `notices` is the notices
projector's read model, derived from its start too. `notice_acknowledgements` holds what the
agencies wrote: no rebuild empties it.
"""

import sqlalchemy as sa

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "told_statuses",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("evaluated_on", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("told", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id"),
    )
    op.execute("DELETE FROM changes")
    op.execute("DELETE FROM projection_tracking WHERE name = 'changes'")
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    op.create_index("notices_client", "notices", ["client_id", "position"])
    op.create_index("notices_case", "notices", ["case_id"])
    op.create_index("notices_record", "notices", ["record_id", "position"])
    op.create_table(
        "notice_acknowledgements",
        sa.Column("notice_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notice_id"),
    )


def downgrade() -> None:
    op.drop_table("notice_acknowledgements")
    op.drop_index("notices_record", table_name="notices")
    op.drop_index("notices_case", table_name="notices")
    op.drop_index("notices_client", table_name="notices")
    op.drop_table("notices")
    op.drop_table("told_statuses")
