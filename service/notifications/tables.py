"""The subscriptions and notices tables (owned by alembic). The subscriptions and the
acknowledgements of notices are not read models: an agency's own requests, kept as it made them,
which no replay of the log rebuilds (as with API clients). The notices are the notices
projector's read model (service/notifications/notices.py)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)

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

# One row per client told to stop using a record (令第36号): derived from the log (the repair or
# revocation) and the access log (who had read the subject's file while the record was on it).
notices = Table(
    "notices",
    metadata,
    Column("notice_id", Uuid, primary_key=True),
    Column("change_id", Uuid, nullable=False),  # the record.repaired or record.revoked change
    Column("position", BigInteger, nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("record_id", Uuid, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("case_id", Uuid),  # the repair or objection case that decided it, if one did
    Column("last_read_at", DateTime(timezone=True), nullable=False),  # the client's last read
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("notices_client", "client_id", "position"),
    Index("notices_case", "case_id"),
    Index("notices_record", "record_id", "position"),
)

# A client's confirmation that it stopped using the record a notice names: the client's own
# write, kept whatever rebuilds the notices (a notice derived again keeps its id).
notice_acknowledgements = Table(
    "notice_acknowledgements",
    metadata,
    Column("notice_id", Uuid, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True), nullable=False),
)
