"""replay checks run in the background, reported to auditors

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 06:20:00.000000
"""

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replay_checks",
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("events_total", sa.BigInteger(), nullable=True),
        sa.Column("events_replayed", sa.BigInteger(), nullable=False),
        sa.Column("rows_compared", sa.BigInteger(), nullable=True),
        sa.Column("difference_count", sa.BigInteger(), nullable=True),
        sa.Column("differences", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("check_id"),
    )
    with op.batch_alter_table("replay_checks", schema=None) as batch_op:
        batch_op.create_index(
            "replay_checks_one_running",
            ["state"],
            unique=True,
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        )
        batch_op.create_index("replay_checks_started", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replay_checks", schema=None) as batch_op:
        batch_op.drop_index("replay_checks_started")
        batch_op.drop_index("replay_checks_one_running")
    op.drop_table("replay_checks")
