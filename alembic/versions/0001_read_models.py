"""read models: subjects, records, projection tracking

Revision ID: 0001
Revises:
Create Date: 2026-11-23 03:27:48.164090
"""

import sqlalchemy as sa

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "records",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=30), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=True),
        sa.Column("authority_name", sa.String(length=200), nullable=False),
        sa.Column("authority_code", sa.String(length=18), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("publish_from", sa.Date(), nullable=True),
        sa.Column("publish_until", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("ended_by", sa.Uuid(), nullable=True),
        sa.Column("correction_count", sa.Integer(), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("list_type", sa.String(length=10), nullable=True),
        sa.Column("scheme", sa.String(length=40), nullable=True),
        sa.Column("grade", sa.String(length=4), nullable=True),
        sa.Column("score", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("records_subject_family", ["subject_id", "family"], unique=False)
        batch_op.create_index("records_subject_position", ["subject_id", "position"], unique=False)

    op.create_table(
        "subjects",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code_masked", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id"),
    )


def downgrade() -> None:
    op.drop_table("subjects")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("records_subject_position")
        batch_op.drop_index("records_subject_family")

    op.drop_table("records")
    op.drop_table("projection_tracking")
