"""Credit repair (信用修复) and objection (异议) cases: every step an event in the subject's
stream, so an auditor replays the whole case with the record it concerns."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

OBJECTION_GROUNDS = ("wrong_content", "wrong_period", "wrong_repair")
OBJECTION_OUTCOMES = ("corrected", "revoked", "upheld")
# What a case number (案件编号) may look like: anything else names no case, and is not looked up.
CASE_NUMBER = re.compile(r"[A-Za-z0-9]{6,40}")


# The brackets a decision number (文号) is written with: 〔2026〕 on the document, [2026], (2026) or
# 【2026】 as people type it.
_BRACKETS = str.maketrans("〔【〖(〕】〗)", "[[[[]]]]")


def decision_number_key(decision_number: str) -> str:
    """A decision number (决定书文号) as two writings of it compare: NFKC (full-width letters and
    digits fold to ASCII), no spaces, one kind of bracket and one letter case, so that a number
    typed as 郑交执罚[2026]12号 names the decision written 郑交执罚〔2026〕12号."""
    folded = unicodedata.normalize("NFKC", decision_number).translate(_BRACKETS)
    return "".join(folded.split()).upper()


def code_hash(case_number: str, query_code: str) -> str:
    """The hash of a case's 查询码 as the case keeps it (the code itself is shown once, then
    forgotten); bound to the number, so one code opens one case only."""
    return hashlib.sha256(f"{case_number}:{query_code.strip().upper()}".encode()).hexdigest()


class CaseEvent(Aggregate.Event):
    """Base of every case step; `by` is who took it (an authority code, or "applicant")."""

    TOPIC: ClassVar[str] = "credit:CaseEvent"
    case_id: UUID
    target_record_id: UUID
    by: str

    def apply(self, aggregate: Any) -> None:
        aggregate.on_case(self)


class RepairApplied(CaseEvent):
    """信用修复 applied for: the correction done and the signed repair commitment."""

    TOPIC = "credit:RepairApplied"
    case_number: str
    query_code_hash: str
    corrections: list[str]
    commitment_signed: bool
    evidence: list[str]
    applicant: str


class ObjectionFiled(CaseEvent):
    """异议 filed against a record; the record shows 异议处理中 until it is resolved."""

    TOPIC = "credit:ObjectionFiled"
    case_number: str
    query_code_hash: str
    grounds: str
    statement: str
    evidence: list[str]
    applicant: str


class CaseMaterialsReturned(CaseEvent):
    TOPIC = "credit:CaseMaterialsReturned"
    missing: list[str]


class CaseMaterialsSupplied(CaseEvent):
    TOPIC = "credit:CaseMaterialsSupplied"
    evidence: list[str]


class CaseAccepted(CaseEvent):
    TOPIC = "credit:CaseAccepted"


class RepairApproved(CaseEvent):
    """Publication of the record stops and it no longer counts for grades and lists."""

    TOPIC = "credit:RepairApproved"
    reasons: str


class RepairDenied(CaseEvent):
    TOPIC = "credit:RepairDenied"
    reasons: str


class RepairRevoked(CaseEvent):
    """A granted repair found to rest on false materials: the record comes back."""

    TOPIC = "credit:RepairRevoked"
    reasons: str


class ObjectionResolved(CaseEvent):
    """corrected (the record's content changes; history keeps both), revoked, or upheld."""

    TOPIC = "credit:ObjectionResolved"
    outcome: str
    reasons: str
    changes: dict[str, Any] | None


CASE_EVENT_TYPES = (
    RepairApplied,
    ObjectionFiled,
    CaseMaterialsReturned,
    CaseMaterialsSupplied,
    CaseAccepted,
    RepairApproved,
    RepairDenied,
    RepairRevoked,
    ObjectionResolved,
)
for _cls in CASE_EVENT_TYPES:
    register_topic(_cls.TOPIC, _cls)

# Which step may follow which: status -> {event type: new status}.
TRANSITIONS: dict[str, dict[type[CaseEvent], str]] = {
    "filed": {
        CaseMaterialsReturned: "returned",
        CaseAccepted: "accepted",
        ObjectionResolved: "resolved",
    },
    "returned": {CaseMaterialsSupplied: "filed"},
    "accepted": {RepairApproved: "approved", RepairDenied: "denied", ObjectionResolved: "resolved"},
    "approved": {RepairRevoked: "revoked"},
}
OPEN_STATUSES = ("filed", "returned", "accepted")


@dataclass(frozen=True)
class RepairEligibility:
    """What the service knows of the record on the day (from its publication window)."""

    record_type: str
    published: bool
    earliest_repair: date | None  # None: the policy sets no minimum for it (not published)
