"""Commands: the validated shape of what a recording agency asks for (HTTP bodies and import
rows alike). Each record command maps one-to-one onto the domain event its `type` names."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError

from domain import codes
from domain.events import COMMITMENT_TYPES, LIST_TYPES, RECORD_EVENT_TYPES, SUBJECT_KINDS
from domain.policy import GRADE_MAX_LENGTH, SCHEME_NAME_MAX_LENGTH

Text = Annotated[str, Field(min_length=1, max_length=2000)]
LongText = Annotated[str, Field(min_length=1, max_length=20000)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=6)]
Severity = Literal["minor", "general", "serious"]


def _uscc(value: str) -> str:
    value = _plain_identifier(value)
    try:
        return codes.normalise_uscc(value)
    except codes.InvalidCode as error:
        raise ValueError(error.reason) from None


def _region(value: str) -> str:
    try:
        return codes.normalise_region_code(value)
    except codes.InvalidCode as error:
        raise ValueError(error.reason) from None


AuthorityCode = Annotated[str, AfterValidator(_uscc)]
RegionCode = Annotated[str, AfterValidator(_region)]


# Deeper JSON than this is refused (as malformed-json, like JSON the parser gives up on): no
# command needs more than a few levels, and walking deeper ones recursively could overflow.
MAX_NESTING = 32
# Format characters a free text may keep: zero-width (non-)joiners shape some scripts and emoji.
_TEXT_FORMAT_ALLOWED = frozenset("\u200c\u200d")
_TEXT_CONTROLS_ALLOWED = frozenset("\t\n\r")


def _invisible(value: str, *, identifier: bool) -> str | None:
    """The first control (Cc) or format (Cf) character of `value` that its kind of field may
    not hold, said with its position: zero-width and bidirectional-control characters make a
    second reference or name look identical to the first. A free text keeps tab, line breaks
    and the zero-width joiners; an identifier or a name keeps none."""
    if value.isprintable():  # fast path: no Cc or Cf character at all
        return None
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category == "Cc":
            if identifier or char not in _TEXT_CONTROLS_ALLOWED:
                return f"contains the control character U+{ord(char):04X} at position {position}"
        elif category == "Cf" and (identifier or char not in _TEXT_FORMAT_ALLOWED):
            name = unicodedata.name(char, "format character")
            return (
                f"contains the invisible character U+{ord(char):04X} ({name}) at position "
                f"{position}: retype it"
            )
    return None


def _plain_identifier(value: str, max_length: int | None = None) -> str:
    """Codes, references and names: NFKC (full-width letters and digits fold to ASCII, so that
    ＣＦ-2026-001 and CF-2026-001 are one reference), then no control or format character.
    NFKC can lengthen a text (one ligature becomes up to 18 characters), so the length is
    checked again: the read models keep these in columns of that size."""
    if not value.isascii():  # ASCII text is its own NFKC: most codes and references are
        value = unicodedata.normalize("NFKC", value)
    value = value.strip()
    if (problem := _invisible(value, identifier=True)) is not None:
        raise ValueError(problem)
    if max_length is not None and len(value) > max_length:
        raise ValueError(
            f"has {len(value)} characters once normalised (NFKC); at most {max_length}"
        )
    return value


def plain(max_length: int) -> AfterValidator:
    """The validator of a code, reference or name of at most `max_length` characters."""
    return AfterValidator(lambda value: _plain_identifier(value, max_length))


REFERENCE_CHARS = 200  # a decision number (文号), as sent and as an applicant types it
Reference = Annotated[str, Field(min_length=1, max_length=REFERENCE_CHARS), plain(REFERENCE_CHARS)]
NAME_CHARS = 200  # a subject's, an authority's, an applicant's
Name = Annotated[str, Field(min_length=1, max_length=NAME_CHARS), plain(NAME_CHARS)]


def _text_problem(value: str, where: str) -> str | None:
    label = where or "value"
    if "\x00" in value:
        return f"{label}: contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{label}: contains a lone UTF-16 surrogate"
    if (problem := _invisible(value, identifier=False)) is not None:
        return f"{label}: {problem}"
    return None


# The field names of every Input model, all printable: a body's keys are mostly these, and a
# set's lookup costs less than reading each key's characters again.
_PRINTABLE_NAMES: set[str] = set()
# What else a flat body may hold: numbers and dates (a tuple, not a union built at each call).
_PLAIN_VALUES = (int, float, Decimal, date)


def _plainly_storable(value: Any) -> bool:
    """Whether `value` is a flat body (a request's, an import row's: texts, numbers, dates and
    lists of texts by name) whose every text is printable: then no text of it holds a NUL, a
    lone surrogate (category Cs) or a control or format character, and `_unstorable` has
    nothing to name. Anything else is walked by `_unstorable`."""
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if not (isinstance(key, str) and (key in _PRINTABLE_NAMES or key.isprintable())):
            return False
        if isinstance(item, str):
            if not item.isprintable():
                return False
        elif isinstance(item, list):
            for part in item:
                if not (isinstance(part, str) and part.isprintable()):
                    return False
        elif not (item is None or isinstance(item, _PLAIN_VALUES)):
            return False
    return True


def _unstorable(value: Any, where: str) -> str | None:
    """Where a string in `value` holds what no store keeps (PostgreSQL text has no NUL, and
    UTF-8 no lone surrogate: JSON's "\\ud800" decodes to one) or what no text should (a
    control or invisible format character). Walked without recursion; raises for nesting
    deeper than MAX_NESTING. A flat body of printable texts is passed at once (each text's
    walk cost the import a sixth of its time)."""
    if _plainly_storable(value):
        return None
    pending: list[tuple[Any, str, int]] = [(value, where, 0)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            if (found := _text_problem(item, path)) is not None:
                return found
            continue
        if isinstance(item, dict):
            items: Any = item.items()
        elif isinstance(item, list | tuple):
            items = enumerate(item)
        else:
            continue
        if depth >= MAX_NESTING:
            raise PydanticCustomError(
                "json_too_deep",
                "nested deeper than {levels} levels",
                {"levels": MAX_NESTING},
            )
        children = []
        for key, child in items:
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (found := _text_problem(key, child_path)) is not None:
                return found
            children.append((child, child_path, depth + 1))
        pending.extend(reversed(children))  # depth first, in order: the first problem is named
    return None


class Input(BaseModel):
    """Every request body and import row: its text must be storable as sent, or it is refused
    here (422) instead of failing in the database or stopping a projection later."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _PRINTABLE_NAMES.update(name for name in cls.model_fields if name.isprintable())

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        if (problem := _unstorable(data, "")) is not None:
            raise ValueError(problem)
        return data


