"""Access-control and audit tables: API clients, staff accounts and their console sessions,
token signing keys, the access log, replay checks, the case-number series and the case numbers'
streams (owned by alembic)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    text,
)

metadata = MetaData()

api_clients = Table(
    "api_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("agency_name", String(200), nullable=False),
    Column("agency_code", String(18), nullable=False),
    # For recorders: the authority codes and sectors they may record for.
    Column("authority_codes", JSON, nullable=False),
    Column("sectors", JSON, nullable=False),
    Column("secret_hash", String(200), nullable=False),  # scrypt; the secret is shown once
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

# People who sign in to the staff console (service/access/accounts.py), one account each. An
# account has a role and grants exactly as a client has, and acts through the same checks.
staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("name", String(56), primary_key=True),  # the sign-in name (登录名)
    Column("display_name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency_name", String(200), nullable=False),
    Column("agency_code", String(18), nullable=False),
    Column("authority_codes", JSON, nullable=False),
    Column("sectors", JSON, nullable=False),
    # Who vouches for the person: "builtin" (password_hash holds an Argon2id hash), or an
    # external identity provider, "oidc:<issuer>", whose accounts have no password here.
    Column("provider", String(300), nullable=False),
    Column("password_hash", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

# Failed sign-ins by the name typed, whether or not an account has that name, so that a lockout
# reads the same for a name no one has. A success removes the row.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)

# Server-side console sessions: the cookie holds a random token, this table only its SHA-256, so
# that reading the table hands out no session. Ending a session (sign-out, an account disabled
# or its password reset) sets ended_at; expired rows are removed when their account signs in.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account", String(56), ForeignKey("staff_accounts.name"), nullable=False),
    # The synchronizer token every state-changing form of this session carries.
    Column("csrf_token", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Index("console_sessions_account", "account"),
)

# Sign-ins through an OpenID Connect provider under way: what the console sent the browser off
# with (state, nonce, the PKCE verifier, the redirect URI), keyed by the SHA-256 of the random
# value in the browser's sign-in cookie, so that the callback is checked against what this
# browser was sent with. Each is used once, and is good for a few minutes only.
oidc_sign_ins = Table(
    "oidc_sign_ins",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("state", String(64), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("redirect_uri", String(500), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Index("oidc_sign_ins_started_at", "started_at"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key", LargeBinary, nullable=False),  # wrapped under the key-encryption key
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Retired keys sign nothing new but stay published until tokens they signed have expired.
    Column("retired_at", DateTime(timezone=True)),
)

access_log = Table(
    "access_log",
    metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency_code", String(18), nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("action", String(40), nullable=False),
    Column("purpose", String(200), nullable=False),
    Column("returned", JSON, nullable=False),
    # Each row's hash covers its content and the previous row's hash (查询留痕, chained), with
    # the hash `hash_algorithm` names: "sha256", or "sm3" for rows written under the gm suite.
    Column("prev_hash", String(64), nullable=False),
    Column("hash_algorithm", String(16), nullable=False, server_default="sha256"),
    Column("hash", String(64), nullable=False),
    Index("access_log_subject", "subject_id", "seq"),
)

# Every administrative act (clients, keys, erasures, approvals), chained like the access log.
admin_log = Table(
    "admin_log",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    # "client:<id>" over the API, "cli:<os user>" from the command line, "demo-bootstrap".
    Column("actor", String(100), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(200), nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash_algorithm", String(16), nullable=False, server_default="sha256"),
    Column("hash", String(64), nullable=False),
)

# Four eyes: an act that needs a second administrator waits here until a different one
# approves it; every step is in the admin log.
admin_approvals = Table(
    "admin_approvals",
    metadata,
    Column("approval_id", Uuid, primary_key=True),
    Column("action", String(40), nullable=False),  # "create-client" | "erase-personal-data"
    Column("target", String(200), nullable=False),
    Column("request", JSON, nullable=False),  # what will be done, never a secret
    Column("requested_by", String(100), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("state", String(10), nullable=False),  # "pending" | "approved"
    Column("approved_by", String(100)),
    Column("approved_at", DateTime(timezone=True)),
)

subject_keys = Table(
    "subject_keys",
    metadata,
    Column("subject_id", Uuid, primary_key=True),
    # The subject's data key, wrapped by the key-encryption key; NULL once erased.
    Column("wrapped_key", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True)),
)

replay_checks = Table(
    "replay_checks",
    metadata,
    Column("check_id", Uuid, primary_key=True),
    Column("state", String(10), nullable=False),  # "running" | "passed" | "failed" | "error"
    Column("requested_by", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    # Written every second or so by the process running the check: a running check whose
    # heartbeat stopped was interrupted (its process died) and is shown as an error.
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("position", BigInteger),  # the log position both sides were compared at
    Column("events_total", BigInteger),
    Column("events_replayed", BigInteger, nullable=False),
    Column("rows_compared", BigInteger),
    Column("difference_count", BigInteger),
    Column("differences", JSON),  # the first 1,000, by table and key
    Column("error", Text),
    # At most one running check, whoever started it.
    Index(
        "replay_checks_one_running",
        "state",
        unique=True,
        postgresql_where=text("state = 'running'"),
        sqlite_where=text("state = 'running'"),
    ),
    Index("replay_checks_started", "started_at"),
)


# 案件编号: the last serial handed out per series (a case kind's prefix and the service-local
# day, e.g. XF20261120). Incremented in a transaction of its own, so that no two filings, in any
# process, are given the same number; a serial lost with a failed filing is a gap, never reused.
case_number_series = Table(
    "case_number_series",
    metadata,
    Column("series", String(20), primary_key=True),
    Column("last_serial", Integer, nullable=False),
)

# Which subject's stream a case number belongs to, so that a step finds the case on the stream
# without the cases read model. Written once the number is handed out and before the filing is
# appended: a step never finds the case filed but not here. A row whose filing then failed
# points at a stream that holds no such case, and the step is refused as for an unknown number.
case_streams = Table(
    "case_streams",
    metadata,
    Column("case_number", String(40), primary_key=True),
    Column("subject_id", Uuid, nullable=False),
)
