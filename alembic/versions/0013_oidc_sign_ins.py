"""sign-ins through an OpenID Connect provider under way; room for the issuer in an account's
provider

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_sign_ins",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("oidc_sign_ins_started_at", "oidc_sign_ins", ["started_at"])
    # "oidc:<issuer>". SQLite does not hold a VARCHAR to its length (and cannot alter a column
    # without rebuilding the table): only PostgreSQL needs the wider type.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "staff_accounts",
            "provider",
            type_=sa.String(length=300),
            existing_type=sa.String(length=40),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "staff_accounts",
            "provider",
            type_=sa.String(length=40),
            existing_type=sa.String(length=300),
            existing_nullable=False,
        )
    op.drop_index("oidc_sign_ins_started_at", table_name="oidc_sign_ins")
    op.drop_table("oidc_sign_ins")