class Command(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class RegisterSubject(Command):
    """Open a subject's credit file. The code is validated by `kind` in the service, since
    a resident ID's birth date is checked against today's date."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "enterprise",
                    "code": "91410105MA00000016",
                    "name": "郑州宏达道路运输有限公司",
                    "region_code": "410105",
                    "sectors": ["road_transport"],
                }
            ]
        }
    )
    kind: Literal["enterprise", "individual", "vehicle", "public_body"] = Field(
        description="enterprise or organisation (统一社会信用代码), individual practitioner "
        "(resident ID), vehicle (plate) or public body"
    )
    code: Annotated[str, Field(min_length=5, max_length=32), plain(32)] = Field(
        description="the subject's code, checked by `kind`: an 18-character USCC (its check "
        "character too), an 18-digit resident ID (birth date and check digit) or a plate number"
    )
    name: Name = Field(description="the subject's name, as registered (企业名称 or 姓名)")
    region_code: RegionCode = Field(
        description="the 6-digit administrative division code (行政区划代码) of its registration"
    )
    sectors: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=20)
    ] = Field(
        default=[],
        description="the transport sectors it works in (road_transport, waterway_transport, "
        "highway_construction ...); a recorder may record only in its own sectors",
    )
    # Contact details: sealed at rest for individuals, like the ID number.
    phone: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[0-9+\- ]+$")] | None = (
        Field(default=None, description="a contact phone number; sealed at rest for individuals")
    )
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="a contact address; sealed at rest for individuals"
    )


assert set(get_args(RegisterSubject.model_fields["kind"].annotation)) == set(SUBJECT_KINDS)


class RecordCommands(Mapping[str, "type[RecordCommand]"]):
    """The record commands by the record type they make, and the discriminated union of them
    all (on `type`) that validates a request body or an import row into one of them.

    A RecordCommand subclass is registered as it is defined; `unregister` takes one out again
    (a test that declares a record type of its own). The union follows the registrations."""

    def __init__(self) -> None:
        self._models: dict[str, type[RecordCommand]] = {}
        self._adapter: TypeAdapter[RecordCommand] | None = None

    def register(self, model: type[RecordCommand]) -> None:
        named = get_args(model.model_fields["type"].annotation)
        record_type = named[0] if len(named) == 1 else None
        if not isinstance(record_type, str) or record_type not in RECORD_EVENT_TYPES:
            raise TypeError(
                f"{model.__name__}.type must be Literal[<record type>] of an event declared in "
                f"domain/events.py, not {model.model_fields['type'].annotation}"
            )
        if record_type in self._models:
            raise TypeError(f"{record_type} already has its command, {self._models[record_type]}")
        self._models[record_type] = model
        self._adapter = None

    def unregister(self, model: type[RecordCommand]) -> None:
        for record_type, registered in list(self._models.items()):
            if registered is model:
                del self._models[record_type]
                self._adapter = None

    def __getitem__(self, record_type: str) -> type[RecordCommand]:
        return self._models[record_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def union(self) -> Any:
        """The union of the commands registered now, as an annotation (a request body's)."""
        return Annotated[Union[tuple(self._models.values())], Field(discriminator="type")]  # noqa: UP007

    def validate_python(self, data: Any) -> RecordCommand:
        """The command `data` asks for, by its `type`; raises pydantic's ValidationError."""
        if self._adapter is None:
            self._adapter = TypeAdapter(self.union())
        return self._adapter.validate_python(data)


RECORD_COMMANDS = RecordCommands()


# The `type` field of every record command: which record it is.
RECORD_TYPE = "the record type; it chooses which fields the record has"
# The earlier record a follow-up acts on, by the record_id its recording answered.
EARLIER_RECORD = "the record_id of the {} this acts on (the same authority's record)"


class RecordCommand(Command):
    """Fields every record carries: valid time, recording authority, source reference. A
    subclass is the command of one record type (`type: Literal["<event name>"]`)."""

    type: str = Field(description=RECORD_TYPE)
    decision_date: date = Field(
        description="valid time: the day the decision was taken (决定日期), from which any "
        "publication period counts; not after today"
    )
    authority_name: Name = Field(description="the deciding authority's name (决定机关)")
    authority_code: AuthorityCode = Field(
        description="the deciding authority's unified social credit code; the client must "
        "record for it"
    )
    source_ref: Reference = Field(
        description="the decision's document number (文号): a record is one per type, "
        "authority_code and source_ref, however often it is sent"
    )
    sector: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="the transport sector the record belongs to (road_transport, "
        "waterway_transport ...), for a 专项信用报告's per-sector statements: one of the "
        "subject's sectors and one the client may record for. Omitted: the one sector the "
        "client and the subject share, if exactly one; none otherwise",
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        RECORD_COMMANDS.register(cls)

    def event_fields(self) -> dict[str, Any]:
        """The fields but the type, as `model_dump` gives them: taken from the command itself
        where every value is one `model_dump` gives back as it is, or a list of texts (which it
        copies), without its walk of the schema (3.4 µs of an import's row, 0.3 µs so)."""
        fields = dict(self.__dict__)
        del fields["type"]
        for name, value in fields.items():
            kind = type(value)
            if kind is list and all(type(part) is str for part in value):
                fields[name] = list(value)
            elif kind not in _DUMPED_AS_THEY_ARE:
                return self.model_dump(exclude={"type"})
        return fields


# The values `model_dump` (Python mode) gives back as they are, by exact type.
_DUMPED_AS_THEY_ARE = frozenset({str, int, bool, type(None), Decimal, date, UUID})


def _example(record_type: str, source_ref: str, decision_date: str, **fields: Any) -> ConfigDict:
    """A command's example, as an agency would send it (the deciding authority of them all:
    郑州市交通运输综合执法支队)."""
    return ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": record_type,
                    "decision_date": decision_date,
                    "authority_name": "郑州市交通运输综合执法支队",
                    "authority_code": "11410100MB00000018",
                    "source_ref": source_ref,
                    **fields,
                }
            ]
        }
    )


