"""Events in, changes out: what an agency following a subject is told (domain/changes.py).

Each change is written in the page's transaction with the projector's tracked position, like
every read model's rows (projections/runner.py): a change exists exactly when its event is
committed and projected, and a crash between pages loses none and repeats none. The rows are an
outbox: the feed reads them now, deliveries to subscribers will later.

A change says what changed in the terms of a querying agency's status: a record's type, dates,
publication window, list type, objection flag; never the subject's name or code, nor a
record's details. What the event alone does not tell (the type of the record a follow-up acts
on, an entry's list type, a case's number) is read from the credit file's and the cases' read
models, which hold it unchanged since that record or case was first written; this projector
never gets ahead of them.

What follows from the status rules (a grade changed, an early warning raised, a list entry
lapsed with its basis or standing again, a repair withdrawn) is read from the credit file's
history: the record revisions standing at each event's stream version, evaluated on the day
the event was recorded (in the service's zone). Those rows are kept by version, so they are
the same however far the credit file has gone on. What the status told last is kept per subject
(`told_statuses`), with the next day on which time alone may change it: a day's close
(domain/day_close.py) evaluates, as of its day, the subjects whose day that is and no other, and
tells what time changed (a rating's validity over, a list entry at its planned end, a commitment
falling due) with `"cause": "time"`; a subject's next event tells what no close told."""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from operator import itemgetter
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, or_, select

from domain.cases import ObjectionFiled, ObjectionResolved, RepairApproved, RepairRevoked
from domain.changes import (
    GRADE_CHANGED,
    LIST_ENTERED,
    LIST_LEFT,
    OBJECTION_OPENED,
    OBJECTION_RESOLVED,
    RECORD_PUBLISHED,
    RECORD_REINSTATED,
    RECORD_REPAIRED,
    RECORD_REVOKED,
    WARNING_RAISED,
    ChangeKind,
    Told,
    change_id,
    grade_changes,
    told_from,
    warnings_raised,
)
from domain.credit_status import (
    RecordFact,
    conduct_horizon,
    entry_in_force,
    grades_and_warnings,
    next_time_change,
)
from domain.day_close import DayClosed
from domain.events import (
    CONDUCT_TYPES,
    RESTING_TYPES,
    RULE_INPUT_TYPES,
    ListEntered,
    ListExited,
    RecordEvent,
    RecordRevoked,
)
from domain.policy import PolicyBook
from domain.publication import ACTIVE, LAPSED, REPAIRED, record_window, stands_on
from projections.credit_file.as_of import FACT_COLUMNS, end_of_day, revision_fact
from projections.credit_file.projector import record_details, typed
from projections.tables import cases, changes, record_revisions, records, told_statuses
from projections.writes import KEYS, AmongKeys, chunks, insert_rows, replace_rows

Change = tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]

OBJECTION_LABEL = "异议处理中"  # as a status shows an open objection


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


