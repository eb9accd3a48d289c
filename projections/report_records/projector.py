"""Events in, report rows out: each licence's and penalty's timeliness (及时率) and completeness
(合格率), measured when it is recorded and again when it is corrected.

A row is measured under the policy version in force on its decision date: the publication
deadline (`deadlines.publication`), whether its family counts for timeliness, the completeness
threshold. Its recorded time is that of the event that first recorded it; a correction changes
its content (so its completeness) and may change its decision date (so its deadline and the
period it falls in), never when it was first recorded. The subject's name, kind, code and
sectors come from the credit file's subjects, so this projector follows that one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, tzinfo
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, select

from domain.cases import ObjectionResolved
from domain.completeness import SUBJECT_FIELD, Indicator, Measure, applicable, is_filled
from domain.events import (
    RecordCorrected,
    RecordEvent,
    RecordRevoked,
    SubjectRegistered,
)
from domain.policy import PolicyBook
from domain.timeliness import Timeliness, timeliness
from domain.working_days import WorkingDayCalendar
from projections.tables import (
    REPORT_SECTOR_COLUMNS,
    report_record_sectors,
    report_records,
    subjects,
)
from projections.writes import KEYS, AmongKeys, chunks, insert_rows, update_rows

MISSING_SEPARATOR = ","  # no indicator's column holds one
UPDATABLE = (
    "authority_name",
    "decision_date",
    "policy_version",
    "timeliness_counted",
    "due_on",
    "on_time",
    "days_late",
    "due_provisional",
    "fields_filled",
    "fields_total",
    "missing_fields",
    "complete",
    "revoked",
    "correction_count",
    "corrected_at",
)


def region_of(authority_code: str) -> str:
    """The administrative division an authority's USCC was issued in (its 3rd-8th characters)."""
    return authority_code[2:8]


def missing_columns(text: str) -> tuple[str, ...]:
    """The columns a row's `missing_fields` names."""
    return tuple(text.split(MISSING_SEPARATOR)) if text else ()