_EARLIER = "9b2f7c1e-5d4a-4e8b-8c3f-2a1d0e9f8b7c"


class ReportingUnit(Command):
    """The reporting unit (数据来源单位) of a record: the 双公示 standard's field of a licence and
    a penalty (CF_SJLY, XK_LYDW), and of a further kind of administrative information when it is
    not the deciding authority."""

    data_source_name: Name | None = Field(
        default=None,
        description="the reporting unit (数据来源单位), when it is not the deciding authority or "
        "the 双公示 standard asks for it",
    )
    data_source_code: AuthorityCode | None = Field(
        default=None, description="the reporting unit's unified social credit code, with its name"
    )


class StandardFields(ReportingUnit):
    """What the 双公示 standard asks of a licence and a penalty alike beyond their own fields:
    the organisation's legal representative, the reporting unit and the remarks."""

    legal_representative: Name | None = Field(
        default=None,
        description="the organisation's legal representative (法定代表人), by name, as the "
        "business registration and the 双公示 standard publish it; not for a natural person or a "
        "vehicle. Published with the record; the representative's ID number is not taken",
    )
    remarks: Text | None = Field(
        default=None, description="the authority's remarks on the record (备注); published with it"
    )


class GrantLicence(RecordCommand, StandardFields):
    """行政许可: a licence granted (the XK_* columns of an import)."""

    model_config = _example(
        "LicenceGranted",
        "豫交许〔2025〕0001号",
        "2025-03-01",
        licence_type="普通",
        document_name="道路运输经营许可证",
        content="道路普通货物运输",
        valid_from="2025-03-01",
        valid_until="2029-03-01",
        legal_representative="张建国",
    )
    type: Literal["LicenceGranted"] = Field(description=RECORD_TYPE)
    licence_type: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="the licence category (许可类别), e.g. 普通, 特许, 认可, 核准, 登记"
    )
    document_name: Text = Field(
        description="the licence decision's document name (许可决定文书名称)"
    )
    content: LongText = Field(description="what is licensed (许可内容)")
    valid_from: date = Field(description="first day the licence is valid (有效期自)")
    valid_until: date | None = Field(
        default=None, description="last day it is valid (有效期至); null: no end"
    )
    certificate_name: Annotated[str, Field(max_length=200), plain(200)] | None = Field(
        default=None, description="the certificate's name (许可证书名称)"
    )
    licence_number: Annotated[str, Field(max_length=200), plain(200)] | None = Field(
        default=None, description="the licence number (许可编号)"
    )


