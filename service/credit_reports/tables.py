"""The credit reports issued (owned by alembic): each kept as issued, never regenerated. What
verifies a report is here: the SHA-256 of its exact PDF bytes, the hash of its verification code
(the code itself is printed in the PDF and nowhere else), its contents and their digest, the
checkpoint it reflects with the service's signature, and what was asked, by whom and why."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

metadata = MetaData()

credit_reports = Table(
    "credit_reports",
    metadata,
    Column("number", String(24), primary_key=True),  # 报告编号, e.g. XYBG20261202000042
    Column("kind", String(10), nullable=False),  # "credit" | "special"
    Column("subject_id", Uuid, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("pdf_sha256", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),  # sha256 of "<number>:<code>"
    Column("contents", JSON, nullable=False),
    Column("contents_sha256", String(64), nullable=False),
    Column("request", JSON, nullable=False),  # ReportRequest.as_json: what, who, why
    Column("requested_by", String(100), nullable=False),
    Column("purpose", Text, nullable=False),
    # The subject's stream as the report reflects it: its last event's version and position.
    Column("stream_version", Integer, nullable=False),
    Column("position", BigInteger, nullable=False),
    # The signed checkpoint whose tree holds that event, and the service's signature over the
    # report's statement (service/credit_reports/sealing.py) with the checkpoint key `key_id`.
    Column("tree_size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("checkpoint_issued_at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Index("credit_reports_subject", "subject_id", "issued_at"),
)
