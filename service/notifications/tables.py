"""The subscriptions and notices tables (owned by alembic). The subscriptions and the
acknowledgements of notices are not read models: an agency's own requests, kept as it made them,
which no replay of the log rebuilds (as with API clients). The notices are the notices
projector's read model (service/notifications/notices.py)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    false,
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
    # Of the warnings addressed to the client's authorities rather than of named subjects.
    Column("addressed_to_us", Boolean, nullable=False, server_default=false()),
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

# The authorities whose warnings a subscription of `addressed_to_us` follows: the codes its
# client was granted when it subscribed. One no longer granted tells nothing more: the feed
# reads those the client holds now, and the webhook fill drops the others first.
subscription_authorities = Table(
    "subscription_authorities",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("authority_code", String(18), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Index("subscription_authorities_client", "client_id", "authority_code", "subscription_id"),
)

# A subscription's webhook: where its changes are POSTed, the secret that signs them (wrapped
# with the key-encryption key, as the signing keys are: service/access/secrets.py), whether it
# is paused after failing too often, and the delivery worker's cursor in the changes outbox.
subscription_webhooks = Table(
    "subscription_webhooks",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("callback_url", String(2000), nullable=False),
    Column("wrapped_secret", LargeBinary, nullable=False),
    Column("state", String(10), nullable=False),  # active | paused
    Column("consecutive_failures", Integer, nullable=False),
    Column("paused_at", DateTime(timezone=True), nullable=True),
    # The last change (position, ordinal) turned into delivery rows.
    Column("cursor_position", BigInteger, nullable=False),
    Column("cursor_ordinal", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (subscription with a webhook, change): pending until delivered (a 2xx answer) or
# abandoned (its retries ran out). A claimed row's next_attempt_at is pushed a lease ahead, so
# a worker that dies mid-send leaves it to be sent again once the lease is over.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("subscription_id", Uuid, primary_key=True),
    Column("change_id", Uuid, primary_key=True),
    Column("subject_id", Uuid, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # pending | delivered | abandoned
    Column("attempts", Integer, nullable=False),
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("webhook_deliveries_due", "status", "next_attempt_at"),
    Index(
        "webhook_deliveries_order", "subscription_id", "subject_id", "status", "position", "ordinal"
    ),
)

# Every attempt to deliver, for the subscription's delivery log.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("attempt_id", Uuid, primary_key=True),
    Column("subscription_id", Uuid, nullable=False),
    Column("change_id", Uuid, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", String(300), nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("webhook_attempts_subscription", "subscription_id", "attempted_at"),
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
    # Null when the client confirmed over the API; "account:<name>" when a person of the
    # client's agency confirmed for it at the console.
    Column("acknowledged_by", String(64), nullable=True),
)