class RevokeLicence(RecordCommand):
    """A licence revoked (吊销/撤销许可)."""

    model_config = _example(
        "LicenceRevoked",
        "豫交许撤〔2026〕0003号",
        "2026-11-01",
        reason="以欺骗手段取得许可",
        licence_record_id=_EARLIER,
    )
    type: Literal["LicenceRevoked"] = Field(description=RECORD_TYPE)
    reason: Text = Field(description="why it was revoked")
    licence_record_id: UUID | None = Field(
        default=None, description=EARLIER_RECORD.format("LicenceGranted") + ", if recorded here"
    )


class DecidePenalty(RecordCommand, StandardFields):
    """行政处罚: a penalty decided (the CF_* columns of an import)."""

    model_config = _example(
        "PenaltyDecided",
        "郑交执罚〔2026〕0001号",
        "2026-10-15",
        severity="general",
        procedure="general",
        violation_type="超限运输",
        facts="车辆超限 30% 行驶高速公路",
        legal_basis="《公路安全保护条例》第六十四条",
        penalty_categories=["罚款"],
        content="罚款人民币贰万元",
        fine_amount="2.0",
        legal_representative="张建国",
        effective_until="2027-10-14",
    )
    type: Literal["PenaltyDecided"] = Field(description=RECORD_TYPE)
    severity: Severity = Field(
        description="minor (轻微), general (一般) or serious (严重): sets the publication period "
        "under the policy in force on decision_date"
    )
    procedure: Literal["simplified", "general"] = Field(
        default="general",
        description="simplified (简易程序: e.g. a warning or small fine on the spot) or general",
    )
    violation_type: Text = Field(description="the kind of violation (违法行为类型)")
    facts: LongText = Field(description="the facts found (违法事实)")
    legal_basis: Text = Field(description="the provisions applied (处罚依据)")
    penalty_categories: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=10)
    ] = Field(description="the kinds of penalty (处罚类别): 警告, 罚款, 没收违法所得 ...")
    content: LongText = Field(description="the penalty decided (处罚内容)")
    fine_amount: Amount | None = Field(default=None, description="the fine, in 万元 (罚款金额)")
    confiscated_amount: Amount | None = Field(
        default=None, description="illegal gains or property confiscated, in 万元"
    )
    licence_action: Annotated[str, Field(max_length=500)] | None = Field(
        default=None,
        description="a licence suspended or revoked, by name and number (暂扣或吊销证照名称及编号)",
    )
    declared_publication_end: date | None = Field(
        default=None,
        description="the end of publication the authority declared (公示截止期), honoured within "
        "the policy's minimum and maximum",
    )
    effective_until: date | None = Field(
        default=None,
        description="the last day the penalty decision has effect (处罚有效期), a date (files "
        "often write 2099-12-31 for 长期); it does not set the publication period",
    )


