"""The event catalogue: every fact a subject's credit file can hold, with stable names.

Each class has a stable `TOPIC` ("credit:<Name>") that is stored with the event, so moving or
renaming a class never breaks an old stream, and a `class_version` with upcasters beside it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

SUBJECT_KINDS = ("enterprise", "individual", "vehicle", "public_body")
LIST_TYPES = ("red", "black", "watch")
RATING_SCHEMES = (
    "highway_construction",
    "road_transport_quality",
    "driver_integrity",
    "sector_default",
)
COMMITMENT_TYPES = (
    "approval_substitute",  # 审批替代型
    "deficiency_tolerant",  # 容缺办理型
    "certification_notice",  # 证明事项告知承诺
    "voluntary_disclosure",  # 主动公示型
    "industry_self_discipline",  # 行业自律型
    "repair",  # 修复型
)


class SubjectRegistered(Aggregate.Created):
    """A credit subject (信用主体) got its 一户式 credit file.

    For individuals, `code` (the ID number), `phone` and `address` are sealed with the
    subject's own data key before they reach the event; `code_masked` is what agencies see.
    v2 added `code_masked`, `phone` and `address`."""

    TOPIC: ClassVar[str] = "credit:SubjectRegistered"
    class_version = 2
    kind: str
    code: str
    code_masked: str
    name: str
    region_code: str
    sectors: list[str]
    recorded_by: str
    phone: str | None = None
    address: str | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        from domain.codes import mask_code

        state["code_masked"] = mask_code(state["kind"], state["code"])
        state["phone"] = None
        state["address"] = None


class RecordEvent(Aggregate.Event):
    """Base of every recorded fact. `decision_date` is the valid time (when it happened
    legally); the event's `timestamp` is the recorded time (when this service learnt it)."""

    TOPIC: ClassVar[str] = "credit:RecordEvent"
    FAMILY: ClassVar[str] = ""
    # A decision on the subject's credit (conduct found, a list entry, a credit rating): the
    # authority that makes one is a deciding agency of the subject (谁认定), which may read
    # who looked at the subject's file. Licences, commitments, commendations, follow-ups and
    # amendments are not decisions on credit.
    CREDIT_DECISION: ClassVar[bool] = False
    record_id: UUID
    decision_date: date
    authority_name: str
    authority_code: str
    source_ref: str
    recorded_by: str
    request_key: str | None

    def apply(self, aggregate: Any) -> None:
        aggregate.on_record(self)


class LicenceGranted(RecordEvent):
    """行政许可 granted or changed (双公示 XK_* fields)."""

    TOPIC = "credit:LicenceGranted"
    FAMILY = "licence"
    licence_type: str  # XK_XKLB
    document_name: str  # XK_XKWS
    content: str  # XK_NR
    valid_from: date  # XK_YXQZ
    valid_until: date | None = None  # XK_YXQZI
    certificate_name: str | None = None  # XK_XKZS
    licence_number: str | None = None  # XK_XKBH


class LicenceRevoked(RecordEvent):
    """行政许可 revoked or withdrawn; ends the licence record it names."""

    TOPIC = "credit:LicenceRevoked"
    FAMILY = "licence"
    reason: str
    licence_record_id: UUID | None = None


class PenaltyDecided(RecordEvent):
    """行政处罚 decided (双公示 CF_* fields). v2 added `procedure` (简易/普通程序)."""

    TOPIC = "credit:PenaltyDecided"
    CREDIT_DECISION = True
    FAMILY = "penalty"
    class_version = 2
    severity: str
    procedure: str  # "simplified" | "general"
    violation_type: str  # CF_WFXW
    facts: str  # CF_SY
    legal_basis: str  # CF_YJ
    penalty_categories: list[str]  # CF_CFLB
    content: str  # CF_NR
    fine_amount: Decimal | None = None  # CF_NR_FK, 万元
    confiscated_amount: Decimal | None = None  # CF_NR_WFFF, 万元
    licence_action: str | None = None  # CF_NR_ZKDX
    declared_publication_end: date | None = None  # CF_GSJZQ

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Version 1 predates the procedure field; every v1 penalty went through the general one.
        state["procedure"] = "general"


class DishonestConductRecorded(RecordEvent):
    """失信行为 recorded (e.g. overload, refusal to carry, false materials)."""

    TOPIC = "credit:DishonestConductRecorded"
    CREDIT_DECISION = True
    FAMILY = "conduct"
    severity: str
    conduct_type: str
    description: str
    legal_basis: str | None = None


