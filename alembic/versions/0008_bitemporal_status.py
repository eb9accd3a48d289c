"""bitemporal history for status as of a recorded time on a valid day: record revisions,
subject versions by recorded time, and when a record's repair was approved

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 06:30:00

The new tables start empty: subjects recorded before this migration are answered from a fold of
their events (correct, slower) until `credit rebuild` fills the history for them.
"""

import sqlalchemy as sa

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "record_revisions",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("until_version", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("procedure", sa.String(length=20), nullable=True),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("publish_from", sa.Date(), nullable=True),
        sa.Column("publish_until", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("list_type", sa.String(length=10), nullable=True),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("planned_end", sa.Date(), nullable=True),
        sa.Column("basis_record_id", sa.String(length=36), nullable=True),
        sa.Column("scheme", sa.String(length=40), nullable=True),
        sa.Column("grade", sa.String(length=4), nullable=True),
        sa.Column("score", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("authority_name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "from_version"),
    )
    with op.batch_alter_table("record_revisions", schema=None) as batch_op:
        batch_op.create_index(
            "record_revisions_published",
            [
                "subject_id",
                "family",
                "decision_date",
                "publish_from",
                "publish_until",
                "from_version",
                "until_version",
                "state",
                "repaired_at",
            ],
            unique=False,
        )
        batch_op.create_index(
            "record_revisions_by_type",
            [
                "subject_id",
                "type",
                "decision_date",
                "from_version",
                "until_version",
                "state",
                "repaired_at",
                "severity",
                "procedure",
                "publish_from",
                "publish_until",
                "record_id",
            ],
            unique=False,
        )

    op.create_table(
        "subject_versions",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "version"),
    )
    with op.batch_alter_table("subject_versions", schema=None) as batch_op:
        batch_op.create_index(
            "subject_versions_recorded_at", ["subject_id", "recorded_at", "version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_versions", schema=None) as batch_op:
        batch_op.drop_index("subject_versions_recorded_at")
    op.drop_table("subject_versions")
    with op.batch_alter_table("record_revisions", schema=None) as batch_op:
        batch_op.drop_index("record_revisions_by_type")
        batch_op.drop_index("record_revisions_published")
    op.drop_table("record_revisions")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("repaired_at")
