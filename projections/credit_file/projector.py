"""Events in, rows out: subjects and records, applied a page at a time (asynchronous projection).

A page's new rows go out in one bulk insert per table; follow-ups (exits, revocations,
corrections) and case steps update rows that may be in the same page or already stored, read
in one query per page and written back in one bulk update. A record resting on another (a list
entry on its basis) lapses with it, and stands again if the basis does. Alongside, the
bitemporal history: a revision of a record's standing for every event that changes it, and the
stream versions by recorded time (for status as of a past time)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Select, bindparam, delete, func, select, update

from domain.cases import CaseEvent, ObjectionFiled, ObjectionResolved, RepairApproved, RepairRevoked
from domain.day_close import DayClosed
from domain.events import (
    COMMON_FIELDS,
    RESTING_TYPES,
    RecordEvent,
    RestsOn,
    SubjectRegistered,
    traits_of,
)
from domain.policy import PolicyBook
from domain.publication import (
    ACTIVE,
    LAPSED,
    REPAIRED,
    REVOKED,
    Window,
    record_window,
    state_resting_on,
    window_when_ended,
)
from projections.tables import record_revisions, records, subject_versions, subjects
from projections.writes import KEYS, Among, AmongKeys, chunks, insert_rows, update_rows

DATE_FIELDS = frozenset(
    {
        "decision_date",
        "valid_from",
        "valid_until",
        "due_date",
        "planned_end",
        "declared_publication_end",
    }
)
UPDATABLE = (
    "objection_case",
    "state",
    "repaired_at",
    "revoked_by",
    "ended_on",
    "ended_by",
    "correction_count",
    "corrected_at",
    "severity",
    "decision_date",
    "publish_from",
    "publish_until",
    "list_type",
    "scheme",
    "grade",
    "score",
    "valid_from",
    "valid_until",
    "procedure",
    "basis",
    "planned_end",
    "basis_record_id",
    "due_date",
    "summary",
    "details",
)


AS_TEXT = date | UUID | Decimal
PLAIN = frozenset({str, int, float, bool, type(None)})  # already JSON as they are
# Finds a record row by id among the rows being written, or in the table.
RowOf = Callable[[UUID], dict[str, Any] | None]
# The rows of a subject's records that rest on another (RecordTraits.rests_on), as they stand.
RestingOf = Callable[[UUID], Iterable[dict[str, Any]]]


def to_json(value: Any) -> Any:
    if type(value) in PLAIN:  # most fields: spares the checks below
        return value
    if isinstance(value, AS_TEXT):
        return str(value) if not isinstance(value, date) else value.isoformat()
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def typed(details: dict[str, Any]) -> dict[str, Any]:
    """Details as the rules want them: dates as dates."""
    fields = dict(details)
    for k in DATE_FIELDS.intersection(details):
        if isinstance(fields[k], str):
            fields[k] = date.fromisoformat(fields[k])
    return fields


@cache
def detail_names(event_type: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    """The fields of a record event kept as its details (its own, and the decision date), and
    a getter of their values in that order."""
    names = tuple(
        f.name
        for f in dataclasses.fields(event_type)
        if f.name not in COMMON_FIELDS or f.name == "decision_date"
    )
    getter = attrgetter(*names)
    return names, getter if len(names) > 1 else lambda event: (getter(event),)


def record_details(event: RecordEvent) -> dict[str, Any]:
    """A record event's details as JSON values: its own fields and its decision date (a plain
    value as it is: most fields are, and a call for each was a fair share of a rebuild)."""
    names, values_of = detail_names(type(event))
    return dict(
        zip(names, [v if type(v) in PLAIN else to_json(v) for v in values_of(event)], strict=True)
    )


def record_summary(record_type: str, fields: dict[str, Any]) -> str:
    """A record's one line: its type's summary fields that are filled, joined."""
    return " · ".join([str(fields[f]) for f in traits_of(record_type).summary if fields.get(f)])[
        :500
    ]


def derived_columns(
    record_type: str, details: dict[str, Any], policy: PolicyBook
) -> dict[str, Any]:
    """Columns that follow from a record's content (recomputed after a correction)."""
    fields = typed(details)
    window = record_window(record_type, fields, book=policy)
    score = fields.get("score") if record_type == "RatingIssued" else None
    return {
        "severity": fields.get("severity"),
        "decision_date": fields["decision_date"],
        "publish_from": window.start if window else None,
        "publish_until": window.end if window else None,
        "list_type": fields.get("list_type") if record_type == "ListEntered" else None,
        "scheme": fields.get("scheme"),
        "grade": fields.get("grade"),
        "score": Decimal(score) if score is not None else None,
        "valid_from": fields.get("valid_from"),
        "valid_until": fields.get("valid_until"),
        "procedure": fields.get("procedure"),
        "basis": fields.get("basis"),
        "planned_end": fields.get("planned_end"),
        "basis_record_id": fields.get("basis_record_id"),
        "due_date": fields.get("due_date"),
        "summary": record_summary(record_type, fields),
        "details": details,
    }


