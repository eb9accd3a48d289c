"""event store is append-only: UPDATE and DELETE on stored events are refused by a trigger

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:40:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MESSAGE = "credit events are append-only: UPDATE and DELETE are refused"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            sa.text(f"""
            CREATE OR REPLACE FUNCTION credit_events_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END;
            $$
        """)
        )
        op.execute(
            sa.text("""
            CREATE TRIGGER credit_events_append_only
            BEFORE UPDATE OR DELETE ON credit_events
            FOR EACH ROW EXECUTE FUNCTION credit_events_append_only()
        """)
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                sa.text(f"""
                CREATE TRIGGER stored_events_no_{action.lower()}
                BEFORE {action} ON stored_events
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
            """)
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS credit_events_append_only ON credit_events"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS credit_events_append_only()"))
    else:
        for action in ("update", "delete"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS stored_events_no_{action}"))