class RecordDishonestConduct(RecordCommand):
    """失信行为: dishonest conduct found, other than by a penalty decision."""

    model_config = _example(
        "DishonestConductRecorded",
        "郑交信〔2026〕0007号",
        "2026-09-20",
        severity="serious",
        conduct_type="提供虚假材料",
        description="申请道路运输经营许可时提供虚假安全生产管理制度文本",
    )
    type: Literal["DishonestConductRecorded"] = Field(description=RECORD_TYPE)
    severity: Severity = Field(description="minor, general or serious, as for a penalty")
    conduct_type: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="the kind of conduct, e.g. 提供虚假材料, 拒载"
    )
    description: LongText = Field(description="what was found")
    legal_basis: Text | None = Field(default=None, description="the provisions it breaches")


class MakeCommitment(RecordCommand):
    """信用承诺: a credit commitment made."""

    model_config = _example(
        "CommitmentMade",
        "郑交诺〔2026〕0012号",
        "2026-05-10",
        commitment_type="approval_substitute",
        content="承诺所提交材料真实有效，3 个月内补齐车辆技术等级评定证明",
        due_date="2026-08-10",
    )
    type: Literal["CommitmentMade"] = Field(description=RECORD_TYPE)
    commitment_type: Literal[COMMITMENT_TYPES] = Field(  # type: ignore[valid-type]
        description="approval_substitute (审批替代型), deficiency_tolerant (容缺办理型), "
        "certification_notice (证明事项告知承诺), voluntary_disclosure (主动公示型), "
        "industry_self_discipline (行业自律型) or repair (修复型)"
    )
    content: LongText = Field(description="what the subject committed to")
    due_date: date | None = Field(default=None, description="by when, if the commitment says")


class FulfilCommitment(RecordCommand):
    """A commitment kept."""

    model_config = _example(
        "CommitmentFulfilled",
        "郑交诺〔2026〕0012号-履约",
        "2026-08-01",
        commitment_record_id=_EARLIER,
        note="已补齐车辆技术等级评定证明",
    )
    type: Literal["CommitmentFulfilled"] = Field(description=RECORD_TYPE)
    commitment_record_id: UUID = Field(description=EARLIER_RECORD.format("CommitmentMade"))
    note: Annotated[str, Field(max_length=2000)] = Field(default="", description="how it was kept")