def standing(row: dict[str, Any]) -> dict[str, Any]:
    """What a record row says for the status rules and publication counts (a revision's
    content)."""
    return {
        "type": row["type"],
        "family": row["family"],
        "state": row["state"],
        "repaired_at": row["repaired_at"],
        "severity": row["severity"],
        "procedure": row["procedure"],
        "decision_date": row["decision_date"],
        "publish_from": row["publish_from"],
        "publish_until": row["publish_until"],
        "ended_on": row["ended_on"],
        "list_type": row["list_type"],
        "basis": row["basis"],
        "planned_end": row["planned_end"],
        "basis_record_id": row["basis_record_id"],
        "scheme": row["scheme"],
        "grade": row["grade"],
        "score": row["score"],
        "valid_from": row["valid_from"],
        "valid_until": row["valid_until"],
        "due_date": row["due_date"],
        "authority_name": row["authority_name"],
    }


def utc(moment: datetime) -> datetime:
    """Recorded times are stored in UTC (SQLite keeps no zone: comparisons need one)."""
    return moment.astimezone(UTC)


def _as_utc(stored: datetime) -> datetime:
    """A recorded time read back (SQLite returns it without its zone, which is UTC)."""
    return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


def touched_records(event: Any) -> tuple[UUID, ...]:
    """The records whose rows an event may change: a new record, and the one it names."""
    if isinstance(event, CaseEvent):
        return (event.target_record_id,)
    if not isinstance(event, RecordEvent):
        return ()
    acts_on = event.TRAITS.acts_on
    target = getattr(event, acts_on.field) if acts_on is not None else None
    return (event.record_id,) if target is None else (event.record_id, target)


