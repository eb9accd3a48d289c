"""The event catalogue: every fact a subject's credit file can hold, with stable names.

Each class has a stable `TOPIC` ("credit:<Name>") that is stored with the event, so moving or
renaming a class never breaks an old stream, and a `class_version` with upcasters beside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

SUBJECT_KINDS = ("enterprise", "individual", "vehicle", "public_body")
LIST_TYPES = ("red", "black", "watch")
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


@dataclass(frozen=True)
class BySeverity:
    """Published for its severity's period (信用信息公示期限) under the policy in force on its
    decision date. `procedure` names the field saying how it was decided (a simplified-procedure
    penalty may be treated as minor), `categories` and `licence_action` the fields of its penalty
    categories (CF_CFLB) and licence action (CF_NR_ZKDX), which may make it minor or keep it
    published for the whole maximum, `declared_end` the field of an end date the authority
    declared (CF_GSJZQ), honoured within the period's minimum and maximum."""

    procedure: str | None = None
    declared_end: str | None = None
    categories: str | None = None
    licence_action: str | None = None


@dataclass(frozen=True)
class Span:
    """Published from the date in field `start` until the one in field `end` (exclusive; no end
    field, or no date in it: until a follow-up ends the record). A record whose field
    `unless[0]` holds `unless[1]` is not published at all."""

    start: str = "decision_date"
    end: str | None = None
    unless: tuple[str, str] | None = None


@dataclass(frozen=True)
class NamedPeriod:
    """Published from its decision date for the period the policy in force on that date gives
    under `name` (`[version.publication_periods.<name>]`): whether the kind is published at all,
    and for how many months. For kinds whose publication no rule ties to a severity or to the
    record's own dates, so that the operator decides it per policy version."""

    name: str


@dataclass(frozen=True)
class ActsOn:
    """The earlier record of the same subject a record acts on: the field naming it, the types
    it may be (None: any record but a correction or revocation), and what it does to it: `ends`
    it (closes it on this record's decision date; a second closing record is refused), `revokes`
    it or `corrects` it. Only the authority that made the earlier record may act on it
    (谁认定、谁修复); `action` is the verb said when another one tries."""

    field: str
    types: tuple[str, ...] | None
    action: str
    effect: Literal["ends", "revokes", "corrects"]


@dataclass(frozen=True)
class RestsOn:
    """The earlier conduct record of the same subject a record rests on, named in `field` (None
    there: it rests on none). Cited, not acted on: the record changes nothing in it, and may be
    another authority's decision. It must stand when cited (not repaired, not revoked), and the
    record lapses with it: once that record is repaired or revoked, or a correction names one
    that is, this one is no longer published, shared or used (信用修复管理办法 art. 3)."""

    field: str


@dataclass(frozen=True)
class RecordTraits:
    """What a record type is, declared once on its event class; the rules, the read model, the
    queries and docs/record-types.md read it from here.

    - family: its group in the read model and in a status's published counts (`by_family`).
    - summary: the fields joined into its one-line summary in record lists.
    - published: its publication window (BySeverity, Span or NamedPeriod); None: never
      published on its own.
    - acts_on: the earlier record it ends, revokes or corrects (ActsOn); None: none.
    - rests_on: the earlier conduct record it rests on and lapses with (RestsOn); None: none.
    - conduct: 失信 conduct, graded by severity: published for its severity's period, deducted
      from grades, counted toward the watch list and warnings, open to credit repair, a
      possible basis of a list entry.
    - rule_input: the status rules (grades, lists, tier, warnings) read its rows.
    - credit_decision: a decision on the subject's credit (conduct found, a list entry, a
      rating): its authority is a deciding agency of the subject, which may read who looked
      at the subject's file. Licences, commitments, commendations, follow-ups and amendments
      are not.
    - follow_up: folded into the record it acts on, and not listed on its own.
    - published_after_end: a follow-up that ends it leaves its publication as it was (a
      commitment fulfilled or breached stays published); otherwise publication stops on the
      day it was ended, if that is sooner.
    """

    family: str
    summary: tuple[str, ...]
    published: BySeverity | Span | NamedPeriod | None = None
    acts_on: ActsOn | None = None
    rests_on: RestsOn | None = None
    conduct: bool = False
    rule_input: bool = False
    credit_decision: bool = False
    follow_up: bool = False
    published_after_end: bool = False

    def __post_init__(self) -> None:
        if self.conduct and not (self.rule_input and isinstance(self.published, BySeverity)):
            raise ValueError("conduct is a rule input, published for its severity's period")
        if self.follow_up and self.acts_on is None:
            raise ValueError("a follow-up acts on an earlier record")


