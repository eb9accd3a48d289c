"""early warnings reach the authority they are addressed to without a subscribed subject

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 23:00:00

A `warning.raised` change names the supervising authority it is addressed to in its `after`
(`authority_code`); the changes projector now also writes that code to `addressed_to`, indexed,
so that the feed and the webhook fill find an authority's warnings without reading JSON. The
warnings already in the outbox are filled here from their payload, in Python (the same on
SQLite and PostgreSQL), so no rebuild is needed. A subscription may now follow the warnings
addressed to its client's authorities (`addressed_to_us`), for the codes kept in
`subscription_authorities`.
"""

import sqlalchemy as sa

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.add_column("changes", sa.Column("addressed_to", sa.String(length=18), nullable=True))
    conn = op.get_bind()
    changes = sa.table(
        "changes",
        sa.column("change_id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("after", sa.JSON()),
        sa.column("addressed_to", sa.String()),
    )
    warnings = conn.execute(
        sa.select(changes.c.change_id, changes.c.after).where(changes.c.kind == "warning.raised")
    ).all()
    filled = [
        {"b_change": change_id, "b_code": after["authority_code"]}
        for change_id, after in warnings
        if after and after.get("authority_code")
    ]
    for start in range(0, len(filled), BATCH):
        conn.execute(
            changes.update()
            .where(changes.c.change_id == sa.bindparam("b_change"))
            .values(addressed_to=sa.bindparam("b_code")),
            filled[start : start + BATCH],
        )
    op.create_index("changes_addressed", "changes", ["addressed_to", "position"])
    op.add_column(
        "subscriptions",
        sa.Column("addressed_to_us", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "subscription_authorities",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("authority_code", sa.String(length=18), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "authority_code"),
    )
    op.create_index(
        "subscription_authorities_client",
        "subscription_authorities",
        ["client_id", "authority_code", "subscription_id"],
    )


def downgrade() -> None:
    # The subscriptions of addressed warnings have no subjects: without this revision they
    # would follow nothing, so they go with it (and their webhooks' rows).
    conn = op.get_bind()
    subscriptions = sa.table(
        "subscriptions", sa.column("subscription_id", sa.Uuid()), sa.column("addressed_to_us")
    )
    gone = (
        conn.execute(
            sa.select(subscriptions.c.subscription_id).where(subscriptions.c.addressed_to_us)
        )
        .scalars()
        .all()
    )
    for name in (
        "subscription_kinds",
        "subscription_webhooks",
        "webhook_deliveries",
        "webhook_attempts",
        "subscriptions",
    ):
        table = sa.table(name, sa.column("subscription_id", sa.Uuid()))
        for start in range(0, len(gone), BATCH):
            chunk = gone[start : start + BATCH]
            conn.execute(table.delete().where(table.c.subscription_id.in_(chunk)))
    op.drop_index("subscription_authorities_client", table_name="subscription_authorities")
    op.drop_table("subscription_authorities")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("addressed_to_us")
    op.drop_index("changes_addressed", table_name="changes")
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("addressed_to")