class BreachCommitment(RecordCommand):
    """A commitment broken: dishonest conduct in itself."""

    model_config = _example(
        "CommitmentBreached",
        "郑交诺〔2026〕0012号-违约",
        "2026-08-15",
        commitment_record_id=_EARLIER,
        severity="general",
        description="逾期未补齐承诺的证明材料",
    )
    type: Literal["CommitmentBreached"] = Field(description=RECORD_TYPE)
    commitment_record_id: UUID = Field(description=EARLIER_RECORD.format("CommitmentMade"))
    severity: Severity = Field(description="minor, general or serious, as for a penalty")
    description: LongText = Field(description="how it was broken")


class IssueRating(RecordCommand):
    """信用评价: an official rating (质量信誉考核, 诚信考核 ...) under a scheme of the policy."""

    model_config = _example(
        "RatingIssued",
        "豫交评〔2026〕0001号",
        "2026-03-01",
        scheme="highway_construction",
        grade="A",
        score="88",
        valid_from="2026-03-01",
        valid_until="2027-03-01",
    )
    type: Literal["RatingIssued"] = Field(description=RECORD_TYPE)
    # The policy names the schemes in force on decision_date and their grades; the domain
    # refuses a scheme or grade it does not name.
    scheme: Annotated[
        str,
        Field(
            min_length=1,
            max_length=SCHEME_NAME_MAX_LENGTH,
            description="a rating scheme in force on decision_date under the credit policy",
        ),
    ]
    grade: Annotated[
        str,
        Field(
            min_length=1,
            max_length=GRADE_MAX_LENGTH,
            description="one of the scheme's grades under that policy version",
        ),
    ]
    valid_from: date = Field(description="first day the rating applies")
    valid_until: date = Field(description="last day it applies; after valid_from")
    # 100-point schemes, deducted points, or a 1000-point provincial scale
    score: Annotated[Decimal, Field(ge=0, le=1000, decimal_places=2)] | None = Field(
        default=None,
        description="the score, or the points deducted, on the scheme's scale (at most 1000)",
    )


class EnterList(RecordCommand):
    """A list decision: red (守信激励), black (严重失信主体) or watch list (重点关注)."""

    model_config = _example(
        "ListEntered",
        "豫交黑〔2026〕0001号",
        "2026-06-01",
        list_type="black",
        basis="一年内三次严重超限超载",
        planned_end="2029-06-01",
    )
    type: Literal["ListEntered"] = Field(description=RECORD_TYPE)
    list_type: Literal[LIST_TYPES] = Field(  # type: ignore[valid-type]
        description="red (守信激励), black (严重失信主体) or watch (重点关注)"
    )
    basis: Text = Field(description="why the subject is listed")
    planned_end: date | None = Field(default=None, description="when it is to leave the list")
    basis_record_id: UUID | None = Field(
        default=None,
        description="the conduct record it lists on, which may be another authority's: it is "
        "cited, not changed",
    )


class ExitList(RecordCommand):
    """A subject taken off a list."""

    model_config = _example(
        "ListExited",
        "豫交黑移〔2026〕0002号",
        "2026-12-01",
        entry_record_id=_EARLIER,
        reason="信用修复通过",
    )
    type: Literal["ListExited"] = Field(description=RECORD_TYPE)
    entry_record_id: UUID = Field(description=EARLIER_RECORD.format("ListEntered"))
    reason: Text = Field(description="why it leaves the list")


class HoldInterview(RecordCommand):
    """约谈: a prompt (提示) or warning (警示) interview held with the subject."""

    model_config = _example(
        "InterviewHeld",
        "郑交约〔2026〕0004号",
        "2026-07-08",
        interview_type="warning",
        matter="车辆动态监控不到位",
    )
    type: Literal["InterviewHeld"] = Field(description=RECORD_TYPE)
    interview_type: Literal["prompt", "warning"] = Field(
        description="prompt (提示约谈) or warning (警示约谈)"
    )
    matter: Text = Field(description="what it was about")