class PageHistory:
    """The bitemporal rows of one page: a record revision for each event that changes a
    record's standing (closing the one before), and a subject version row for the registration
    and for the last event of each run of events recorded at the same instant."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.revisions: dict[UUID, dict[str, Any]] = {}  # the page's latest, per record
        self.new_revisions: list[dict[str, Any]] = []
        self.before: dict[UUID, dict[str, Any]] = {}  # standing of rows stored before the page
        self.closed: dict[UUID, int] = {}  # stored revisions this page closes, at which version
        self.versions: list[dict[str, Any]] = []
        self.last: dict[UUID, dict[str, Any]] = {}  # each subject's pending version row

    def loaded(self, record_id: UUID, row: dict[str, Any]) -> None:
        self.before[record_id] = standing(row)

    def applied(
        self,
        position: int,
        event: Any,
        record_ids: tuple[UUID, ...],
        new_records: dict[UUID, dict[str, Any]],
        stored: dict[UUID, dict[str, Any]],
    ) -> None:
        version = event.originator_version
        for record_id in record_ids:
            row = new_records.get(record_id) or stored.get(record_id)
            if row is None:
                continue
            now = standing(row)
            previous = self.revisions.get(record_id)
            if previous is not None:
                if {k: previous[k] for k in now} == now:
                    continue
                previous["until_version"] = version
            elif record_id in self.before:
                if self.before[record_id] == now:
                    continue
                self.closed[record_id] = version
            revision = {
                "record_id": str(record_id),
                "from_version": version,
                "until_version": None,
                "subject_id": row["subject_id"],
                **now,
            }
            self.revisions[record_id] = revision
            self.new_revisions.append(revision)
        subject_id = event.originator_id
        row = {
            "subject_id": subject_id,
            "version": version,
            "position": position,
            "recorded_at": utc(event.timestamp),
        }
        if isinstance(event, SubjectRegistered):
            # Always kept: a subject whose version 1 is here has its whole history here (a
            # store upgraded without a rebuild has none for older subjects).
            self.versions.append(row)
            return
        pending = self.last.get(subject_id)
        if pending is not None and pending["recorded_at"] != row["recorded_at"]:
            self.versions.append(pending)
        self.last[subject_id] = row

    def write(self) -> None:
        if self.closed:
            self.conn.execute(
                _CLOSE_REVISION,
                [{"b_record_id": str(rid), "b_until": v} for rid, v in self.closed.items()],
            )
        # Every row names every column: one COPY each (an INSERT per row cost a fifth of a
        # rebuild's time in the database's round trips).
        insert_rows(self.conn, record_revisions, self.new_revisions)
        rows = self.versions + list(self.last.values())
        if rows:
            self._end_runs_continued_here(rows)
            insert_rows(self.conn, subject_versions, rows)

    def _end_runs_continued_here(self, rows: list[dict[str, Any]]) -> None:
        """A page ends wherever the runner cut the log, perhaps inside a run of events
        recorded at the same instant; the row written for the run's last event so far is then
        not the last. Dropping it when this page continues the run keeps the table the same
        however the log was paged (a rebuild equals the live rows)."""
        first: dict[UUID, dict[str, Any]] = {}
        for row in rows:
            if row["version"] > 1 and (
                row["subject_id"] not in first
                or row["version"] < first[row["subject_id"]]["version"]
            ):
                first[row["subject_id"]] = row
        if not first:
            return
        stored = self.conn.execute(_LATEST_VERSIONS.on(self.conn), {KEYS: list(first)}).all()
        ended = [
            {"b_subject_id": subject_id, "b_version": version}
            for subject_id, version, recorded_at in stored
            if version > 1 and _as_utc(recorded_at) == first[subject_id]["recorded_at"]
        ]
        if ended:
            self.conn.execute(_DROP_VERSION, ended)


# A page's statements, built once (projections/writes.py, `AmongKeys`, says why).
_CLOSE_REVISION = (
    update(record_revisions)
    .where(
        record_revisions.c.record_id == bindparam("b_record_id"),
        record_revisions.c.until_version.is_(None),
    )
    .values(until_version=bindparam("b_until"))
)
_DROP_VERSION = delete(subject_versions).where(
    subject_versions.c.subject_id == bindparam("b_subject_id"),
    subject_versions.c.version == bindparam("b_version"),
)


def _latest_versions(among: Among) -> Select[Any]:
    """Each subject's latest stored version row."""
    latest = (
        select(subject_versions.c.subject_id, func.max(subject_versions.c.version).label("v"))
        .where(among(subject_versions.c.subject_id))
        .group_by(subject_versions.c.subject_id)
        .subquery()
    )
    return select(
        subject_versions.c.subject_id,
        subject_versions.c.version,
        subject_versions.c.recorded_at,
    ).join(
        latest,
        (subject_versions.c.subject_id == latest.c.subject_id)
        & (subject_versions.c.version == latest.c.v),
    )


_LATEST_VERSIONS = AmongKeys(_latest_versions)