class ChangeProjector:
    name = "changes"
    tables = (changes, told_statuses)
    # The records and cases a follow-up or a case step names are read from those read models,
    # the standing of a subject's records at an event from the credit file's history.
    depends_on = ("credit_file", "cases")
    # Its order and ids come from each event's own log position (which a partition reads
    # unchanged) and the changes of that one event, never from a count over the log; what the
    # status told last is kept per subject.
    per_subject = True

    def __init__(self, policy: PolicyBook, zone: tzinfo):
        self.policy = policy  # a record's publication window is the policy's, as in its file
        self.zone = zone  # the day an event was recorded on, for the status it leaves
        # How many subjects the day closes applied here evaluated (what a close costs).
        self.evaluated_by_time = 0

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        found: list[tuple[int, Any, UUID, ChangeKind, UUID, dict[str, Any] | None, Any]] = []
        statuses = _Statuses(conn, events, self.policy, self.zone)
        for position, event in events:
            if isinstance(event, DayClosed):
                for subject_id, (kind, record_id, before, after) in statuses.closed(event):
                    found.append((position, event, subject_id, kind, record_id, before, after))
                continue
            derived = self.derive(event, statuses.started_by(event))
            for kind, record_id, before, after in (*derived, *statuses.after(event)):
                found.append((position, event, event.originator_id, kind, record_id, before, after))
        statuses.write()
        self.evaluated_by_time += statuses.evaluated_by_time
        if not found:
            return
        named = {record_id for _, _, _, _, record_id, _, _ in found if record_id is not None}
        stored = _stored_records(conn, named)
        case_numbers = _case_numbers(
            conn, {e.case_id for _, e, *_ in found if isinstance(e, ObjectionResolved)}
        )
        rows = []
        ordinals: dict[int, int] = {}
        for position, event, subject_id, kind, record_id, before, after in found:
            ordinal = ordinals.get(position, 0)
            ordinals[position] = ordinal + 1
            record_type = (
                type(event).__name__
                if isinstance(event, RecordEvent) and event.record_id == record_id
                else stored.get(record_id, (None, None))[0]
            )
            if record_type is None:
                raise LookupError(f"change {kind.name} of record {record_id}, not in the file")
            if kind is OBJECTION_RESOLVED:
                before = {"objection": _flag(case_numbers[event.case_id])}
            if kind is LIST_LEFT and isinstance(event, ListExited):
                before = {"list_type": stored[record_id][1]}
            if kind is WARNING_RAISED:
                # addressed to the authority that recorded what the warning rests on
                after = {**after, **stored[record_id][2]}
            rows.append(
                {
                    "change_id": change_id(position, kind, record_id),
                    "position": position,
                    "ordinal": ordinal,
                    "subject_id": subject_id,
                    "kind": kind.name,
                    "record_id": record_id,
                    "record_type": record_type,
                    "before": before,
                    "after": after,
                    "recorded_at": event.timestamp,
                    "addressed_to": after["authority_code"] if kind is WARNING_RAISED else None,
                }
            )
        insert_rows(conn, changes, rows)

    def derive(
        self, event: Any, revision: Any = None
    ) -> list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]]:
        """The changes one event makes: (kind, record concerned, before, after). What needs a
        read model (a list-left's list type, a resolved objection's case number) is filled in
        by `apply`; a new record's publication may be read from the `revision` of it that the
        event started in the credit file's history."""
        if isinstance(event, ListExited):
            ended = {"ended_on": _day(event.decision_date), "ended_by": str(event.record_id)}
            return [(LIST_LEFT, event.entry_record_id, None, ended)]
        if isinstance(event, RecordRevoked):
            revoked = {"state": "revoked", "revoked_by": str(event.record_id)}
            return [(RECORD_REVOKED, event.target_record_id, None, revoked)]
        if isinstance(event, RecordEvent):
            return self._recorded(event, revision)
        if isinstance(event, RepairApproved):
            repaired = {"state": "repaired", "repaired_at": event.timestamp.isoformat()}
            return [(RECORD_REPAIRED, event.target_record_id, {"state": "active"}, repaired)]
        if isinstance(event, ObjectionFiled):
            flagged = {"objection": _flag(event.case_number)}
            return [(OBJECTION_OPENED, event.target_record_id, {"objection": None}, flagged)]
        if isinstance(event, ObjectionResolved):
            found: list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]]
            found = [
                (
                    OBJECTION_RESOLVED,
                    event.target_record_id,
                    None,
                    {"objection": None, "outcome": event.outcome},
                )
            ]
            if event.outcome == "revoked":
                revoked = {"state": "revoked", "revoked_by": str(event.case_id)}
                found.append((RECORD_REVOKED, event.target_record_id, None, revoked))
            return found
        return []

    def _recorded(
        self, event: RecordEvent, revision: Any = None
    ) -> list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]]:
        """A new record: published if its type and content give it a publication window (as
        the credit file computes it), and a list entry besides if it is one."""
        if event.TRAITS.follow_up:
            return []
        authority = {"authority_code": event.authority_code, "authority_name": event.authority_name}
        found: list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]] = []
        window: tuple[Any, date | None, date | None] | None
        if revision is not None and revision[PUBLISH_FROM] is not None:
            # The window the credit file worked out from the same fields under the same policy
            # (`derived_columns`), with its severity: a window with no start, or none, is
            # worked out again.
            window = revision[SEVERITY], revision[PUBLISH_FROM], revision[PUBLISH_FROM + 1]
        else:
            fields = typed(record_details(event))
            made = record_window(type(event).__name__, fields, book=self.policy)
            window = (fields.get("severity"), made.start, made.end) if made else None
        if window is not None:
            severity, start, end = window
            published = {
                "family": event.TRAITS.family,
                "severity": severity,
                "decision_date": _day(event.decision_date),
                "publish_from": _day(start),
                "publish_until": _day(end),
                **authority,
            }
            found.append((RECORD_PUBLISHED, event.record_id, None, published))
        if isinstance(event, ListEntered):
            entered = {
                "list_type": event.list_type,
                "decision_date": _day(event.decision_date),
                "planned_end": _day(event.planned_end),
                **authority,
            }
            found.append((LIST_ENTERED, event.record_id, None, entered))
        return found