class ReportRecordProjector:
    name = "report_records"
    tables = (report_records, report_record_sectors)
    # The subject's name, kind, code and sectors are read from the credit file's subjects: this
    # read model never gets ahead of that one (the runner caps it at its position).
    depends_on = ("credit_file",)
    # One row per record, with its own subject's fields; the figures (三率) are counted over the
    # rows when asked, not kept as running counts across subjects.
    per_subject = True

    def __init__(
        self,
        policy: PolicyBook,
        calendar: WorkingDayCalendar,
        zone: tzinfo,
        indicators: Mapping[str, Sequence[Indicator]],
    ):
        self.policy = policy
        self.zone = zone  # the day a record was recorded is its recorded moment's day here
        self.indicators = {name: tuple(found) for name, found in indicators.items()}
        # The fields of each type's records that fill an indicator, and each type's measure by
        # kind of subject: made once, not for each of a rebuild's records.
        self._fields = {
            name: tuple(i.fills for i in found if not i.fills.startswith(SUBJECT_FIELD))
            for name, found in self.indicators.items()
        }
        self._measures: dict[tuple[str, str | None], Measure] = {}
        # Every family some version counts: their records get rows, whatever the version in
        # force on their decision date says (it decides `timeliness_counted`).
        self.families = frozenset(
            family
            for version in policy.versions
            for family in version.reporting.timeliness.families
        )
        # A page of a rebuild holds thousands of records decided on a few hundred days.
        self._timeliness: Callable[[date, date], Timeliness] = lru_cache(maxsize=65536)(
            lambda decided, recorded: timeliness(
                decided, recorded, policy.for_day(decided).deadlines.publication, calendar
            )
        )

    def reported(self, event: RecordEvent) -> bool:
        """Whether a record gets a row: the figures count its family or measure its type."""
        return event.TRAITS.family in self.families or type(event).__name__ in self.indicators

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        registered: dict[UUID, dict[str, Any]] = {}
        new: dict[UUID, dict[str, Any]] = {}
        content: dict[UUID, dict[str, Any]] = {}  # the indicator fields of new rows
        amended: list[tuple[UUID, Any]] = []  # (target, event) for corrections and revocations
        for position, event in events:
            if isinstance(event, SubjectRegistered):
                registered[event.originator_id] = {
                    "name": event.name,
                    "kind": event.kind,
                    "code": event.code_masked,
                    "sectors": list(event.sectors),
                }
            elif _amends(event):
                amended.append((event.target_record_id, event))
            elif isinstance(event, RecordEvent) and self.reported(event):
                new[event.record_id] = self._row(position, event)
                content[event.record_id] = {
                    field: getattr(event, field, None)
                    for field in self._fields.get(type(event).__name__, ())
                }
        if not new and not amended:
            return
        stored = _load_rows(conn, {t for t, _ in amended} - new.keys())
        # A correction measures its record again, of the indicators of its subject's kind.
        asked = {row["subject_id"] for row in (*new.values(), *stored.values())}
        people = {**_load_subjects(conn, asked - registered.keys()), **registered}
        sectors_of: dict[UUID, list[str]] = {}
        for record_id, row in new.items():
            subject = people.get(row["subject_id"])
            if subject is None:
                raise LookupError(f"record {record_id} of a subject not in the read model")
            self._measure(row, content[record_id], subject)
            sectors_of[record_id] = list(dict.fromkeys(subject["sectors"]))
        for target, event in amended:
            amended_row = new.get(target) or stored.get(target)
            if amended_row is None:  # a record of a type the figures do not count
                continue
            if isinstance(event, RecordRevoked) or getattr(event, "outcome", None) == "revoked":
                amended_row["revoked"] = True
            elif event.changes:
                kind = people[amended_row["subject_id"]]["kind"]
                self._correct(amended_row, event.changes, event.timestamp, kind)
        # The sector rows copy their records as corrected in this page too.
        insert_rows(conn, report_records, list(new.values()))
        insert_rows(
            conn,
            report_record_sectors,
            [
                {
                    "record_id": record_id,
                    "sector": sector,
                    "subject_id": new[record_id]["subject_id"],
                    **_carried(new[record_id]),
                }
                for record_id, sectors in sectors_of.items()
                for sector in sectors
            ],
        )
        update_rows(
            conn,
            report_records,
            "record_id",
            [{"record_id": rid, **{c: row[c] for c in UPDATABLE}} for rid, row in stored.items()],
        )
        # Every sector row of a record at once: the key is the record's.
        update_rows(
            conn,
            report_record_sectors,
            "record_id",
            [{"record_id": rid, **_carried(row)} for rid, row in stored.items()],
        )

    def _row(self, position: int, event: RecordEvent) -> dict[str, Any]:
        recorded_on = event.timestamp.astimezone(self.zone).date()
        return {
            "record_id": event.record_id,
            "subject_id": event.originator_id,
            "position": position,
            "type": type(event).__name__,
            "family": event.TRAITS.family,
            "source_ref": event.source_ref,
            "authority_code": event.authority_code,
            "authority_name": event.authority_name,
            "region_code": region_of(event.authority_code),
            "decision_date": event.decision_date,
            "recorded_at": event.timestamp,
            "recorded_on": recorded_on,
            "revoked": False,
            "correction_count": 0,
            "corrected_at": None,
            **self._timely(event.TRAITS.family, event.decision_date, recorded_on),
        }

    def _timely(self, family: str, decided: date, recorded_on: date) -> dict[str, Any]:
        """The columns that follow from the decision date: the version in force on it, whether
        it counts the family, and when the record was due."""
        version = self.policy.for_day(decided)
        measured = self._timeliness(decided, recorded_on)
        return {
            "decision_date": decided,
            "policy_version": version.id,
            "timeliness_counted": family in version.reporting.timeliness.families,
            "due_on": measured.due,
            "on_time": measured.on_time,
            "days_late": measured.days_late,
            "due_provisional": measured.provisional,
        }

    def _measure(
        self, row: dict[str, Any], record: Mapping[str, Any], subject: Mapping[str, Any]
    ) -> None:
        key = (row["type"], subject.get("kind"))
        measure = self._measures.get(key)
        if measure is None:
            measure = Measure.of(self.indicators.get(row["type"], ()), key[1])
            self._measures[key] = measure
        found = measure(record, subject)
        self._set_completeness(row, found.filled, found.total, found.missing)

    def _set_completeness(
        self, row: dict[str, Any], filled: int, total: int, missing: tuple[str, ...]
    ) -> None:
        rules = self.policy.for_day(row["decision_date"]).reporting.completeness
        row["fields_filled"], row["fields_total"] = filled, total
        row["missing_fields"] = MISSING_SEPARATOR.join(missing)
        row["complete"] = rules.reached_by(filled, total) if total else None

    def _correct(self, row: dict[str, Any], changes: Mapping[str, Any], at: Any, kind: str) -> None:
        """A correction's changes onto a row of a subject of this kind: the indicators it fills
        or empties, the authority's name, and the decision date with everything that follows
        from it."""
        indicators = applicable(self.indicators.get(row["type"], ()), kind)
        missing = set(missing_columns(row["missing_fields"]))
        for indicator in indicators:
            if indicator.fills.startswith(SUBJECT_FIELD) or indicator.fills not in changes:
                continue
            if is_filled(changes[indicator.fills]):
                missing.discard(indicator.column)
            else:
                missing.add(indicator.column)
        if is_filled(changes.get("authority_name")):
            row["authority_name"] = changes["authority_name"]
        decided = changes.get("decision_date")
        if decided is not None:
            decided = date.fromisoformat(decided) if isinstance(decided, str) else decided
            row.update(self._timely(row["family"], decided, row["recorded_on"]))
        ordered = tuple(i.column for i in indicators if i.column in missing)
        self._set_completeness(row, len(indicators) - len(ordered), len(indicators), ordered)
        row["correction_count"] += 1
        row["corrected_at"] = at


