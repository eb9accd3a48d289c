"""who confirmed a notice at the console

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 05:00:00

A person of an agency may confirm at the console, for one of the agency's API clients, that a
repaired or revoked record is no longer used; `acknowledged_by` names that person
("account:<name>"), and stays null where the client confirmed over the API.
"""

import sqlalchemy as sa

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notice_acknowledgements") as batch:
        batch.add_column(sa.Column("acknowledged_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice_acknowledgements") as batch:
        batch.drop_column("acknowledged_by")