class GrantCommendation(RecordCommand):
    """诚信典型: a commendation."""

    model_config = _example(
        "CommendationGranted",
        "豫交表〔2026〕0002号",
        "2026-04-20",
        title="2025 年度诚信道路运输企业",
    )
    type: Literal["CommendationGranted"] = Field(description=RECORD_TYPE)
    title: Text = Field(description="the commendation's title")
    description: Annotated[str, Field(max_length=20000)] = Field(
        default="", description="what it was given for"
    )


class ApplyJointMeasure(RecordCommand):
    """联合奖惩: a joint reward or punishment another agency applied, as it reported back."""

    model_config = _example(
        "JointMeasureApplied",
        "郑发改信〔2026〕0031号",
        "2026-09-01",
        measure_type="punishment",
        measure="限制参与政府采购",
        applying_agency="郑州市财政局",
        matter="政府采购项目投标资格审查",
    )
    type: Literal["JointMeasureApplied"] = Field(description=RECORD_TYPE)
    measure_type: Literal["reward", "punishment"] = Field(
        description="reward (联合激励) or punishment (联合惩戒)"
    )
    measure: Text = Field(description="the measure applied")
    applying_agency: Name = Field(description="the agency that applied it")
    matter: Text = Field(description="the matter it was applied in")


# The further kinds of administrative information (domain/events.py says why these fields).

LEGAL_BASIS = "the legal basis (依据): the law and article it rests on"


class ApplyAdministrativeCoercion(RecordCommand, ReportingUnit):
    """行政强制: a coercive measure (行政强制措施), or the enforcement of a decision
    (行政强制执行)."""

    model_config = _example(
        "AdministrativeCoercionApplied",
        "郑交执强〔2026〕0007号",
        "2026-10-09",
        coercion_kind="measure",
        measure="扣押财物",
        legal_basis="《中华人民共和国行政强制法》第九条；《公路安全保护条例》第七十二条",
        content="扣押超限运输车辆一辆（豫A12345），期限三十日",
    )
    type: Literal["AdministrativeCoercionApplied"] = Field(description=RECORD_TYPE)
    coercion_kind: Literal["measure", "execution"] = Field(
        description="measure (行政强制措施, 行政强制法 art. 9) or execution (行政强制执行, art. 12)"
    )
    measure: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="its kind or means, e.g. 扣押财物, 代履行"
    )
    legal_basis: Text = Field(description=LEGAL_BASIS)
    content: LongText = Field(description="what was done, to what (强制内容)")


class MakeAdministrativeConfirmation(RecordCommand, ReportingUnit):
    """行政确认: a status, qualification or fact confirmed (e.g. a vehicle's technical grade)."""

    model_config = _example(
        "AdministrativeConfirmationMade",
        "郑交运确〔2026〕0012号",
        "2026-10-09",
        confirmation_type="道路运输车辆技术等级评定",
        content="豫A12345 评定为一级车",
        legal_basis="《道路运输车辆技术管理规定》",
    )
    type: Literal["AdministrativeConfirmationMade"] = Field(description=RECORD_TYPE)
    confirmation_type: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="what kind of confirmation (确认类别)"
    )
    content: LongText = Field(description="what was confirmed (确认内容)")
    legal_basis: Text | None = Field(default=None, description=LEGAL_BASIS)


class MakeAdministrativeAdjudication(RecordCommand, ReportingUnit):
    """行政裁决: a dispute the law gives an authority to decide, decided."""

    model_config = _example(
        "AdministrativeAdjudicationMade",
        "郑交裁〔2026〕0003号",
        "2026-10-09",
        adjudication_type="路产损坏赔偿纠纷裁决",
        content="当事人赔偿护栏损失人民币三千元",
    )
    type: Literal["AdministrativeAdjudicationMade"] = Field(description=RECORD_TYPE)
    adjudication_type: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="what kind of dispute (裁决类别)"
    )
    content: LongText = Field(description="the ruling (裁决内容)")
    legal_basis: Text | None = Field(default=None, description=LEGAL_BASIS)