class CreditFileProjector:
    name = "credit_file"
    tables = (subjects, records, record_revisions, subject_versions)
    # A subject's rows follow from its own stream: what a follow-up, a case step or a list
    # entry names is a record of the same subject (the subject's aggregate refuses others).
    per_subject = True
    # Status and record reads wait on these tables alone: a page is committed here before
    # the other read models have applied it.
    committed_first = True
    page_history = PageHistory

    def __init__(self, policy: PolicyBook):
        self.policy = policy

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        # A day's close is the service's, in a stream of its own: no subject's file holds it.
        events = [(position, e) for position, e in events if not isinstance(e, DayClosed)]
        new_subjects: dict[UUID, dict[str, Any]] = {}
        new_records: dict[UUID, dict[str, Any]] = {}
        stored: dict[UUID, dict[str, Any]] = {}  # rows loaded from the table and changed
        heads: dict[UUID, tuple[int, int]] = {}
        history = self.page_history(conn)
        # The stored rows this page's follow-ups, case steps and list entries name, read in one
        # query.
        loaded = _load_records(conn, _targets(events))
        resting: dict[UUID, set[UUID]] = {}  # per subject asked: its records resting on another

        def row_of(record_id: UUID) -> dict[str, Any] | None:
            if record_id in new_records:
                return new_records[record_id]
            if record_id not in stored:
                if record_id not in loaded:  # a reference _targets does not know: read it
                    loaded.update(_load_records(conn, {record_id}))
                found = loaded[record_id]
                if found is None:
                    return None
                stored[record_id] = found
                history.loaded(record_id, found)
            return stored[record_id]

        def resting_of(subject_id: UUID) -> list[dict[str, Any]]:
            if subject_id not in resting:
                found = _load_resting(conn, subject_id)
                for record_id, found_row in found.items():
                    loaded.setdefault(record_id, found_row)
                resting[subject_id] = set(found)
            ids = sorted(resting[subject_id] | page_resting.get(subject_id, set()))
            return [row for record_id in ids if (row := row_of(record_id)) is not None]

        page_resting: dict[UUID, set[UUID]] = {}  # the records resting on another in this page
        for position, event in events:
            heads[event.originator_id] = (event.originator_version, position)
            if isinstance(event, SubjectRegistered):
                new_subjects[event.originator_id] = {
                    "subject_id": event.originator_id,
                    "kind": event.kind,
                    "code_masked": event.code_masked,
                    "name": event.name,
                    "region_code": event.region_code,
                    "sectors": list(event.sectors),
                    "registered_at": event.timestamp,
                }
            elif isinstance(event, RecordEvent):
                self.apply_record(event, position, new_records, row_of)
                if event.TRAITS.rests_on is not None:
                    page_resting.setdefault(event.originator_id, set()).add(event.record_id)
            elif isinstance(event, CaseEvent):
                self.apply_case_effect(event, row_of)
            lapsed = self.follow_bases(event, row_of, resting_of)
            changed = tuple(dict.fromkeys((*touched_records(event), *lapsed)))
            history.applied(position, event, changed, new_records, stored)

        for subject_id, row in new_subjects.items():
            row["version"], row["position"] = heads.pop(subject_id)
        insert_rows(conn, subjects, list(new_subjects.values()))
        insert_rows(conn, records, list(new_records.values()))
        update_rows(
            conn,
            records,
            "record_id",
            [{"record_id": rid, **{c: row[c] for c in UPDATABLE}} for rid, row in stored.items()],
        )
        update_rows(
            conn,
            subjects,
            "subject_id",
            [{"subject_id": sid, "version": v, "position": p} for sid, (v, p) in heads.items()],
        )
        history.write()

    def apply_record(
        self,
        event: RecordEvent,
        position: int,
        new_records: dict[UUID, dict[str, Any]],
        row_of: RowOf,
    ) -> None:
        """One record event onto rows held in `new_records` (or found by `row_of`): pure over
        the dicts, so an as-of fold of the events reuses it exactly."""
        record_type = type(event).__name__
        details = record_details(event)
        if event.sector is not None:  # kept only when filed in one, as records before sectors
            details["sector"] = event.sector
        new_records[event.record_id] = {
            "record_id": event.record_id,
            "subject_id": event.originator_id,
            "position": position,
            "version": event.originator_version,
            "type": record_type,
            "family": event.TRAITS.family,
            "authority_name": event.authority_name,
            "authority_code": event.authority_code,
            "source_ref": event.source_ref,
            "recorded_at": event.timestamp,
            "recorded_by": event.recorded_by,
            "state": "active",
            "repaired_at": None,
            "revoked_by": None,
            "ended_on": None,
            "ended_by": None,
            "correction_count": 0,
            "corrected_at": None,
            "objection_case": None,
            **derived_columns(record_type, details, self.policy),
        }
        acts_on = event.TRAITS.acts_on
        if acts_on is not None:
            target_id = getattr(event, acts_on.field)
            target = row_of(target_id) if target_id is not None else None
            if target is not None:
                EFFECTS[acts_on.effect](target, event, self.policy)

    def follow_bases(self, event: Any, row_of: RowOf, resting_of: RestingOf) -> list[UUID]:
        """A record resting on another (a list entry on its basis) lapses with it: settled
        when the record is new or corrected, and when an event acts on a conduct record (which
        a repair, a revoked repair, a revocation or an objection's outcome may take out or bring
        back). Pure over the rows, as `apply_record` is. Returns the records whose state moved."""
        moved = []
        own = getattr(event, "record_id", None)
        for record_id in touched_records(event):
            row = row_of(record_id)
            if row is None:
                continue
            rests_on = traits_of(row["type"]).rests_on
            if rests_on is not None:
                resting = [(row, rests_on)]
            elif record_id != own and traits_of(row["type"]).conduct:
                resting = [
                    (entry, entry_rests_on)
                    for entry in resting_of(row["subject_id"])
                    if (entry_rests_on := traits_of(entry["type"]).rests_on) is not None
                    and _named(entry, entry_rests_on) == record_id
                ]
            else:
                continue
            for entry, entry_rests_on in resting:
                if _follow_basis(entry, entry_rests_on, row_of):
                    moved.append(entry["record_id"])
        return moved

    def apply_case_effect(self, event: CaseEvent, row_of: RowOf) -> None:
        """What a case step does to the record it concerns: an open objection flags it
        (异议处理中); an approved repair takes it out of publication, grades and lists; a revoked
        repair brings it back; a resolved objection corrects, revokes or clears it."""
        target = row_of(event.target_record_id)
        if target is None:
            return
        if isinstance(event, ObjectionFiled):
            target["objection_case"] = event.case_number
        # A revocation is final: a repair decided or withdrawn afterwards leaves it revoked.
        elif isinstance(event, RepairApproved) and target["state"] == "active":
            target["state"] = "repaired"
            target["repaired_at"] = utc(event.timestamp)
        elif isinstance(event, RepairRevoked) and target["state"] == "repaired":
            target["state"] = "active"
            target["repaired_at"] = None
        elif isinstance(event, ObjectionResolved):
            target["objection_case"] = None
            if event.outcome == "revoked":
                target["state"] = "revoked"
            elif event.outcome == "corrected" and event.changes:
                _correct(target, event.changes, event.timestamp, self.policy)