def _flag(case_number: str) -> dict[str, str]:
    return {"case_number": case_number, "label": OBJECTION_LABEL}


def _stored_records(
    conn: Connection, record_ids: set[UUID]
) -> dict[UUID, tuple[str, str | None, dict[str, str]]]:
    """Each named record's type, its list type if it is a list entry, and the authority that
    recorded it."""
    found: dict[UUID, tuple[str, str | None, dict[str, str]]] = {}
    for chunk in chunks(record_ids):
        rows = conn.execute(_STORED_RECORDS.on(conn), {KEYS: chunk}).all()
        for record_id, record_type, list_type, code, name in rows:
            authority = {"authority_code": code, "authority_name": name}
            found[record_id] = (record_type, list_type, authority)
    return found


def _case_numbers(conn: Connection, case_ids: set[UUID]) -> dict[UUID, str]:
    if not case_ids:
        return {}
    rows = conn.execute(_CASE_NUMBERS.on(conn), {KEYS: list(case_ids)})
    return {case_id: number for case_id, number in rows}


REVISION_COLUMNS = (
    *FACT_COLUMNS,
    record_revisions.c.state,
    record_revisions.c.repaired_at,
    record_revisions.c.from_version,
    record_revisions.c.until_version,
)
FACT_WIDTH = len(FACT_COLUMNS)
SEVERITY, PUBLISH_FROM = 3, 16  # positions in FACT_COLUMNS (publish_until follows)
ONE_DAY = timedelta(days=1)


# A page's statements, built once (projections/writes.py, `AmongKeys`, says why).
_STORED_RECORDS = AmongKeys(
    lambda among: select(
        records.c.record_id,
        records.c.type,
        records.c.list_type,
        records.c.authority_code,
        records.c.authority_name,
    ).where(among(records.c.record_id))
)
_CASE_NUMBERS = AmongKeys(
    lambda among: select(cases.c.case_id, cases.c.case_number).where(among(cases.c.case_id))
)
_STANDING_REVISIONS = AmongKeys(
    lambda among: select(record_revisions.c.subject_id, *REVISION_COLUMNS).where(
        among(record_revisions.c.subject_id),
        # what stood at the page's first version of each subject, or came after
        or_(
            record_revisions.c.until_version.is_(None),
            record_revisions.c.until_version >= bindparam("oldest"),
        ),
    )
)
_TOLD = AmongKeys(lambda among: select(told_statuses).where(among(told_statuses.c.subject_id)))
_DUE_BY_TIME = select(told_statuses).where(told_statuses.c.next_time_change <= bindparam("day"))