class GrantAdministrativeReward(RecordCommand, ReportingUnit):
    """行政奖励: a reward an authority granted by law (守信 information)."""

    model_config = _example(
        "AdministrativeRewardGranted",
        "郑交奖〔2026〕0001号",
        "2026-10-09",
        reward_name="道路运输安全生产先进单位",
        content="全年无责任事故，予以通报表扬并奖励",
    )
    type: Literal["AdministrativeRewardGranted"] = Field(description=RECORD_TYPE)
    reward_name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the reward's name (奖励名称)"
    )
    content: LongText = Field(description="what it was given for, and what it is (奖励内容)")
    legal_basis: Text | None = Field(default=None, description=LEGAL_BASIS)


class ConductAdministrativeInspection(RecordCommand, ReportingUnit):
    """行政监督检查: an inspection (双随机抽查, a special or routine inspection) and its result."""

    model_config = _example(
        "AdministrativeInspectionConducted",
        "郑交检〔2026〕0021号",
        "2026-10-09",
        inspection_type="双随机抽查",
        matter="道路运输企业安全生产主体责任落实情况",
        result="未发现问题",
    )
    type: Literal["AdministrativeInspectionConducted"] = Field(description=RECORD_TYPE)
    inspection_type: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="what kind of inspection (检查类别)"
    )
    matter: Text = Field(description="what was inspected (检查事项)")
    result: Text = Field(description="the result (检查结果)")
    legal_basis: Text | None = Field(default=None, description=LEGAL_BASIS)


class CorrectRecord(RecordCommand):
    """A correction of an earlier record: its new values, checked as the record's own."""

    model_config = _example(
        "RecordCorrected",
        "郑交执罚更〔2026〕0001号",
        "2026-11-02",
        target_record_id=_EARLIER,
        changes={"fine_amount": "1.5"},
        reason="罚款金额录入错误",
    )
    type: Literal["RecordCorrected"] = Field(description=RECORD_TYPE)
    target_record_id: UUID = Field(description=EARLIER_RECORD.format("record"))
    changes: Annotated[dict[str, Any], Field(min_length=1, max_length=30)] = Field(
        description="the corrected fields with their new values, validated as the record's own"
    )
    reason: Text = Field(description="why it is corrected")


class RevokeRecord(RecordCommand):
    """A record revoked, e.g. a penalty annulled on administrative review."""

    model_config = _example(
        "RecordRevoked",
        "郑交执罚撤〔2026〕0001号",
        "2026-11-03",
        target_record_id=_EARLIER,
        reason="行政复议决定撤销原处罚决定",
    )
    type: Literal["RecordRevoked"] = Field(description=RECORD_TYPE)
    target_record_id: UUID = Field(description=EARLIER_RECORD.format("record"))
    reason: Text = Field(description="why it is revoked")


# Any record command: the request body of an appended record, fixed when the API is imported
# (a record type is declared beside its command, in domain/events.py and here).
if TYPE_CHECKING:
    AnyRecordCommand = RecordCommand
else:
    AnyRecordCommand = RECORD_COMMANDS.union()
# Validates a body or row into its record command (the name callers know RECORD_COMMANDS by).
record_command_adapter = RECORD_COMMANDS


def coerce_changes(target_type: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate a correction's new values as the target record's command would, and keep
    them JSON-friendly (dates as ISO strings) so the event stores them as sent."""
    model = RECORD_COMMANDS[target_type]
    coerced = {}
    for name, value in changes.items():
        field = model.model_fields.get(name)
        if field is None or name in ("type", "authority_code", "source_ref"):
            coerced[name] = value  # the domain names the exact refusal
            continue
        annotation: Any = field.annotation
        if field.metadata:
            annotation = Annotated[annotation, *field.metadata]
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        coerced[name] = adapter.dump_python(adapter.validate_python(value), mode="json")
    return coerced