class CommitmentMade(RecordEvent):
    """信用承诺 made."""

    TOPIC = "credit:CommitmentMade"
    FAMILY = "commitment"
    commitment_type: str
    content: str
    due_date: date | None = None


class CommitmentFulfilled(RecordEvent):
    TOPIC = "credit:CommitmentFulfilled"
    FAMILY = "commitment_outcome"
    commitment_record_id: UUID
    note: str = ""


class CommitmentBreached(RecordEvent):
    """A breached commitment is itself dishonest conduct, with a severity."""

    TOPIC = "credit:CommitmentBreached"
    CREDIT_DECISION = True
    FAMILY = "conduct"
    commitment_record_id: UUID
    severity: str
    description: str


class RatingIssued(RecordEvent):
    """信用评价 / 质量信誉考核 / 驾驶员诚信考核 result, valid for a period."""

    TOPIC = "credit:RatingIssued"
    CREDIT_DECISION = True
    FAMILY = "rating"
    scheme: str
    grade: str
    valid_from: date
    valid_until: date
    score: Decimal | None = None


class ListEntered(RecordEvent):
    """Entered the red (守信激励), black (严重失信主体) or watch (重点关注) list. v2 added
    `basis_record_id`: the conduct record the entry rests on, if any (a repair or revocation
    of that record ends the membership)."""

    TOPIC = "credit:ListEntered"
    CREDIT_DECISION = True
    FAMILY = "list"
    class_version = 2
    list_type: str
    basis: str
    planned_end: date | None = None
    basis_record_id: UUID | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["basis_record_id"] = None


class ListExited(RecordEvent):
    TOPIC = "credit:ListExited"
    FAMILY = "list_exit"
    entry_record_id: UUID
    reason: str


class InterviewHeld(RecordEvent):
    """提示约谈 (prompt) or 警示约谈 (warning)."""

    TOPIC = "credit:InterviewHeld"
    FAMILY = "interview"
    interview_type: str
    matter: str


class CommendationGranted(RecordEvent):
    """诚信典型 or another commendation."""

    TOPIC = "credit:CommendationGranted"
    FAMILY = "commendation"
    title: str
    description: str = ""


class JointMeasureApplied(RecordEvent):
    """联合奖惩反馈: a reward or punishment another agency applied because of this file."""

    TOPIC = "credit:JointMeasureApplied"
    FAMILY = "joint_measure"
    measure_type: str  # "reward" | "punishment"
    measure: str
    applying_agency: str
    matter: str


class RecordCorrected(RecordEvent):
    """An earlier record's content corrected; history keeps both versions."""

    TOPIC = "credit:RecordCorrected"
    FAMILY = "correction"
    target_record_id: UUID
    changes: dict[str, Any]
    reason: str


class RecordRevoked(RecordEvent):
    """An earlier record revoked (e.g. a penalty annulled on administrative review)."""

    TOPIC = "credit:RecordRevoked"
    FAMILY = "revocation"
    target_record_id: UUID
    reason: str


RECORD_EVENT_TYPES: dict[str, type[RecordEvent]] = {
    cls.__name__: cls
    for cls in (
        LicenceGranted,
        LicenceRevoked,
        PenaltyDecided,
        DishonestConductRecorded,
        CommitmentMade,
        CommitmentFulfilled,
        CommitmentBreached,
        RatingIssued,
        ListEntered,
        ListExited,
        InterviewHeld,
        CommendationGranted,
        JointMeasureApplied,
        RecordCorrected,
        RecordRevoked,
    )
}

# The record types that make their authority a deciding agency of the subject.
CREDIT_DECISION_TYPES = tuple(
    name for name, cls in RECORD_EVENT_TYPES.items() if cls.CREDIT_DECISION
)

# Fields every record shares; the rest of a record's fields are its details.
COMMON_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", *RecordEvent.__annotations__}
    - {"TOPIC", "FAMILY", "CREDIT_DECISION"}
)
# Fields a correction may not change: they identify the record or who made it.
IDENTITY_FIELDS = frozenset(
    {"record_id", "authority_code", "source_ref", "recorded_by", "request_key"}
)

_STORED: tuple[type[SubjectRegistered] | type[RecordEvent], ...] = (
    SubjectRegistered,
    *RECORD_EVENT_TYPES.values(),
)
for _cls in _STORED:
    register_topic(_cls.TOPIC, _cls)
