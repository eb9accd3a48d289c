"""合格率 of one record: the share of the national standard's indicator fields it fills.

The national 双公示 data standard (行政许可和行政处罚等信用信息数据标准) names the indicator fields
of a licence (XK_*) and a penalty (CF_*) record; a record whose non-empty indicators are at
least the policy's share (60 %) is complete (合格记录). Which fields are indicators, and which
field of the record or its subject fills each, is the import layout's knowledge
(service/commanding/importing/columns.py): it hands them in as `Indicator`s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SUBJECT_FIELD = "subject."  # an indicator the subject's registration fills: subject.<field>


@dataclass(frozen=True)
class Indicator:
    """One indicator of the standard: its column (标准字段名; alternatives joined by /, as the
    two code columns of an organisation and of a person), its 中文名称, the field filling it: a
    field of the record, or `subject.<field>` of the subject's registration, and the kinds of
    subject it is an indicator of (None: every kind), as a legal representative (法定代表人) is
    one of an organisation's records only: a person's record has none to lack."""

    column: str
    title: str
    fills: str
    kinds: frozenset[str] | None = None

    def applies_to(self, kind: str | None) -> bool:
        return self.kinds is None or kind in self.kinds


def applicable(indicators: Sequence[Indicator], kind: str | None) -> tuple[Indicator, ...]:
    """The indicators of a record of a subject of this kind, in the standard's order."""
    return tuple(indicator for indicator in indicators if indicator.applies_to(kind))


@dataclass(frozen=True)
class Completeness:
    """How many of a record's indicators are filled, of how many, and the columns of those
    that are not, in the standard's order."""

    filled: int
    total: int
    missing: tuple[str, ...]


def is_filled(value: Any) -> bool:
    """An indicator is filled unless it is absent, null, or blank text or an empty list."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict):
        return bool(value)
    return True


@dataclass(frozen=True)
class Measure:
    """The completeness measure of one type of record of one kind of subject, made once: each
    applicable indicator's column, whether the subject's registration fills it, and the field
    that does (a rebuild measures tens of thousands of records of a few types)."""

    sources: tuple[tuple[str, bool, str], ...]

    @classmethod
    def of(cls, indicators: Sequence[Indicator], kind: str | None) -> Measure:
        return cls(
            tuple(
                (
                    indicator.column,
                    indicator.fills.startswith(SUBJECT_FIELD),
                    indicator.fills.removeprefix(SUBJECT_FIELD),
                )
                for indicator in applicable(indicators, kind)
            )
        )

    def __call__(self, record: Mapping[str, Any], subject: Mapping[str, Any]) -> Completeness:
        missing = tuple(
            column
            for column, of_subject, field in self.sources
            if not is_filled((subject if of_subject else record).get(field))
        )
        return Completeness(len(self.sources) - len(missing), len(self.sources), missing)


def measure(
    indicators: Sequence[Indicator], record: Mapping[str, Any], subject: Mapping[str, Any]
) -> Completeness:
    """The completeness of a record with fields `record`, of a subject with fields `subject`
    (its `kind` says which of the indicators are its own)."""
    return Measure.of(indicators, subject.get("kind"))(record, subject)
