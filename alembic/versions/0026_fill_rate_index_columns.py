"""the figures' indexes carry the indicator fields filled, which 填报率 sums

Revision ID: 0026
Revises: 0022
Create Date: 2026-12-05 22:00:00

填报率 (数据项填报率) sums each record's indicator fields filled and expected. Both counts are
kept per record since 0016 (`fields_filled`, `fields_total`, on the report rows and, since
0017, on their sector rows), so no row needs filling and no rebuild is needed; but the indexes
carried `fields_total` only, and a figure that also sums `fields_filled` would read every row
of the period from the heap. Each index is made again with it (PostgreSQL's INCLUDE; SQLite
keeps no included columns, and its indexes are the same as before).
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# The columns the indexes carried (0016, 0017), and those they carry now: as projections/tables.py
# declares them (REPORT_FIGURE_COLUMNS).
BEFORE = (
    "authority_name",
    "timeliness_counted",
    "on_time",
    "correction_count",
    "fields_total",
    "complete",
    "missing_fields",
)
AFTER = (
    "authority_name",
    "timeliness_counted",
    "on_time",
    "correction_count",
    "fields_filled",
    "fields_total",
    "complete",
    "missing_fields",
)


def _indexes(figure_columns: tuple[str, ...]) -> None:
    op.create_index(
        "report_records_authority",
        "report_records",
        ["authority_code", "decision_date"],
        postgresql_include=list(figure_columns),
    )
    op.create_index(
        "report_records_region",
        "report_records",
        ["region_code", "decision_date"],
        postgresql_include=["authority_code", *figure_columns],
    )
    op.create_index(
        "report_records_decided",
        "report_records",
        ["decision_date"],
        postgresql_include=["region_code", "authority_code", *figure_columns],
    )
    op.create_index(
        "report_record_sectors_decided",
        "report_record_sectors",
        ["decision_date"],
        postgresql_include=[
            "sector",
            "region_code",
            "authority_code",
            *(c for c in figure_columns if c != "authority_name"),
        ],
    )


def _drop() -> None:
    for name in ("report_records_authority", "report_records_region", "report_records_decided"):
        op.drop_index(name, table_name="report_records")
    op.drop_index("report_record_sectors_decided", table_name="report_record_sectors")


def upgrade() -> None:
    _drop()
    _indexes(AFTER)


def downgrade() -> None:
    _drop()
    _indexes(BEFORE)