# Every record type by name, in the order declared: filled as each RecordEvent subclass is
# defined (see RecordEvent.__init_subclass__).
RECORD_EVENT_TYPES: dict[str, type[RecordEvent]] = {}


class RecordEvent(Aggregate.Event):
    """Base of every recorded fact. `decision_date` is the valid time (when it happened
    legally); the event's `timestamp` is the recorded time (when this service learnt it).

    A subclass is a record type: it declares its own TOPIC and TRAITS, and is registered (its
    name in RECORD_EVENT_TYPES, its topic with the event store) when it is defined.

    `sector` is the transport sector (行业: road_transport, waterway_transport ...) the record
    belongs to, one of its subject's sectors, for the per-sector statements of a 专项信用报告;
    None when the recorder named none and none could be told (see
    service/access/permissions.py `RecordingPermit.sector_for`). Events stored before it
    existed hold no such key and load with None, the class default: their shape is otherwise
    unchanged, so no record type needed a new version for it."""

    TOPIC: ClassVar[str] = "credit:RecordEvent"
    TRAITS: ClassVar[RecordTraits]
    record_id: UUID
    decision_date: date
    authority_name: str
    authority_code: str
    source_ref: str
    recorded_by: str
    request_key: str | None
    # Keyword-only: the record types' own fields, without defaults, follow it.
    sector: str | None = dataclasses.field(default=None, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_record_type(cls)

    def apply(self, aggregate: Any) -> None:
        aggregate.on_record(self)


def register_record_type(cls: type[RecordEvent]) -> None:
    """Add a record type to the catalogue and its topic to the event store's."""
    own = vars(cls)
    if "TOPIC" not in own or not isinstance(own.get("TRAITS"), RecordTraits):
        raise TypeError(f"record type {cls.__name__} must declare its own TOPIC and TRAITS")
    if cls.__name__ in RECORD_EVENT_TYPES:
        raise TypeError(f"record type {cls.__name__} is declared twice")
    register_topic(cls.TOPIC, cls)
    RECORD_EVENT_TYPES[cls.__name__] = cls


def unregister_record_type(cls: type[RecordEvent]) -> None:
    """Take a record type out of the catalogue (for tests that declare one of their own). Its
    topic stays resolvable: the event store keeps no way to forget one."""
    if RECORD_EVENT_TYPES.get(cls.__name__) is cls:
        del RECORD_EVENT_TYPES[cls.__name__]


def traits_of(record_type: str) -> RecordTraits:
    return RECORD_EVENT_TYPES[record_type].TRAITS


class LicenceGranted(RecordEvent):
    """行政许可 granted or changed (双公示 XK_* fields). v2 added the standard's 法定代表人,
    数据来源单位 with its code, and 备注."""

    TOPIC = "credit:LicenceGranted"
    TRAITS = RecordTraits(
        family="licence",
        summary=("licence_type", "document_name"),
        published=Span(end="valid_until"),
    )
    class_version = 2
    licence_type: str  # XK_XKLB
    document_name: str  # XK_XKWS
    content: str  # XK_NR
    valid_from: date  # XK_YXQZ
    valid_until: date | None = None  # XK_YXQZI
    certificate_name: str | None = None  # XK_XKZS
    licence_number: str | None = None  # XK_XKBH
    legal_representative: str | None = None  # XK_FRDB, an organisation's 法定代表人
    data_source_name: str | None = None  # XK_LYDW 数据来源单位
    data_source_code: str | None = None  # XK_LYDWDM, its unified social credit code
    remarks: str | None = None  # BZ 备注

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Version 1 predates the standard's fields above; no version 1 licence holds them.
        for name in ("legal_representative", "data_source_name", "data_source_code", "remarks"):
            state[name] = None


class LicenceRevoked(RecordEvent):
    """行政许可 revoked or withdrawn; ends the licence record it names."""

    TOPIC = "credit:LicenceRevoked"
    TRAITS = RecordTraits(
        family="licence",
        summary=("reason",),
        published=Span(),
        acts_on=ActsOn("licence_record_id", ("LicenceGranted",), "revoke", "ends"),
    )
    reason: str
    licence_record_id: UUID | None = None


class PenaltyDecided(RecordEvent):
    """行政处罚 decided (双公示 CF_* fields). v2 added `procedure` (简易/普通程序); v3 the
    standard's 法定代表人, 处罚有效期, 数据来源单位 with its code, and 备注."""

    TOPIC = "credit:PenaltyDecided"
    TRAITS = RecordTraits(
        family="penalty",
        summary=("violation_type",),
        published=BySeverity(
            procedure="procedure",
            declared_end="declared_publication_end",
            categories="penalty_categories",
            licence_action="licence_action",
        ),
        conduct=True,
        rule_input=True,
        credit_decision=True,
    )
    class_version = 3
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
    legal_representative: str | None = None  # CF_FRDB, an organisation's 法定代表人
    effective_until: date | None = None  # CF_YXQ 处罚有效期
    data_source_name: str | None = None  # CF_SJLY 数据来源单位
    data_source_code: str | None = None  # CF_SJLYDM, its unified social credit code
    remarks: str | None = None  # BZ 备注

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Version 1 predates the procedure field; every v1 penalty went through the general one.
        state["procedure"] = "general"

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        # Version 2 predates the standard's fields above; no version 2 penalty holds them.
        for name in (
            "legal_representative",
            "effective_until",
            "data_source_name",
            "data_source_code",
            "remarks",
        ):
            state[name] = None


class DishonestConductRecorded(RecordEvent):
    """失信行为 recorded (e.g. overload, refusal to carry, false materials)."""

    TOPIC = "credit:DishonestConductRecorded"
    TRAITS = RecordTraits(
        family="conduct",
        summary=("conduct_type",),
        published=BySeverity(),
        conduct=True,
        rule_input=True,
        credit_decision=True,
    )
    severity: str
    conduct_type: str
    description: str
    legal_basis: str | None = None


class CommitmentMade(RecordEvent):
    """信用承诺 made."""

    TOPIC = "credit:CommitmentMade"
    TRAITS = RecordTraits(
        family="commitment",
        summary=("commitment_type",),
        published=Span(),
        rule_input=True,
        published_after_end=True,
    )
    commitment_type: str
    content: str
    due_date: date | None = None


class CommitmentFulfilled(RecordEvent):
    TOPIC = "credit:CommitmentFulfilled"
    TRAITS = RecordTraits(
        family="commitment_outcome",
        summary=("note",),
        acts_on=ActsOn("commitment_record_id", ("CommitmentMade",), "close", "ends"),
        follow_up=True,
    )
    commitment_record_id: UUID
    note: str = ""


class CommitmentBreached(RecordEvent):
    """A breached commitment is itself dishonest conduct, with a severity."""

    TOPIC = "credit:CommitmentBreached"
    TRAITS = RecordTraits(
        family="conduct",
        summary=("description",),
        published=BySeverity(),
        acts_on=ActsOn("commitment_record_id", ("CommitmentMade",), "close", "ends"),
        conduct=True,
        rule_input=True,
        credit_decision=True,
    )
    commitment_record_id: UUID
    severity: str
    description: str


class RatingIssued(RecordEvent):
    """信用评价 / 质量信誉考核 / 驾驶员诚信考核 result, valid for a period."""

    TOPIC = "credit:RatingIssued"
    TRAITS = RecordTraits(
        family="rating",
        summary=("scheme", "grade"),
        published=Span(start="valid_from", end="valid_until"),
        rule_input=True,
        credit_decision=True,
    )
    scheme: str
    grade: str
    valid_from: date
    valid_until: date
    score: Decimal | None = None


class ListEntered(RecordEvent):
    """Entered the red (守信激励), black (严重失信主体) or watch (重点关注) list. v2 added
    `basis_record_id`: the conduct record the entry rests on, if any (the entry lapses when
    that record is repaired or revoked)."""

    TOPIC = "credit:ListEntered"
    # A watch-list entry (重点关注) is not published; red and black ones are until their end.
    # `basis_record_id` is cited, not acted on: the entry changes nothing in that record, and
    # the list decision may be another authority's (a provincial department listing a subject
    # on a city enforcement unit's penalty); closing the entry is then the listing authority's.
    TRAITS = RecordTraits(
        family="list",
        summary=("list_type", "basis"),
        published=Span(end="planned_end", unless=("list_type", "watch")),
        rests_on=RestsOn("basis_record_id"),
        rule_input=True,
        credit_decision=True,
    )
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
    TRAITS = RecordTraits(
        family="list_exit",
        summary=("reason",),
        acts_on=ActsOn("entry_record_id", ("ListEntered",), "close", "ends"),
        follow_up=True,
    )
    entry_record_id: UUID
    reason: str


class InterviewHeld(RecordEvent):
    """提示约谈 (prompt) or 警示约谈 (warning)."""

    TOPIC = "credit:InterviewHeld"
    TRAITS = RecordTraits(family="interview", summary=("interview_type", "matter"))
    interview_type: str
    matter: str


class CommendationGranted(RecordEvent):
    """诚信典型 or another commendation."""

    TOPIC = "credit:CommendationGranted"
    TRAITS = RecordTraits(family="commendation", summary=("title",), published=Span())
    title: str
    description: str = ""


class JointMeasureApplied(RecordEvent):
    """联合奖惩反馈: a reward or punishment another agency applied because of this file."""

    TOPIC = "credit:JointMeasureApplied"
    TRAITS = RecordTraits(family="joint_measure", summary=("measure_type", "measure"))
    measure_type: str  # "reward" | "punishment"
    measure: str
    applying_agency: str
    matter: str


# The five further kinds of administrative information (行政强制, 行政确认, 行政裁决, 行政奖励,
# 行政监督检查) an agency reports to the credit-information sharing platform within 7 working days
# of the decision (运交法安函〔2023〕129号, item 四). No national data standard we hold names their
# fields as the 双公示 one does for licences and penalties, so each carries the common ones
# (subject, decision number `source_ref`, `decision_date`, deciding authority and its code), its
# category, its content and basis, and the reporting unit (数据来源单位) when that is not the
# deciding authority. Whether and how long each is published is the policy's (`NamedPeriod`).
# None is conduct or a rule input: 行政奖励 is 守信 information, and 行政强制 serves a decision or
# a case whose own record (a penalty, dishonest conduct) carries any finding of dishonesty.


class AdministrativeCoercionApplied(RecordEvent):
    """行政强制 (行政强制法 art. 2): a coercive measure (行政强制措施, art. 9: 查封, 扣押, 冻结 ...)
    or the enforcement of a decision the subject did not carry out (行政强制执行, art. 12: 加处罚款,
    划拨, 拍卖, 代履行 ...)."""

    TOPIC = "credit:AdministrativeCoercionApplied"
    TRAITS = RecordTraits(
        family="coercion",
        summary=("measure",),
        published=NamedPeriod("administrative_coercion"),
    )
    coercion_kind: str  # "measure" (行政强制措施) | "execution" (行政强制执行)
    measure: str  # its kind or means, e.g. 扣押财物, 代履行
    legal_basis: str
    content: str
    data_source_name: str | None = None  # 数据来源单位, when not the deciding authority
    data_source_code: str | None = None


class AdministrativeConfirmationMade(RecordEvent):
    """行政确认: a status, qualification or fact confirmed (e.g. a vehicle's technical grade)."""

    TOPIC = "credit:AdministrativeConfirmationMade"
    TRAITS = RecordTraits(
        family="confirmation",
        summary=("confirmation_type",),
        published=NamedPeriod("administrative_confirmation"),
    )
    confirmation_type: str
    content: str
    legal_basis: str | None = None
    data_source_name: str | None = None
    data_source_code: str | None = None


class AdministrativeAdjudicationMade(RecordEvent):
    """行政裁决: a dispute the law gives an authority to decide (e.g. compensation for damage to
    a highway), decided."""

    TOPIC = "credit:AdministrativeAdjudicationMade"
    TRAITS = RecordTraits(
        family="adjudication",
        summary=("adjudication_type",),
        published=NamedPeriod("administrative_adjudication"),
    )
    adjudication_type: str
    content: str  # the ruling
    legal_basis: str | None = None
    data_source_name: str | None = None
    data_source_code: str | None = None


class AdministrativeRewardGranted(RecordEvent):
    """行政奖励: a reward an authority granted by law (守信 information)."""

    TOPIC = "credit:AdministrativeRewardGranted"
    TRAITS = RecordTraits(
        family="reward",
        summary=("reward_name",),
        published=NamedPeriod("administrative_reward"),
    )
    reward_name: str
    content: str
    legal_basis: str | None = None
    data_source_name: str | None = None
    data_source_code: str | None = None


class AdministrativeInspectionConducted(RecordEvent):
    """行政监督检查: an inspection (双随机抽查, a special or routine inspection) and its result."""

    TOPIC = "credit:AdministrativeInspectionConducted"
    TRAITS = RecordTraits(
        family="inspection",
        summary=("inspection_type", "result"),
        published=NamedPeriod("administrative_inspection"),
    )
    inspection_type: str
    matter: str
    result: str
    legal_basis: str | None = None
    data_source_name: str | None = None
    data_source_code: str | None = None


class RecordCorrected(RecordEvent):
    """An earlier record's content corrected; history keeps both versions."""

    TOPIC = "credit:RecordCorrected"
    TRAITS = RecordTraits(
        family="correction",
        summary=("reason",),
        acts_on=ActsOn("target_record_id", None, "correct", "corrects"),
        follow_up=True,
    )
    target_record_id: UUID
    changes: dict[str, Any]
    reason: str


class RecordRevoked(RecordEvent):
    """An earlier record revoked (e.g. a penalty annulled on administrative review)."""

    TOPIC = "credit:RecordRevoked"
    TRAITS = RecordTraits(
        family="revocation",
        summary=("reason",),
        acts_on=ActsOn("target_record_id", None, "revoke", "revokes"),
        follow_up=True,
    )
    target_record_id: UUID
    reason: str


def record_types(has: Callable[[RecordTraits], bool]) -> tuple[str, ...]:
    """The names of the record types whose traits satisfy `has`, in the order declared."""
    return tuple(name for name, cls in RECORD_EVENT_TYPES.items() if has(cls.TRAITS))


# Views of the declarations, taken once every type above is declared (a record type declared
# later, as in a test, is read live by the catalogue and the trait of each record, not here).
CONDUCT_TYPES = record_types(lambda t: t.conduct)
RULE_INPUT_TYPES = record_types(lambda t: t.rule_input)
CREDIT_DECISION_TYPES = record_types(lambda t: t.credit_decision)
FOLLOW_UP_TYPES = record_types(lambda t: t.follow_up)
# Records that rest on a conduct record and lapse with it (a list entry on its basis).
RESTING_TYPES = record_types(lambda t: t.rests_on is not None)
# Records that amend another (a correction or a revocation): they cannot be amended, nor
# objected to, themselves.
AMENDMENT_TYPES = record_types(
    lambda t: t.acts_on is not None and t.acts_on.effect in ("revokes", "corrects")
)

# Fields every record shares; the rest of a record's fields are its details.
COMMON_FIELDS = frozenset(field.name for field in dataclasses.fields(RecordEvent))
# Fields a correction may not change: they identify the record or who made it, or (its
# sector) the part of the subject's file it was recorded in, checked against the recorder.
IDENTITY_FIELDS = frozenset(
    {"record_id", "authority_code", "source_ref", "recorded_by", "request_key", "sector"}
)

register_topic(SubjectRegistered.TOPIC, SubjectRegistered)
