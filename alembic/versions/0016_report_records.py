"""the credit office's figures (三率): each licence's and penalty's timeliness and completeness

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 09:00:00

The tables start empty: their projector has no tracked position yet, so the runner builds them
from the start of the log, behind the credit file's read model, whose subjects it reads.
"""

import sqlalchemy as sa

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None
FIGURE_COLUMNS = (
    "authority_name",
    "timeliness_counted",
    "on_time",
    "correction_count",
    "fields_total",
    "complete",
    "missing_fields",
)


def upgrade() -> None:
    op.create_table(
        "report_records",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=30), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("authority_code", sa.String(length=18), nullable=False),
        sa.Column("authority_name", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("timeliness_counted", sa.Boolean(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("fields_filled", sa.Integer(), nullable=False),
        sa.Column("fields_total", sa.Integer(), nullable=False),
        sa.Column("missing_fields", sa.Text(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("correction_count", sa.Integer(), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("record_id"),
    )
    # Each index carries the columns the figures count, so a month of a province is read from
    # the index alone (PostgreSQL; SQLite has no INCLUDE).
    op.create_index(
        "report_records_authority",
        "report_records",
        ["authority_code", "decision_date"],
        postgresql_include=list(FIGURE_COLUMNS),
    )
    op.create_index(
        "report_records_region",
        "report_records",
        ["region_code", "decision_date"],
        postgresql_include=["authority_code", *FIGURE_COLUMNS],
    )
    op.create_index(
        "report_records_decided",
        "report_records",
        ["decision_date"],
        postgresql_include=["region_code", "authority_code", *FIGURE_COLUMNS],
    )
    op.create_table(
        "report_record_sectors",
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("sector", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "sector"),
    )


def downgrade() -> None:
    op.drop_table("report_record_sectors")
    op.drop_index("report_records_decided", table_name="report_records")
    op.drop_index("report_records_region", table_name="report_records")
    op.drop_index("report_records_authority", table_name="report_records")
    op.drop_table("report_records")
