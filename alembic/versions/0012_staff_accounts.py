"""staff accounts for the console, their failed sign-ins and their server-side sessions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("name", sa.String(length=56), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("agency_name", sa.String(length=200), nullable=False),
        sa.Column("agency_code", sa.String(length=18), nullable=False),
        sa.Column("authority_codes", sa.JSON(), nullable=False),
        sa.Column("sectors", sa.JSON(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=56), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account"], ["staff_accounts.name"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("console_sessions_account", "console_sessions", ["account"])


def downgrade() -> None:
    op.drop_index("console_sessions_account", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("sign_in_failures")
    op.drop_table("staff_accounts")
