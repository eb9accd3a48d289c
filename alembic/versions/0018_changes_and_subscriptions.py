"""changes agencies are told of, and their subscriptions

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:00:00

The changes table starts empty: its projector has no tracked position yet, so the runner
derives it from the start of the log, behind the credit file's and the cases' read models,
which it reads. The subscriptions are an agency's own requests, not read models.
"""

import sqlalchemy as sa

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("change_id"),
    )
    op.create_index("changes_order", "changes", ["position", "ordinal"], unique=True)
    op.create_index("changes_subject", "changes", ["subject_id", "position"])
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("subject_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id"),
    )
    op.create_index("subscriptions_client", "subscriptions", ["client_id", "created_at"])
    op.create_table(
        "subscription_subjects",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "subject_id"),
    )
    op.create_index(
        "subscription_subjects_client",
        "subscription_subjects",
        ["client_id", "subject_id", "subscription_id"],
    )
    op.create_table(
        "subscription_kinds",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "kind"),
    )


def downgrade() -> None:
    op.drop_table("subscription_kinds")
    op.drop_index("subscription_subjects_client", table_name="subscription_subjects")
    op.drop_table("subscription_subjects")
    op.drop_index("subscriptions_client", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index("changes_subject", table_name="changes")
    op.drop_index("changes_order", table_name="changes")
    op.drop_table("changes")
