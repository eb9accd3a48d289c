"""A subject's whole history as the event store holds it, for auditors: every event with its
valid time, recorded time and who recorded it, filtered and paged, and how the events refer to
one another (a correction to the record it corrected, a list entry to the conduct it rests on, a
case step to the record it concerns), both ways. The API's history route and the console's
timeline both read it from here."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol
from uuid import UUID

from domain.cases import CASE_EVENT_TYPES
from domain.events import RECORD_EVENT_TYPES, SubjectRegistered
from service.access.personal_data import is_sealed

PAGE = 500  # events read from the store at a time
PROVENANCE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
SEALED = "(sealed)"
CASE_STEPS = frozenset(cls.__name__ for cls in CASE_EVENT_TYPES)

# How one event refers to a record: it ends, revokes or corrects it (its type's ActsOn), it
# rests on it (RestsOn: a list entry on its basis), or it is a step of a case about it.
Effect = Literal["ends", "revokes", "corrects", "rests_on", "case_step"]


class EventPages(Protocol):
    """What the history reads: one subject's events with their log positions, a page at a time
    (service.store.ledger.CreditLedger)."""

    def stream_page(
        self, subject_id: UUID, *, after_version: int, limit: int
    ) -> list[tuple[int, Any]]: ...


def history_item(position: int, event: Any) -> dict[str, Any]:
    """An event as an auditor reads it: its place in the stream and the log, its type and
    schema version, its two times, who recorded it, and its fields (an individual's sealed
    personal fields as "(sealed)": revealing one is a separate, logged act)."""
    fields = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(event)
        if f.name not in PROVENANCE
    }
    for name, value in fields.items():
        if isinstance(value, str) and is_sealed(value):
            fields[name] = SEALED
    return {
        "version": event.originator_version,
        "position": position,
        "type": type(event).__name__,
        "schema_version": getattr(type(event), "class_version", 1),
        "recorded_at": event.timestamp,
        "valid_time": fields.get("decision_date"),
        "recorded_by": fields.pop("recorded_by", None),
        "record_id": fields.get("record_id"),
        "data": fields,
    }


@dataclass(frozen=True)
class HistoryFilters:
    """Which events a reader wants: by type, by the day they were recorded, by the day they were
    decided (an event without a decision date is left out once a valid-time bound is set)."""

    types: frozenset[str] = frozenset()
    recorded_from: date | None = None
    recorded_until: date | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    def as_json(self) -> dict[str, Any]:
        """The filters set, as the access log keeps what a read asked for."""
        chosen: dict[str, Any] = {"types": sorted(self.types)} if self.types else {}
        for name in ("recorded_from", "recorded_until", "valid_from", "valid_until"):
            if getattr(self, name) is not None:
                chosen[name] = getattr(self, name).isoformat()
        return chosen

    def admit(self, item: dict[str, Any]) -> bool:
        if self.types and item["type"] not in self.types:
            return False
        recorded_on = item["recorded_at"].date()
        if (self.recorded_from and recorded_on < self.recorded_from) or (
            self.recorded_until and recorded_on > self.recorded_until
        ):
            return False
        valid = item["valid_time"]
        if self.valid_from or self.valid_until:
            if valid is None:
                return False
            if (self.valid_from and valid < self.valid_from) or (
                self.valid_until and valid > self.valid_until
            ):
                return False
        return True


EVERYTHING = HistoryFilters()


def admitted(page: Iterable[tuple[int, Any]], filters: HistoryFilters) -> Iterator[dict[str, Any]]:
    """The items of a page of stored events that the filters admit, in stream order."""
    for position, event in page:
        item = history_item(position, event)
        if filters.admit(item):
            yield item


def subject_exists(events: EventPages, subject_id: UUID) -> bool:
    """Whether the stream is a subject's: the service's own (the day closes) is none."""
    first = events.stream_page(subject_id, after_version=0, limit=1)
    return bool(first) and isinstance(first[0][1], SubjectRegistered)


@dataclass(frozen=True)
class HistoryPage:
    items: list[dict[str, Any]]
    next_after_version: int | None  # None: this page reached the end of the stream


def history_page(
    events: EventPages,
    subject_id: UUID,
    *,
    after_version: int = 0,
    limit: int = 100,
    filters: HistoryFilters = EVERYTHING,
) -> HistoryPage:
    """Up to `limit` admitted events after `after_version`, and the cursor to go on from."""
    items: list[dict[str, Any]] = []
    last_version = after_version
    while len(items) < limit:
        page = events.stream_page(subject_id, after_version=last_version, limit=PAGE)
        if not page:  # the end: fewer than `limit` items, so no next cursor
            break
        for position, event in page:
            last_version = event.originator_version
            item = history_item(position, event)
            if filters.admit(item):
                items.append(item)
                if len(items) == limit:
                    break
    return HistoryPage(items, last_version if len(items) == limit else None)


# How the events of a history refer to one another --------------------------------------------
@dataclass(frozen=True)
class Reference:
    """One end of a reference: the record at that end (for a case step referring to a record,
    its case), and the version of the event that made it when the history at hand holds it (so
    a reader can be taken there)."""

    effect: Effect
    record_id: UUID
    version: int | None


@dataclass(frozen=True)
class LinkedEvent:
    """An event with the records it refers to and the events that refer to the record it made."""

    item: dict[str, Any]
    refers_to: list[Reference] = field(default_factory=list)
    referred_by: list[Reference] = field(default_factory=list)

    @property
    def record_id(self) -> UUID | None:
        return self.item["record_id"]


def references(item: dict[str, Any]) -> list[tuple[Effect, UUID]]:
    """The records an event refers to, read from its type's declared traits (ActsOn, RestsOn)
    or, for a case step, the record its case concerns."""
    data = item["data"]
    found: list[tuple[Effect, UUID]] = []
    record_type = RECORD_EVENT_TYPES.get(item["type"])
    if record_type is not None:
        traits = record_type.TRAITS
        if traits.acts_on is not None and data.get(traits.acts_on.field) is not None:
            found.append((traits.acts_on.effect, data[traits.acts_on.field]))
        if traits.rests_on is not None and data.get(traits.rests_on.field) is not None:
            found.append(("rests_on", data[traits.rests_on.field]))
    elif item["type"] in CASE_STEPS:
        found.append(("case_step", data["target_record_id"]))
    return found


def linked(items: list[dict[str, Any]]) -> list[LinkedEvent]:
    """The items, each with the records it refers to and what refers to the record it made."""
    made_by = {item["record_id"]: item["version"] for item in items if item["record_id"]}
    events = [LinkedEvent(item) for item in items]
    by_record = {event.record_id: event for event in events if event.record_id}
    for event in events:
        for effect, record_id in references(event.item):
            event.refers_to.append(Reference(effect, record_id, made_by.get(record_id)))
            target = by_record.get(record_id)
            if target is not None:
                referrer = event.record_id or event.item["data"]["case_id"]
                target.referred_by.append(Reference(effect, referrer, event.item["version"]))
    return events
