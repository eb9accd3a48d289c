"""the sector rows of the credit office's figures carry what the figures count

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 09:00:00

A figure by sector joined each record of the period to its sectors: a month of a province took
1.0 to 1.5 s where by authority it took under half a second. Each sector row now carries its
report row's columns that select and count it, filled here from the report rows (the projector
keeps them equal from now on), so a figure by sector reads an index range of that table alone.
"""

import sqlalchemy as sa

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None
# The carried columns, as projections/tables.py declares them; `complete` is NULL for a type
# the standard names no fields of.
CARRIED = (
    sa.Column("authority_code", sa.String(length=18), nullable=False),
    sa.Column("region_code", sa.String(length=6), nullable=False),
    sa.Column("decision_date", sa.Date(), nullable=False),
    sa.Column("timeliness_counted", sa.Boolean(), nullable=False),
    sa.Column("on_time", sa.Boolean(), nullable=False),
    sa.Column("days_late", sa.Integer(), nullable=False),
    sa.Column("correction_count", sa.Integer(), nullable=False),
    sa.Column("fields_filled", sa.Integer(), nullable=False),
    sa.Column("fields_total", sa.Integer(), nullable=False),
    sa.Column("missing_fields", sa.Text(), nullable=False),
    sa.Column("complete", sa.Boolean(), nullable=True),
)
INDEX_INCLUDES = [
    "sector",
    "region_code",
    "authority_code",
    "timeliness_counted",
    "on_time",
    "correction_count",
    "fields_total",
    "complete",
    "missing_fields",
]


def upgrade() -> None:
    names = [column.name for column in CARRIED]
    # Added as NULL-able, filled from the report rows, then required.
    with op.batch_alter_table("report_record_sectors") as batch:
        for column in CARRIED:
            batch.add_column(sa.Column(column.name, column.type, nullable=True))
    op.execute(
        f"UPDATE report_record_sectors SET ({', '.join(names)}) = "
        f"(SELECT {', '.join(f'r.{name}' for name in names)} FROM report_records AS r "
        "WHERE r.record_id = report_record_sectors.record_id)"
    )
    with op.batch_alter_table("report_record_sectors") as batch:
        for column in CARRIED:
            if not column.nullable:
                batch.alter_column(column.name, existing_type=column.type, nullable=False)
    op.create_index(
        "report_record_sectors_decided",
        "report_record_sectors",
        ["decision_date"],
        postgresql_include=INDEX_INCLUDES,
    )


def downgrade() -> None:
    op.drop_index("report_record_sectors_decided", table_name="report_record_sectors")
    with op.batch_alter_table("report_record_sectors") as batch:
        for column in CARRIED:
            batch.drop_column(column.name)
