"""The read-model tables (owned by alembic; this metadata is what migrations are written from)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
)

metadata = MetaData()

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(100), primary_key=True),
    # One row per projector (its name): the last log position whose effects are in its read
    # model, committed with its rows. A publisher of the changes outbox keeps its cursor here
    # too (`nats:<stream>`: every public change up to it acknowledged by JetStream).
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The event the projector failed on, if it is stopped: the position after `position` that
    # it could not apply, the event's type and the error (one line). Cleared once the event is
    # applied or skipped, or by `credit projections resume`.
    Column("failed_position", BigInteger),
    Column("failed_event_type", String(200)),
    Column("failure", Text),
    Column("failed_at", DateTime(timezone=True)),
)

# Events an operator decided a projector must pass over (`credit projections skip`), with the
# reason: a rebuild and a replay check pass over them too. Never deleted.
projection_skips = Table(
    "projection_skips",
    metadata,
    Column("projector", String(100), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("skipped_by", String(100), nullable=False),
    Column("skipped_at", DateTime(timezone=True), nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("subject_id", Uuid, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("code_masked", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("region_code", String(6), nullable=False),
    Column("sectors", JSON, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("record_id", Uuid, primary_key=True),
    Column("subject_id", Uuid, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(40), nullable=False),
    Column("family", String(30), nullable=False),
    Column("severity", String(10)),
    Column("authority_name", String(200), nullable=False),
    Column("authority_code", String(18), nullable=False),
    Column("source_ref", String(200), nullable=False),
    Column("decision_date", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    # Publication window [publish_from, publish_until); publish_from NULL: never published.
    Column("publish_from", Date),
    Column("publish_until", Date),
    Column("state", String(10), nullable=False),  # "active" | "revoked" | "repaired" | "lapsed"
    # When the repair in force was approved (recorded time): the record counted until then. For
    # a lapsed record, that of the record it rests on (NULL: that one was revoked, not repaired).
    Column("repaired_at", DateTime(timezone=True)),
    Column("revoked_by", Uuid),
    Column("ended_on", Date),  # a list exit, licence revocation or commitment outcome
    Column("ended_by", Uuid),
    Column("correction_count", Integer, nullable=False),
    Column("corrected_at", DateTime(timezone=True)),
    Column("list_type", String(10)),
    Column("scheme", String(40)),
    Column("grade", String(4)),
    Column("score", Numeric(6, 2)),
    Column("valid_from", Date),
    Column("valid_until", Date),
    # The detail fields the status rules read, as a revision keeps them: a status read takes
    # them from here rather than decoding every row's `details` (most of its bytes).
    Column("procedure", String(20)),
    Column("basis", Text),
    Column("planned_end", Date),
    Column("basis_record_id", String(36)),
    Column("due_date", Date),
    Column("summary", Text, nullable=False),
    Column("details", JSON, nullable=False),
    # The number of an open objection case: the record shows 异议处理中 to every agency.
    Column("objection_case", String(40)),
    Index("records_subject_position", "subject_id", "position"),
    Index("records_subject_family", "subject_id", "family"),
    # The credit office's reports read one type's records by decision date, of every subject:
    # the list entries and the joint measures of a period.
    Index("records_type_decision_date", "type", "decision_date"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("case_number", String(40), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # "repair" | "objection"
    Column("subject_id", Uuid, nullable=False),
    Column("target_record_id", Uuid, nullable=False),
    Column("authority_code", String(18), nullable=False),  # the deciding agency (谁认定、谁修复)
    Column("query_code_hash", String(64), nullable=False),
    Column("status", String(10), nullable=False),
    Column("filed_on", Date, nullable=False),
    Column("accepted_on", Date),
    Column("closed_on", Date),
    Column("outcome", String(12)),
    Column("missing", JSON, nullable=False),
    Column("steps", JSON, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("cases_status", "status"),
    # The case figures of a period read the cases open (NULL) or closed since its start.
    Index("cases_closed_on", "closed_on"),
)

# Bitemporal history of the credit file, for status as of a recorded time on a valid day: each
# row is a record's standing from the stream version of the event that gave it (from_version)
# to the version of the event that changed it next (until_version; NULL: still current).
record_revisions = Table(
    "record_revisions",
    metadata,
    # Record ids as text: read back by the thousand, they need no conversion.
    Column("record_id", String(36), primary_key=True),
    Column("from_version", Integer, primary_key=True),
    Column("until_version", Integer),
    Column("subject_id", Uuid, nullable=False),
    Column("type", String(40), nullable=False),
    Column("family", String(30), nullable=False),
    Column("state", String(10), nullable=False),
    Column("repaired_at", DateTime(timezone=True)),
    Column("severity", String(10)),
    Column("procedure", String(20)),
    Column("decision_date", Date, nullable=False),
    Column("publish_from", Date),
    Column("publish_until", Date),
    Column("ended_on", Date),
    Column("list_type", String(10)),
    Column("basis", Text),
    Column("planned_end", Date),
    Column("basis_record_id", String(36)),
    Column("scheme", String(40)),
    Column("grade", String(4)),
    Column("score", Numeric(6, 2)),
    Column("valid_from", Date),
    Column("valid_until", Date),
    Column("due_date", Date),
    Column("authority_name", String(200), nullable=False),
    # Both indexes cover their query, so that a subject with a long history is answered from
    # the index alone: published counts by family, and the conduct records the rules read.
    Index(
        "record_revisions_published",
        "subject_id",
        "family",
        "decision_date",
        "publish_from",
        "publish_until",
        "from_version",
        "until_version",
        "state",
        "repaired_at",
    ),
    Index(
        "record_revisions_by_type",
        "subject_id",
        "type",
        "decision_date",
        "from_version",
        "until_version",
        "state",
        "repaired_at",
        "severity",
        "procedure",
        "publish_from",
        "publish_until",
        "record_id",
    ),
)

# A subject's stream versions by recorded time: the registration and the last event of each
# run recorded at the same instant. An event is known once it and every event before it in the
# stream were recorded, so the version known before time T is the last one before the first
# row recorded at or after T (a writer's clock running behind cannot make an event known
# before the ones it followed).
subject_versions = Table(
    "subject_versions",
    metadata,
    Column("subject_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("subject_versions_recorded_at", "subject_id", "recorded_at", "version"),
)

# The credit office's figures (三率), one row per licence, penalty or other record the figures
# count (its family counted for timeliness by some policy version, or its type measured for
# completeness), as it now stands: when it was due and how late it was recorded (及时率), how
# many of the national standard's indicator fields it fills (合格率). Each row is measured under
# the policy version in force on its decision date. Rows are read by authority or region and
# a range of decision dates, so a month of a province is an index range.
REPORT_FIGURE_COLUMNS = (
    "authority_name",
    "timeliness_counted",
    "on_time",
    "correction_count",
    "fields_filled",
    "fields_total",
    "complete",
    "missing_fields",
)
report_records = Table(
    "report_records",
    metadata,
    Column("record_id", Uuid, primary_key=True),
    Column("subject_id", Uuid, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("type", String(40), nullable=False),
    Column("family", String(30), nullable=False),
    Column("source_ref", String(200), nullable=False),
    Column("authority_code", String(18), nullable=False),
    Column("authority_name", String(200), nullable=False),
    # Where the deciding authority is registered: its code's administrative division (3rd-8th
    # characters of a USCC), so a province is the prefix of two digits, a city of four.
    Column("region_code", String(6), nullable=False),
    Column("decision_date", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),  # first recorded
    Column("recorded_on", Date, nullable=False),  # that day in the service's zone
    Column("policy_version", String(40), nullable=False),  # in force on the decision date
    Column("timeliness_counted", Boolean, nullable=False),  # its family counts for 及时率
    Column("due_on", Date, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("days_late", Integer, nullable=False),
    Column("due_provisional", Boolean, nullable=False),
    # Indicator fields filled of the standard's (0 of 0: a type the standard names no fields
    # of, not measured), the columns of those not filled, comma-separated in the standard's
    # order ('' for none), and whether the share reaches the policy's threshold (NULL: not
    # measured).
    Column("fields_filled", Integer, nullable=False),
    Column("fields_total", Integer, nullable=False),
    Column("missing_fields", Text, nullable=False),
    Column("complete", Boolean),
    Column("revoked", Boolean, nullable=False),
    # Corrections since first recorded: a past period's figure differs from what it was only
    # through them (or a revocation, which the row shows but the figures still count).
    Column("correction_count", Integer, nullable=False),
    Column("corrected_at", DateTime(timezone=True)),
    # Each index carries the columns the figures count (PostgreSQL's INCLUDE), so that a
    # month of a province is read from the index alone, not from rows scattered on the heap.
    Index(
        "report_records_authority",
        "authority_code",
        "decision_date",
        postgresql_include=REPORT_FIGURE_COLUMNS,
    ),
    Index(
        "report_records_region",
        "region_code",
        "decision_date",
        postgresql_include=("authority_code", *REPORT_FIGURE_COLUMNS),
    ),
    Index(
        "report_records_decided",
        "decision_date",
        postgresql_include=("region_code", "authority_code", *REPORT_FIGURE_COLUMNS),
    ),
)

# The sectors of each report row's subject: a record counts once in each (by sector). Each
# sector row carries its report row's columns that select and count it (kept equal by the
# projector, corrections included), so that a figure by sector is a range of this table's own
# index, not a join of hundreds of thousands of records to their sectors.
report_record_sectors = Table(
    "report_record_sectors",
    metadata,
    Column("record_id", Uuid, primary_key=True),
    Column("sector", String(64), primary_key=True),
    Column("subject_id", Uuid, nullable=False),
    Column("authority_code", String(18), nullable=False),
    Column("region_code", String(6), nullable=False),
    Column("decision_date", Date, nullable=False),
    Column("timeliness_counted", Boolean, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("days_late", Integer, nullable=False),
    Column("correction_count", Integer, nullable=False),
    Column("fields_filled", Integer, nullable=False),
    Column("fields_total", Integer, nullable=False),
    Column("missing_fields", Text, nullable=False),
    Column("complete", Boolean),
    Index(
        "report_record_sectors_decided",
        "decision_date",
        postgresql_include=(
            "sector",
            "region_code",
            "authority_code",
            *(c for c in REPORT_FIGURE_COLUMNS if c != "authority_name"),
        ),
    ),
)
# The report row's columns its sector rows carry.
REPORT_SECTOR_COLUMNS = tuple(
    column.name
    for column in report_record_sectors.columns
    if column.name in report_records.c and column.name not in ("record_id", "subject_id")
)

# The changes agencies may be told of (domain/changes.py), derived from the log: one row per
# change, in log order (`position`, then `ordinal` among the changes of one event). `before` and
# `after` hold the standing that changed, as a querying agency's status would show it: no name,
# no code, no record details. An outbox: deliveries (webhooks, later) and the change feed read it.
changes = Table(
    "changes",
    metadata,
    Column("change_id", Uuid, primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("record_id", Uuid, nullable=False),  # the record the change concerns
    Column("record_type", String(40), nullable=False),
    Column("before", JSON),
    Column("after", JSON),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # The authority an early warning is addressed to (its `after`'s `authority_code`): its
    # clients are told it without following the subject. Null for every other kind.
    Column("addressed_to", String(18)),
    # The feed pages through the log order; a subscriber's subjects are looked up per change.
    Index("changes_order", "position", "ordinal", unique=True),
    Index("changes_subject", "subject_id", "position"),
    Index("changes_addressed", "addressed_to", "position"),
)

# What each subject's status told its followers last (its grades and warnings, as
# domain/changes.py `told_of` gives them), evaluated on the day of its latest event or day's
# close: the changes projector tells a grade or a warning when it differs from this.
told_statuses = Table(
    "told_statuses",
    metadata,
    Column("subject_id", Uuid, primary_key=True),
    Column("evaluated_on", Date, nullable=False),
    Column("version", Integer, nullable=False),  # the subject's stream version evaluated
    Column("told", JSON, nullable=False),
    # The first day after `evaluated_on` on which time alone may change what the status tells
    # (domain/credit_status.py `next_time_change`); null: no day will. A day's close evaluates
    # the subjects whose day has come, found by this index, and no other.
    Column("next_time_change", Date),
    Index("told_statuses_next_time_change", "next_time_change"),
)

READ_MODEL_TABLES = (
    subjects,
    records,
    cases,
    record_revisions,
    subject_versions,
    report_records,
    report_record_sectors,
    changes,
    told_statuses,
)
