"""Request and response bodies of the credit-report routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import example
from service.credit_reports.contents import MAX_YEARS

Section = Literal[
    "licences",
    "penalties",
    "dishonesty",
    "commitments",
    "ratings",
    "lists",
    "joint_measures",
    "objections",
    "statement",
]
NUMBER = "the report's number (报告编号), e.g. XYBG20261120000001"


class ReportOrder(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        **example({"kind": "credit", "years": 3, "sections": ["penalties", "lists"]}),
    )
    kind: Literal["credit", "special"] = Field(
        "credit",
        description="credit: 公共信用信息报告, the sections chosen; special: 专项信用报告 of the "
        "transport domain, the statements of no penalty, no serious dishonesty and no black-list "
        "entry in the period that replace the certificates of no violation (发改财金〔2025〕565号)",
    )
    as_of: date | None = Field(
        None,
        description="the report day: from what was recorded by the end of this day, under the "
        "rules of that day (default: now, from everything the report's checkpoint holds)",
    )
    years: int = Field(
        3,
        ge=1,
        le=MAX_YEARS,
        description=f"the period: this many years up to the report day (1-{MAX_YEARS})",
    )
    sections: list[Section] | None = Field(
        None,
        description="the sections of a credit report, printed in the standard order whatever "
        "the order here (default: every one; basic information is always there)",
    )
    sectors: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None,
        max_length=20,
        description="a special report's sectors (road_transport, waterway_transport ...): "
        "besides the transport-domain statements, one block of the same statements per sector, "
        "counting the records filed in it; each must be one of the subject's sectors (default: "
        "all of them). Records filed in no sector count in the domain-wide statements only",
    )


class ReportMetadata(BaseModel):
    model_config = example(
        {
            "number": "XYBG20261120000001",
            "kind": "credit",
            "subject_id": "5f0c7a8e-3b1d-5c2a-9e4f-6a7b8c9d0e1f",
            "subject_name": "郑州宏达道路运输有限公司",
            "code_masked": "91410105MA00000016",
            "issued_at": "2026-11-20T04:00:00+00:00",
            "report_day": "2026-11-20",
            "period": {"start": "2023-11-21", "end": "2026-11-20"},
            "summary": {"penalties": 1, "lists": 0},
            "pdf_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "contents_sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            "position": 42,
            "stream_version": 5,
            "tree_size": 57,
            "root": "a3f1…",
            "key_id": "3c4d…",
            "requested_by": "zz-zhifa-01",
            "purpose": "招标投标",
            "origin": "credit.jt.henan.gov.cn",
            "signature": "q83vEjRWeJA…",
            "known_before": None,
            "request": {
                "kind": "credit",
                "years": 3,
                "as_of": None,
                "sections": ["penalties", "lists"],
                "statement": None,
                "purpose": "招标投标",
                "requested_by": "zz-zhifa-01",
                "requester_role": "agency",
                "agency_code": "11410100MB00000018",
            },
            "contents": {"format": 1, "kind": "credit", "sections": ["penalties", "lists"]},
        }
    )
    number: str = Field(description=NUMBER)
    kind: str = Field(description="credit (信用报告) or special (专项信用报告)")
    subject_id: UUID = Field(description="the subject the report is about")
    subject_name: str = Field(description="the subject's name as the report prints it")
    code_masked: str = Field(description="the subject's code as printed (an ID number masked)")
    issued_at: datetime = Field(description="when the report was made")
    report_day: date = Field(description="the day the report speaks of")
    period: dict[str, date] = Field(description="the first and last day the report covers")
    summary: dict[str, int] = Field(
        description="entries per section, or the count behind each special statement"
    )
    pdf_sha256: str = Field(description="SHA-256 of the PDF's exact bytes as issued")
    contents_sha256: str = Field(description="SHA-256 of the contents' RFC 8785 JSON")
    position: int = Field(
        description="log position of the subject's last event the report reflects"
    )
    stream_version: int = Field(description="the subject's stream version the report reflects")
    tree_size: int = Field(description="size of the signed checkpoint's tree the report reflects")
    root: str = Field(description="that checkpoint's root, hex")
    key_id: str = Field(description="the checkpoint key that signed the report's statement")
    requested_by: str = Field(description="the client or console account that asked, or applicant")
    purpose: str = Field(description="why it was asked (the access log's purpose)")
    # What `credit audit verify-report` needs besides a signed export of the subject.
    origin: str = Field(description="the log's origin the report's statement names")
    signature: str = Field(description="the report's Ed25519 signature (base64) by key_id")
    known_before: datetime | None = Field(
        description="the cut-off of what the report reflects (a past report day's end; null: "
        "everything its checkpoint holds)"
    )
    request: dict[str, Any] = Field(description="what was asked, as kept with the report")
    contents: dict[str, Any] = Field(
        description="the contents as sealed (their digest is contents_sha256)"
    )


class ReportRecomputation(BaseModel):
    model_config = example(
        {
            "number": "XYBG20261120000001",
            "ok": True,
            "contents_sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            "recomputed_sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            "differences": [],
            "signature_valid": True,
            "checkpoint_holds": True,
            "checkpoint": {"tree_size": 57, "root": "a3f1…"},
            "events": [{"version": 1, "position": 3, "leaf_index": 2, "proof": ["ab12…"]}],
        }
    )
    number: str = Field(description=NUMBER)
    ok: bool = Field(
        description="the recomputed contents equal the issued ones, the signature verifies and "
        "the checkpoint holds"
    )
    contents_sha256: str = Field(description="the digest issued")
    recomputed_sha256: str = Field(description="the digest of the contents computed again now")
    differences: list[dict[str, Any]] = Field(
        description="each field that differs: its path, the issued and the recomputed value"
    )
    signature_valid: bool = Field(description="the report's Ed25519 signature verifies")
    checkpoint_holds: bool = Field(
        description="the signed checkpoint verifies and the tree still has its root at its size"
    )
    checkpoint: dict[str, Any] = Field(description="the checkpoint the report reflects, signed")
    events: list[dict[str, Any]] = Field(
        description="each event of the subject the report reflects: its version, position, leaf "
        "index and RFC 6962 inclusion proof (hex) in the checkpoint's tree"
    )