def _named(row: dict[str, Any], rests_on: RestsOn) -> UUID | str | None:
    """The record a row rests on, as its details name it (a correction may have named it as
    text that is no record id: then that text, which names no record)."""
    named = row["details"].get(rests_on.field)
    if named is None:
        return None
    try:
        return UUID(str(named))
    except ValueError:
        return str(named)


def _follow_basis(row: dict[str, Any], rests_on: RestsOn, row_of: RowOf) -> bool:
    """Give a resting record the state its basis leaves it in (a basis named but not in the
    file counts as revoked). A lapse with a repaired basis keeps the moment the repair was
    approved, from which the record no longer counted; one with a revoked basis keeps none:
    it counts on no day. Returns whether the row changed."""
    if row["state"] not in (ACTIVE, LAPSED):  # its own revocation is final
        return False
    named = _named(row, rests_on)
    basis = row_of(named) if isinstance(named, UUID) else None
    basis_state = None if named is None else (basis["state"] if basis is not None else REVOKED)
    state = state_resting_on(row["state"], basis_state)
    repaired_at = (
        basis["repaired_at"] if state == LAPSED and basis and basis["state"] == REPAIRED else None
    )
    if (state, repaired_at) == (row["state"], row["repaired_at"]):
        return False
    row["state"], row["repaired_at"] = state, repaired_at
    return True