def _due_by_time(conn: Connection, day: date) -> dict[UUID, dict[str, Any]]:
    """What the status told last of each subject whose next time change is on `day` or before:
    the subjects a day's close evaluates, and no other (an index range of `told_statuses`)."""
    rows = conn.execute(_DUE_BY_TIME, {"day": day}).mappings()
    return {row["subject_id"]: dict(row) for row in rows}


class _Statuses:
    """The changes a page's events make to their subjects' status: each event's subject is
    evaluated on the day the event was recorded, over its records as they stood at the event's
    stream version (the credit file's revisions), and compared with what was told last; at a
    day's close, the subjects whose next time change has come are evaluated as of its day."""

    def __init__(
        self,
        conn: Connection,
        events: Sequence[tuple[int, Any]],
        policy: PolicyBook,
        zone: tzinfo,
    ):
        self.conn, self.policy, self.zone = conn, policy, zone
        first: dict[UUID, int] = {}
        for _, event in events:
            if not isinstance(event, DayClosed):
                first.setdefault(event.originator_id, event.originator_version)
        self.revisions: dict[UUID, _Standing] = {}
        # Each revision's fact, made once: a subject's status is evaluated at each of its events
        # over the revisions standing then that may weigh, and making the facts again each time
        # was half of that evaluation for a subject of thousands of records. Keyed by the row's
        # identity, which holds while `revisions` keeps the row.
        self.facts: dict[int, RecordFact] = {}
        self.told: dict[UUID, dict[str, Any]] = {}
        self.changed: set[UUID] = set()
        # The types of the records whose standing each (subject, version) changed.
        self.started: dict[tuple[UUID, int], set[str]] = {}
        self.evaluated_by_time = 0
        self._load(first)

    def _load(self, first: dict[UUID, int]) -> None:
        """The revisions standing at each subject's given version or after, and what its
        status told last."""
        ids = [subject_id for subject_id in first if subject_id not in self.revisions]
        for subject_id in ids:
            self.revisions[subject_id] = _Standing()
        oldest = min((first[subject_id] for subject_id in ids), default=0)
        conn = self.conn
        for chunk in chunks(ids):
            # Fetched whole, in one call to the driver: iterating the result fetched the
            # tens of thousands of rows of a rebuild's page one call each.
            revisions = conn.execute(_STANDING_REVISIONS.on(conn), {KEYS: chunk, "oldest": oldest})
            for subject_id, *revision in revisions.all():
                self.revisions[subject_id].add(revision)
                started = self.started.setdefault((subject_id, revision[-2]), set())
                started.add(revision[1])
            for told in conn.execute(_TOLD.on(conn), {KEYS: chunk}).mappings().all():
                self.told[told["subject_id"]] = dict(told)

    def started_by(self, event: Any) -> Any:
        """The revision a record event started of its own record in the credit file's history
        (None if it started none, or is no record event)."""
        standing = self.revisions.get(event.originator_id)
        if standing is None or not isinstance(event, RecordEvent):
            return None
        record_id = str(event.record_id)
        for row in standing.starting.get(event.originator_version, ()):
            if row[0] == record_id:
                return row
        return None

    def after(self, event: Any) -> list[Change]:
        """What the event changed of its subject's status, lists and records beyond what the
        event itself says: entries lapsed, ended at their planned end or standing again, a
        repair withdrawn, grades, warnings raised."""
        subject_id, version = event.originator_id, event.originator_version
        revisions = self.revisions[subject_id]
        if not revisions.rows and subject_id not in self.told:
            return []  # no record yet: no grade, no warning
        day = event.timestamp.astimezone(self.zone).date()
        started = self.started.get((subject_id, version), set())
        found = self._standing_moved(event, revisions, version, day) if started else []
        was = self.told.get(subject_id)
        if was is not None and was["evaluated_on"] == day and started.isdisjoint(RULE_INPUT_TYPES):
            # No rule input changed and no day passed: the status is as told (a licence, the
            # bulk of the 双公示 records, changes no grade and raises no warning).
            return found
        if (
            was is not None
            and was["evaluated_on"] == day
            and self._weighs_not(revisions, version, day)
        ):
            # What the event moved weighs on nothing told, and no day passed: the status and its
            # next time change are as told (an old penalty recorded, or revoked), at this version.
            self._remember(subject_id, day, version, was["told"], was["next_time_change"])
            return found
        before: Told = was["told"] if was else {"grades": {}, "warnings": {}}
        now, facts = self._status(revisions, version, day)
        # What time alone changed since the last evaluation, no day's close between: the status
        # on this day without this event (the same as told when nothing but the event came
        # between), and the entries whose planned end came meanwhile.
        by_time = before
        if was is not None and was["evaluated_on"] != day:
            by_time = self._status(revisions, version - 1, day)[0]
            ended = self._planned_ends(revisions, version - 1, was["evaluated_on"], day)
            exited = event.entry_record_id if isinstance(event, ListExited) else None
            found = [change for change in ended if change[1] != exited] + found  # told by it
        for scheme, old, new in grade_changes(before, now):
            rating = UUID((new or old or {})["rating_record_id"])
            same_by_time = (by_time["grades"].get(scheme) or {}).get("grade") == (new or {}).get(
                "grade"
            )
            after = {
                "scheme": scheme,
                **(new or {"grade": None}),
                "cause": "time" if same_by_time else "event",
            }
            found.append((GRADE_CHANGED, rating, old, after))
        found += self._warnings(before, now, revisions, version, day)
        self._remember(subject_id, day, version, now, next_time_change(facts, self.policy, day))
        return found

    def closed(self, event: DayClosed) -> list[tuple[UUID, Change]]:
        """What time alone changed on the closed day, of the subjects whose next time change
        has come by then (in subject order): each is evaluated as of the day, over its records
        as they stood at its version last evaluated."""
        day = event.day
        due = self._due(day)
        self._load({subject_id: self.told[subject_id]["version"] for subject_id in due})
        found: list[tuple[UUID, Change]] = []
        for subject_id in due:
            was = self.told[subject_id]
            version, revisions = was["version"], self.revisions[subject_id]
            self.evaluated_by_time += 1
            now, facts = self._status(revisions, version, day)
            changes = self._planned_ends(revisions, version, was["evaluated_on"], day)
            for scheme, old, new in grade_changes(was["told"], now):
                rating = UUID((new or old or {})["rating_record_id"])
                after = {"scheme": scheme, **(new or {"grade": None}), "cause": "time"}
                changes.append((GRADE_CHANGED, rating, old, after))
            changes += self._warnings(was["told"], now, revisions, version, day)
            found += [(subject_id, change) for change in changes]
            self._remember(subject_id, day, version, now, next_time_change(facts, self.policy, day))
        return found

    def _due(self, day: date) -> list[UUID]:
        """The subjects whose next time change is on `day` or before: as this page left them,
        or else as stored."""
        for subject_id, row in _due_by_time(self.conn, day).items():
            self.told.setdefault(subject_id, row)
        return sorted(
            subject_id
            for subject_id, was in self.told.items()
            if was["next_time_change"] is not None
            and was["next_time_change"] <= day
            # never evaluated back in time (its day is after the last evaluation's by rule)
            and was["evaluated_on"] < day
        )

    def _remember(
        self, subject_id: UUID, day: date, version: int, now: Told, next_change: date | None
    ) -> None:
        told = {
            "subject_id": subject_id,
            "evaluated_on": day,
            "version": version,
            "told": now,
            "next_time_change": next_change,
        }
        if self.told.get(subject_id) != told:
            self.told[subject_id] = told
            self.changed.add(subject_id)

    def _warnings(
        self, before: Told, now: Told, revisions: _Standing, version: int, day: date
    ) -> list[Change]:
        found: list[Change] = []
        for warning in warnings_raised(before, now):
            concerning = self._warning_record(warning, now, revisions, version, day)
            if concerning is not None:
                found.append((WARNING_RAISED, concerning, None, warning))
        return found

    def write(self) -> None:
        told = [self.told[subject_id] for subject_id in self.changed]
        replace_rows(self.conn, told_statuses, "subject_id", told)

    def _status(
        self, revisions: _Standing, version: int, day: date
    ) -> tuple[Told, list[RecordFact]]:
        """What the subject's status tells on `day` (its grades and warnings) over its records
        as they stood at `version`, as the status of a subject's fold reads them
        (projections/credit_file/as_of.py), and the facts it was evaluated over, for
        `next_time_change` (of those a status is evaluated over, see `_Standing.weighing`)."""
        day_ends = end_of_day(day, self.zone)
        if revisions.move(version):
            facts = revisions.weighing(self._fact, day_ends, self.policy, day)
        else:
            facts = [
                self._fact(row)
                for row in _at(revisions.rows, version)
                if row[1] in RULE_INPUT_TYPES and _stands(row, day_ends)
            ]
        return told_from(*grades_and_warnings(facts, self.policy, day)), facts

    def _weighs_not(self, revisions: _Standing, version: int, day: date) -> bool:
        """Whether the revisions starting and ending at `version` leave the facts a status is
        evaluated over on `day` (`_Standing.weighing`) as they were at the version before."""
        if not revisions.move(version):
            return False
        day_ends = end_of_day(day, self.zone)
        others = [self._fact(row) for row in revisions.others.values() if _stands(row, day_ends)]
        return revisions.weighs_not(version, conduct_horizon(others, self.policy, day))

    def _fact(self, row: Any) -> RecordFact:
        fact = self.facts.get(id(row))
        if fact is None:
            fact = self.facts[id(row)] = revision_fact(row[:FACT_WIDTH])
        return fact

    def _planned_ends(
        self, revisions: _Standing, version: int, since: date, day: date
    ) -> list[Change]:
        """List entries standing at `version` whose planned end came after `since` and by
        `day`, in force until then: told as leaving their list on their planned end."""
        found: list[Change] = []
        for row in sorted(revisions.standing(version), key=lambda row: str(row[0])):
            entered_on, planned_end, ended_on = row[2], row[12], row[14]
            if (
                row[1] != "ListEntered"
                or row[FACT_WIDTH] != ACTIVE
                or planned_end is None
                or not since < planned_end <= day
                or not entry_in_force(entered_on, ended_on, planned_end, planned_end - ONE_DAY)
            ):
                continue
            before = {"list_type": row[10], "state": ACTIVE}
            after = {"state": "ended", "ended_on": planned_end.isoformat(), "cause": "time"}
            found.append((LIST_LEFT, UUID(str(row[0])), before, after))
        return found

    def _standing_moved(
        self, event: Any, revisions: _Standing, version: int, day: date
    ) -> list[Change]:
        """A list entry that lapsed with its basis (repaired or revoked) while in force is
        told as leaving its list, and one standing again as entering it; a repair withdrawn
        is told as the record standing again."""
        # the revisions the event ended, and those it started (in the order loaded)
        earlier = {row[0]: row for row in revisions.ending.get(version, ())}
        moved = sorted(  # in record order, whatever order the database gave the rows in
            (row[0], row, earlier[row[0]])
            for row in revisions.starting.get(version, ())
            if row[0] in earlier
        )
        found: list[Change] = []
        for _, row, previous in moved:
            state, was = row[FACT_WIDTH], previous[FACT_WIDTH]
            if (
                isinstance(event, RepairRevoked)
                and UUID(row[0]) == event.target_record_id
                and (was, state) == (REPAIRED, ACTIVE)
            ):
                after = {"state": ACTIVE, "reinstated_by": str(event.case_id)}
                found.insert(0, (RECORD_REINSTATED, UUID(row[0]), {"state": REPAIRED}, after))
            if row[1] not in RESTING_TYPES or not entry_in_force(row[2], row[14], row[12], day):
                continue
            list_type, basis = row[10], row[13]
            if (was, state) == (ACTIVE, LAPSED):
                after = {"state": LAPSED, "ended_on": day.isoformat(), "lapsed_with": basis}
                before = {"list_type": list_type, "state": ACTIVE}
                found.append((LIST_LEFT, UUID(row[0]), before, after))
            elif (was, state) == (LAPSED, ACTIVE):
                after = {"list_type": list_type, "state": ACTIVE, "stands_with": basis}
                found.append((LIST_ENTERED, UUID(row[0]), {"state": LAPSED}, after))
        return found

    def _warning_record(
        self, warning: dict[str, Any], now: Told, revisions: _Standing, version: int, day: date
    ) -> UUID | None:
        """The record a warning rests on: the commitment falling due, the rating whose grade
        is close to the next lower one, the latest of the repeated conduct."""
        if warning["record_id"]:
            return UUID(warning["record_id"])
        if warning["scheme"]:
            return UUID(now["grades"][warning["scheme"]]["rating_record_id"])
        day_ends = end_of_day(day, self.zone)
        conduct = [
            (row[2], row[0])
            for row in revisions.standing(version)
            if row[1] in CONDUCT_TYPES and _stands(row, day_ends) and row[2] <= day
        ]
        return UUID(max(conduct)[1]) if conduct else None