def _carried(row: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a report row that its sector rows carry."""
    return {column: row[column] for column in REPORT_SECTOR_COLUMNS}


def _amends(event: Any) -> bool:
    """Whether an event corrects or revokes an earlier record: a correction, a revocation, or
    an objection resolved by either."""
    if isinstance(event, RecordCorrected | RecordRevoked):
        return True
    return isinstance(event, ObjectionResolved) and event.outcome in ("corrected", "revoked")


# A page's statements, built once (projections/writes.py, `AmongKeys`, says why).
_SUBJECTS = AmongKeys(
    lambda among: select(
        subjects.c.subject_id,
        subjects.c.name,
        subjects.c.kind,
        subjects.c.code_masked,
        subjects.c.sectors,
    ).where(among(subjects.c.subject_id))
)
_REPORT_ROWS = AmongKeys(
    lambda among: select(report_records).where(among(report_records.c.record_id))
)


def _load_subjects(conn: Connection, subject_ids: set[UUID]) -> dict[UUID, dict[str, Any]]:
    found: dict[UUID, dict[str, Any]] = {}
    for chunk in chunks(subject_ids):
        for row in conn.execute(_SUBJECTS.on(conn), {KEYS: chunk}).all():
            found[row.subject_id] = {
                "name": row.name,
                "kind": row.kind,
                "code": row.code_masked,
                "sectors": list(row.sectors),
            }
    return found


def _load_rows(conn: Connection, record_ids: set[UUID]) -> dict[UUID, dict[str, Any]]:
    found: dict[UUID, dict[str, Any]] = {}
    for chunk in chunks(record_ids):
        rows = conn.execute(_REPORT_ROWS.on(conn), {KEYS: chunk}).mappings().all()
        found.update({row["record_id"]: dict(row) for row in rows})
    return found