def _end(target: dict[str, Any], event: Any, policy: PolicyBook) -> None:
    target["ended_on"] = event.decision_date
    target["ended_by"] = event.record_id
    _clip_publication(target)


def _revoke(target: dict[str, Any], event: Any, policy: PolicyBook) -> None:
    target["state"] = "revoked"
    target["revoked_by"] = event.record_id


def _amend(target: dict[str, Any], event: Any, policy: PolicyBook) -> None:
    _correct(target, event.changes, event.timestamp, policy)


# What a record does to the earlier one it acts on (`ActsOn.effect` of its type).
EFFECTS: dict[str, Callable[[dict[str, Any], Any, PolicyBook], None]] = {
    "ends": _end,
    "revokes": _revoke,
    "corrects": _amend,
}


@cache
def _target_fields(event_type: type) -> tuple[str, ...]:
    """The fields naming the stored records an event may change or read: the one it acts on,
    the one it rests on (row_of still reads any other record it is asked for)."""
    if issubclass(event_type, CaseEvent):
        return ("target_record_id",)
    if not issubclass(event_type, RecordEvent):
        return ()
    traits = event_type.TRAITS
    return tuple(
        related.field for related in (traits.acts_on, traits.rests_on) if related is not None
    )


def _targets(events: Sequence[tuple[int, Any]]) -> set[UUID]:
    found = set()
    for _, event in events:
        # mypy wrongly takes type[Any] for unhashable in the @cache call
        for field in _target_fields(type(event)):  # type: ignore[arg-type]
            if (target := getattr(event, field)) is not None:
                found.add(target)
    return found


_RESTING = select(records).where(
    records.c.subject_id == bindparam("b_subject_id"), records.c.type.in_(RESTING_TYPES)
)
_RECORDS = AmongKeys(lambda among: select(records).where(among(records.c.record_id)))


def _load_resting(conn: Connection, subject_id: UUID) -> dict[UUID, dict[str, Any]]:
    """A subject's stored records that rest on another (its list entries): a few rows."""
    rows = conn.execute(_RESTING, {"b_subject_id": subject_id}).mappings()
    return {row["record_id"]: dict(row) for row in rows}


def _load_records(conn: Connection, record_ids: set[UUID]) -> dict[UUID, dict[str, Any] | None]:
    """Each id's stored row (None: not stored), a few thousand ids per query."""
    found: dict[UUID, dict[str, Any] | None] = dict.fromkeys(record_ids)
    for chunk in chunks(record_ids):  # none: no query
        for row in conn.execute(_RECORDS.on(conn), {KEYS: chunk}).mappings().all():
            found[row["record_id"]] = dict(row)
    return found


def _correct(row: dict[str, Any], changes: dict[str, Any], at: Any, policy: PolicyBook) -> None:
    """New content for a record: derived columns recomputed, the history keeps the event."""
    row.update(derived_columns(row["type"], {**row["details"], **changes}, policy))
    row["correction_count"] += 1
    row["corrected_at"] = at
    _clip_publication(row)


def _clip_publication(row: dict[str, Any]) -> None:
    """An ended record's publication, as its type has it: an exit or a licence revocation ends
    it on its date, if that is sooner; a commitment's outcome leaves it as it was."""
    if row["ended_on"] is None or row["publish_from"] is None:
        return
    window = Window(row["publish_from"], row["publish_until"])
    row["publish_until"] = window_when_ended(row["type"], window, row["ended_on"]).end