# How far a subject's standing is carried version by version before it is found again among
# all its revisions instead.
MOVE_LIMIT = 64
# A conduct record's fact has none of these (row positions: valid from and until, planned end,
# ended on): one that had any would be kept with the other rule inputs, always evaluated.
_ENDS = itemgetter(8, 9, 12, 14)
_NO_ENDS = (None, None, None, None)
_DECIDED = itemgetter(0)


def _plain_conduct(row: Any) -> bool:
    return row[1] in CONDUCT_TYPES and row[2] is not None and _ENDS(row) == _NO_ENDS


class _Standing:
    """A subject's revisions as loaded for a page, and the rule inputs among them that stand at
    one stream version, carried from one version to the next by the revisions that start and end
    there. Found again among all the revisions at each event, and evaluated over all of them,
    a subject's cost grew with the square of its events (3,000 events of one subject took 22 s).

    Plain conduct records are kept apart in decision order: one decided on or before the
    `conduct_horizon` of the day weighs on no told part of a status (a grade's deductions since
    its rating, the watch-list and warning windows) unless it is a list entry's basis, and its
    days are all past for `next_time_change`, so a bisection passes over it. Only the told part
    of a status evaluated so is used: not its supervision tier, which old published conduct
    moves.

    Two revisions of one record standing at a version never happen; should they, `move` says
    so and the caller finds the standing among all the revisions, as before."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.starting: dict[int, list[Any]] = {}  # the revisions starting at each version
        self.ending: dict[int, list[Any]] = {}  # and those ending there
        self.version = 0  # where the standing below is carried to, once `carried`
        self.carried = False
        self.others: dict[Any, Any] = {}  # rule inputs but plain conduct, by record id
        self.conduct: dict[Any, Any] = {}  # plain conduct, by record id
        self.by_date: list[tuple[date, Any]] = []  # (decision date, record id) of the conduct
        self.irregular = False

    def add(self, row: Any) -> None:
        self.rows.append(row)
        self.starting.setdefault(row[-2], []).append(row)
        if row[-1] is not None:
            self.ending.setdefault(row[-1], []).append(row)
        self.carried = False

    def move(self, version: int) -> bool:
        """Stand at `version`; False if the revisions cannot be carried (see the class)."""
        if self.irregular:
            return False
        if not self.carried or abs(version - self.version) > MOVE_LIMIT:
            self._found_at(version)
        while self.version < version and not self.irregular:
            step = self.version + 1
            for row in self.ending.get(step, ()):
                if row[-2] < step:
                    self._take(row)
            for row in self.starting.get(step, ()):
                if row[-1] is None or row[-1] > step:
                    self._put(row)
            self.version = step
        while self.version > version and not self.irregular:
            step = self.version
            for row in self.starting.get(step, ()):
                if row[-1] is None or row[-1] > step:
                    self._take(row)
            for row in self.ending.get(step, ()):
                if row[-2] < step:
                    self._put(row)
            self.version = step - 1
        return not self.irregular

    def standing(self, version: int) -> list[Any]:
        """The rule inputs standing at `version` (with others, when they cannot be carried)."""
        if not self.move(version):
            return _at(self.rows, version)
        return [*self.others.values(), *self.conduct.values()]

    def weighing(
        self, fact: Any, day_ends: datetime, policy: PolicyBook, day: date
    ) -> list[RecordFact]:
        """The facts of the rule inputs standing (after `move`) on the day ending at `day_ends`
        that may weigh on what a status tells on `day`: all but plain conduct decided on or
        before the conduct horizon that is no list entry's basis."""
        others = [fact(row) for row in self.others.values() if _stands(row, day_ends)]
        horizon = conduct_horizon(others, policy, day)
        since = bisect_right(self.by_date, horizon, key=_DECIDED)
        rows = [self.conduct[record_id] for _, record_id in self.by_date[since:]]
        for basis in {f.basis_record_id for f in others if f.basis_record_id}:
            row = self.conduct.get(basis)
            if row is not None and row[2] <= horizon:
                rows.append(row)
        return others + [fact(row) for row in rows if _stands(row, day_ends)]

    def weighs_not(self, version: int, horizon: date) -> bool:
        """Whether every rule input starting or ending at `version` is plain conduct decided on
        or before `horizon` and no basis of a list entry standing: then (the other rule inputs
        unchanged, and with them the horizon) the facts `weighing` gives are the same at
        `version` as at the version before."""
        bases = {row[13] for row in self.others.values()}
        return all(
            row[1] not in RULE_INPUT_TYPES
            or (_plain_conduct(row) and row[2] <= horizon and row[0] not in bases)
            for rows in (self.starting.get(version, ()), self.ending.get(version, ()))
            for row in rows
        )

    def _found_at(self, version: int) -> None:
        self.others, self.conduct, self.by_date = {}, {}, []
        self.version, self.carried = version, True
        for row in _at(self.rows, version):
            self._put(row, in_order=False)
        self.by_date.sort()

    def _put(self, row: Any, in_order: bool = True) -> None:
        if row[1] not in RULE_INPUT_TYPES:
            return
        record_id = row[0]
        if record_id in self.others or record_id in self.conduct:
            self.irregular = True
        elif _plain_conduct(row):
            self.conduct[record_id] = row
            if in_order:
                insort(self.by_date, (row[2], record_id))
            else:
                self.by_date.append((row[2], record_id))
        else:
            self.others[record_id] = row

    def _take(self, row: Any) -> None:
        if row[1] not in RULE_INPUT_TYPES:
            return
        record_id, decided = row[0], row[2]
        if self.others.get(record_id) is row:
            del self.others[record_id]
        elif self.conduct.get(record_id) is row:
            del self.conduct[record_id]
            self.by_date.remove((decided, record_id))
        else:
            self.irregular = True


def _at(revisions: list[Any], version: int) -> list[Any]:
    """The revisions standing at a stream version."""
    return [
        row for row in revisions if row[-2] <= version and (row[-1] is None or row[-1] > version)
    ]


def _stands(row: Any, day_ends: datetime) -> bool:
    repaired_at = row[FACT_WIDTH + 1]
    if repaired_at is not None and repaired_at.tzinfo is None:  # SQLite keeps no zone: UTC
        repaired_at = repaired_at.replace(tzinfo=UTC)
    return stands_on(row[FACT_WIDTH], repaired_at, day_ends)
