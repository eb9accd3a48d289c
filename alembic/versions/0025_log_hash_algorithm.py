"""the hash of each chained-log row: `hash_algorithm` on the access log and the admin log,
"sha256" for every row written before (their hashes stay as they are), "sm3" for rows written
under the gm suite

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-05 22:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

CHAINED = ("access_log", "admin_log")


def upgrade() -> None:
    # Plain ADD COLUMN on both backends: no row is rewritten (the server default fills the old
    # ones), and the triggers that refuse UPDATE do not fire on a schema change.
    for table in CHAINED:
        op.add_column(
            table,
            sa.Column("hash_algorithm", sa.String(16), nullable=False, server_default="sha256"),
        )


def downgrade() -> None:
    # An SM3 row would no longer say how it was hashed: refuse rather than strand it.
    bind = op.get_bind()
    for table in CHAINED:
        sm3 = bind.execute(
            sa.text(f"SELECT COUNT(*) FROM {table} WHERE hash_algorithm <> 'sha256'")
        ).scalar()
        if sm3:
            raise RuntimeError(
                f"{table} holds {sm3} rows hashed with another hash than SHA-256: "
                "downgrading would leave them unverifiable"
            )
    # ALTER TABLE ... DROP COLUMN on SQLite too (3.35+): a batch copy would drop the
    # append-only triggers with the old table.
    for table in CHAINED:
        op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN hash_algorithm"))
