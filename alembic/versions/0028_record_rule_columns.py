"""a record row keeps the detail fields the status rules read as columns of its own

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 10:00:00

A status read evaluated each record row's facts from its `details` JSON: the whole record
(facts, legal basis, content), some hundreds of bytes to a few kilobytes, sent and decoded for
five fields. The record row now keeps those five as columns, as its revisions do
(`record_revisions`): the procedure, a list entry's basis, planned end and basis record, a
commitment's due date. The projector writes them from the details it writes; the rows already
there are filled here from their own details by one statement, so no rebuild is needed.
"""

from typing import Any

import sqlalchemy as sa

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "procedure": sa.String(length=20),
    "basis": sa.Text(),
    "planned_end": sa.Date(),
    "basis_record_id": sa.String(length=36),
    "due_date": sa.Date(),
}

# Each column from its detail field, as the projector reads it: the text, a day as a date; an
# absent or null field, or an empty day, leaves it NULL.
FILL = {
    "postgresql": (
        "UPDATE records SET procedure = details->>'procedure', basis = details->>'basis', "
        "planned_end = NULLIF(details->>'planned_end', '')::date, "
        "basis_record_id = details->>'basis_record_id', "
        "due_date = NULLIF(details->>'due_date', '')::date"
    ),
    # SQLAlchemy keeps a SQLite date as its ISO text, which the details hold already.
    "sqlite": (
        "UPDATE records SET procedure = json_extract(details, '$.procedure'), "
        "basis = json_extract(details, '$.basis'), "
        "planned_end = NULLIF(json_extract(details, '$.planned_end'), ''), "
        "basis_record_id = json_extract(details, '$.basis_record_id'), "
        "due_date = NULLIF(json_extract(details, '$.due_date'), '')"
    ),
}


def upgrade() -> None:
    for name, type_ in COLUMNS.items():
        op.add_column("records", sa.Column(name, type_, nullable=True))
    op.execute(FILL[op.get_bind().dialect.name])


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:  # SQLite drops a column by a copy
        for name in reversed(COLUMNS):
            batch.drop_column(name)
