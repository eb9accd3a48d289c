"""the 国密 suite: SM3 seals and the SM3 tree's nodes (append-only like the SHA-256 ones),
format 3 checkpoints (SM3 root, SM2 signature) and the algorithm of each checkpoint key

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 04:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

APPEND_ONLY = ("event_seals_sm3", "merkle_nodes_sm3")


def upgrade() -> None:
    op.create_table(
        "event_seals_sm3",
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "merkle_nodes_sm3",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("node_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    # Plain ADD COLUMN on both backends: a checkpoint row is never rewritten, and the trigger
    # that refuses UPDATE does not fire on a schema change.
    op.add_column("checkpoints", sa.Column("sm3_root", sa.LargeBinary, nullable=True))
    op.add_column("checkpoints", sa.Column("sm2_key_id", sa.String(64), nullable=True))
    op.add_column("checkpoints", sa.Column("sm2_signature", sa.LargeBinary, nullable=True))
    op.add_column(
        "checkpoint_keys",
        sa.Column("algorithm", sa.String(16), nullable=False, server_default="Ed25519"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                sa.text(f"""
                CREATE TRIGGER {table}_append_only
                BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION credit_events_append_only()
            """)
            )
            op.execute(
                sa.text(f"""
                CREATE TRIGGER {table}_no_truncate
                BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION credit_events_append_only()
            """)
            )
            op.execute(sa.text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC"))
    else:
        message = "the integrity tables are append-only: UPDATE and DELETE are refused"
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    sa.text(f"""
                    CREATE TRIGGER {table}_no_{action.lower()}
                    BEFORE {action} ON {table}
                    BEGIN SELECT RAISE(ABORT, '{message}'); END
                """)
                )


def downgrade() -> None:
    with op.batch_alter_table("checkpoint_keys") as batch:
        batch.drop_column("algorithm")
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("sm2_signature")
        batch.drop_column("sm2_key_id")
        batch.drop_column("sm3_root")
    for table in ("merkle_nodes_sm3", "event_seals_sm3"):
        op.drop_table(table)
