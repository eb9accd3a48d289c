"""The subscriptions tables (owned by alembic). Not read models: a subscription is the agency's
own request, kept as it made it, and no replay of the log rebuilds it (as with API clients)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, MetaData, String, Table, Uuid

metadata = MetaData()

# One row per subscription, owned by the API client that made it.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("kinds", JSON, nullable=False),  # the change kinds' names, as asked (domain/changes.py)
    Column("subject_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("subscriptions_client", "client_id", "created_at"),
)

# The subjects each subscription follows, with the owning client beside them, so that the feed
# asks "does this client follow this subject" of one index.
subscription_subjects = Table(
    "subscription_subjects",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("subject_id", Uuid, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Index("subscription_subjects_client", "client_id", "subject_id", "subscription_id"),
)

# The kinds each subscription asks for, one row each, so that the feed filters on them in SQL.
subscription_kinds = Table(
    "subscription_kinds",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("kind", String(40), primary_key=True),
)
