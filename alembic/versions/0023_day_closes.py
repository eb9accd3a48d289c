"""the next day on which time alone may change what a subject's status told

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 22:00:00

A day's close (`DayClosed`, recorded by `credit worker` and `credit close-day`) evaluates the
subjects whose status time alone may change on its day, found by `told_statuses.next_time_change`;
and a list entry reaching its planned end is now told as leaving its list. The rows derived so far
have no next day and lack those changes, so the changes projector's tracked position is reset and
its read models derived again from the start of the log (a change's id follows from the log, so
the changes told before keep theirs).
"""

import sqlalchemy as sa

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("told_statuses") as batch:
        batch.add_column(sa.Column("next_time_change", sa.Date(), nullable=True))
    op.create_index("told_statuses_next_time_change", "told_statuses", ["next_time_change"])
    op.execute("DELETE FROM changes")
    op.execute("DELETE FROM told_statuses")
    op.execute("DELETE FROM projection_tracking WHERE name = 'changes'")


def downgrade() -> None:
    op.drop_index("told_statuses_next_time_change", table_name="told_statuses")
    with op.batch_alter_table("told_statuses") as batch:
        batch.drop_column("next_time_change")
