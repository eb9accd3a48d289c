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
    value = unicodedata.normalize("NFKC", value).strip()
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


Reference = Annotated[str, Field(min_length=1, max_length=200), plain(200)]
Name = Annotated[str, Field(min_length=1, max_length=200), plain(200)]


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


def _unstorable(value: Any, where: str) -> str | None:
    """Where a string in `value` holds what no store keeps (PostgreSQL text has no NUL, and
    UTF-8 no lone surrogate: JSON's "\\ud800" decodes to one) or what no text should (a
    control or invisible format character). Walked without recursion; raises for nesting
    deeper than MAX_NESTING."""
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

    kind: Literal["enterprise", "individual", "vehicle", "public_body"]
    code: Annotated[str, Field(min_length=5, max_length=32), plain(32)]
    name: Name
    region_code: RegionCode
    sectors: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=20)
    ] = []
    # Contact details: sealed at rest for individuals, like the ID number.
    phone: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[0-9+\- ]+$")] | None = None
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None


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


class RecordCommand(Command):
    """Fields every record carries: valid time, recording authority, source reference. A
    subclass is the command of one record type (`type: Literal["<event name>"]`)."""

    type: str
    decision_date: date
    authority_name: Name
    authority_code: AuthorityCode
    source_ref: Reference

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        RECORD_COMMANDS.register(cls)

    def event_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"type"})


class GrantLicence(RecordCommand):
    type: Literal["LicenceGranted"]
    licence_type: Annotated[str, Field(min_length=1, max_length=64)]
    document_name: Text
    content: LongText
    valid_from: date
    valid_until: date | None = None
    certificate_name: Annotated[str, Field(max_length=200), plain(200)] | None = None
    licence_number: Annotated[str, Field(max_length=200), plain(200)] | None = None


class RevokeLicence(RecordCommand):
    type: Literal["LicenceRevoked"]
    reason: Text
    licence_record_id: UUID | None = None


class DecidePenalty(RecordCommand):
    type: Literal["PenaltyDecided"]
    severity: Severity
    procedure: Literal["simplified", "general"] = "general"
    violation_type: Text
    facts: LongText
    legal_basis: Text
    penalty_categories: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=10)
    ]
    content: LongText
    fine_amount: Amount | None = None
    confiscated_amount: Amount | None = None
    licence_action: Annotated[str, Field(max_length=500)] | None = None
    declared_publication_end: date | None = None


class RecordDishonestConduct(RecordCommand):
    type: Literal["DishonestConductRecorded"]
    severity: Severity
    conduct_type: Annotated[str, Field(min_length=1, max_length=100)]
    description: LongText
    legal_basis: Text | None = None


class MakeCommitment(RecordCommand):
    type: Literal["CommitmentMade"]
    commitment_type: Literal[COMMITMENT_TYPES]  # type: ignore[valid-type]
    content: LongText
    due_date: date | None = None


class FulfilCommitment(RecordCommand):
    type: Literal["CommitmentFulfilled"]
    commitment_record_id: UUID
    note: Annotated[str, Field(max_length=2000)] = ""


class BreachCommitment(RecordCommand):
    type: Literal["CommitmentBreached"]
    commitment_record_id: UUID
    severity: Severity
    description: LongText


class IssueRating(RecordCommand):
    type: Literal["RatingIssued"]
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
    valid_from: date
    valid_until: date
    # 100-point schemes, deducted points, or a 1000-point provincial scale
    score: Annotated[Decimal, Field(ge=0, le=1000, decimal_places=2)] | None = None


class EnterList(RecordCommand):
    type: Literal["ListEntered"]
    list_type: Literal[LIST_TYPES]  # type: ignore[valid-type]
    basis: Text
    planned_end: date | None = None
    basis_record_id: UUID | None = None


class ExitList(RecordCommand):
    type: Literal["ListExited"]
    entry_record_id: UUID
    reason: Text


class HoldInterview(RecordCommand):
    type: Literal["InterviewHeld"]
    interview_type: Literal["prompt", "warning"]
    matter: Text


class GrantCommendation(RecordCommand):
    type: Literal["CommendationGranted"]
    title: Text
    description: Annotated[str, Field(max_length=20000)] = ""


class ApplyJointMeasure(RecordCommand):
    type: Literal["JointMeasureApplied"]
    measure_type: Literal["reward", "punishment"]
    measure: Text
    applying_agency: Name
    matter: Text


# The further kinds of administrative information (domain/events.py says why these fields).
# `data_source_name` and `data_source_code` name the reporting unit (数据来源单位) when it is not
# the deciding authority.


class ApplyAdministrativeCoercion(RecordCommand):
    type: Literal["AdministrativeCoercionApplied"]
    coercion_kind: Literal["measure", "execution"]  # 行政强制措施 / 行政强制执行
    measure: Annotated[str, Field(min_length=1, max_length=200)]
    legal_basis: Text
    content: LongText
    data_source_name: Name | None = None
    data_source_code: AuthorityCode | None = None


class MakeAdministrativeConfirmation(RecordCommand):
    type: Literal["AdministrativeConfirmationMade"]
    confirmation_type: Annotated[str, Field(min_length=1, max_length=200)]
    content: LongText
    legal_basis: Text | None = None
    data_source_name: Name | None = None
    data_source_code: AuthorityCode | None = None


class MakeAdministrativeAdjudication(RecordCommand):
    type: Literal["AdministrativeAdjudicationMade"]
    adjudication_type: Annotated[str, Field(min_length=1, max_length=200)]
    content: LongText
    legal_basis: Text | None = None
    data_source_name: Name | None = None
    data_source_code: AuthorityCode | None = None


class GrantAdministrativeReward(RecordCommand):
    type: Literal["AdministrativeRewardGranted"]
    reward_name: Annotated[str, Field(min_length=1, max_length=200)]
    content: LongText
    legal_basis: Text | None = None
    data_source_name: Name | None = None
    data_source_code: AuthorityCode | None = None


class ConductAdministrativeInspection(RecordCommand):
    type: Literal["AdministrativeInspectionConducted"]
    inspection_type: Annotated[str, Field(min_length=1, max_length=200)]
    matter: Text
    result: Text
    legal_basis: Text | None = None
    data_source_name: Name | None = None
    data_source_code: AuthorityCode | None = None


class CorrectRecord(RecordCommand):
    type: Literal["RecordCorrected"]
    target_record_id: UUID
    changes: Annotated[dict[str, Any], Field(min_length=1, max_length=30)]
    reason: Text


class RevokeRecord(RecordCommand):
    type: Literal["RecordRevoked"]
    target_record_id: UUID
    reason: Text


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
