"""A subject's history as auditors read it (service/history.py), from events in a fake store: its
items, the filters, the pages and their cursor, and how the events refer to one another both
ways, read from the record types' declared traits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.cases import CaseAccepted, RepairApplied
from domain.crypto_suite import AES_256_GCM
from domain.events import ListEntered, RecordCorrected, RecordRevoked
from service.history import (
    HistoryFilters,
    Reference,
    history_item,
    history_page,
    linked,
    references,
    subject_exists,
)
from tests.builders import stored_event
from tests.unit.projections.test_credit_file_projector import COMMON, SUBJECT, penalty, registered

pytestmark = pytest.mark.domain
RECORDED = datetime(2026, 11, 20, 4, tzinfo=UTC)
PENALTY, OTHER, CORRECTION, REVOCATION, ENTRY = (UUID(int=n) for n in range(11, 16))
CASE = UUID(int=900)


class Store:
    """The store's pages of one subject's events, as CreditLedger.stream_page answers them."""

    def __init__(self, events: list[Any]):
        self.events = events
        self.reads = 0

    def stream_page(self, subject_id: UUID, *, after_version: int, limit: int) -> list:
        self.reads += 1
        if subject_id != SUBJECT:
            return []
        later = [e for e in self.events if e.originator_version > after_version][:limit]
        return [(100 + e.originator_version, e) for e in later]


def follow_up(cls: type, version: int, record_id: UUID, **fields: Any) -> Any:
    return stored_event(
        cls,
        **COMMON,
        originator_version=version,
        record_id=record_id,
        decision_date=date(2026, 11, 1),
        source_ref=f"F-{version}",
        **fields,
    )


def history() -> list[Any]:
    sealed = registered()
    object.__setattr__(sealed, "code", AES_256_GCM.prefix + "AAAA")  # an individual's code, sealed
    return [
        sealed,
        penalty(2, PENALTY, severity="serious"),
        penalty(3, OTHER),
        follow_up(
            RecordCorrected, 4, CORRECTION, target_record_id=OTHER, changes={"c": 1}, reason="r"
        ),
        follow_up(
            ListEntered,
            5,
            ENTRY,
            list_type="black",
            basis="b",
            planned_end=None,
            basis_record_id=PENALTY,
        ),
        stored_event(
            RepairApplied,
            originator_id=SUBJECT,
            originator_version=6,
            timestamp=RECORDED + timedelta(days=1),
            case_id=CASE,
            target_record_id=PENALTY,
            by="applicant",
            case_number="XF1",
            query_code_hash="h",
            corrections=[],
            commitment_signed=True,
            evidence=[],
            applicant="a",
        ),
        stored_event(
            CaseAccepted,
            originator_id=SUBJECT,
            originator_version=7,
            timestamp=RECORDED + timedelta(days=2),
            case_id=CASE,
            target_record_id=PENALTY,
            by="11410100MB00000018",
        ),
        follow_up(RecordRevoked, 8, REVOCATION, target_record_id=UUID(int=77), reason="r"),
    ]


def test_an_item_has_its_two_times_who_recorded_it_and_no_sealed_value():
    first, second = (history_item(100 + e.originator_version, e) for e in history()[:2])
    assert first["data"]["code"] == "(sealed)" and first["valid_time"] is None
    assert (second["version"], second["position"], second["type"]) == (2, 102, "PenaltyDecided")
    assert (second["valid_time"], second["recorded_by"]) == (date(2026, 5, 1), "t")
    assert second["record_id"] == PENALTY and "recorded_by" not in second["data"]


def test_pages_go_on_from_their_cursor_to_the_end():
    store = Store(history())
    first = history_page(store, SUBJECT, limit=3)
    assert [i["version"] for i in first.items] == [1, 2, 3] and first.next_after_version == 3
    rest = history_page(store, SUBJECT, after_version=3, limit=10)
    assert [i["version"] for i in rest.items] == [4, 5, 6, 7, 8]
    assert rest.next_after_version is None
    assert subject_exists(store, SUBJECT) and not subject_exists(store, UUID(int=2))


def test_filters_keep_types_and_days_and_say_what_they_asked():
    store = Store(history())
    by_type = HistoryFilters(types=frozenset({"PenaltyDecided"}))
    assert [i["version"] for i in history_page(store, SUBJECT, filters=by_type).items] == [2, 3]
    decided = HistoryFilters(valid_from=date(2026, 10, 1))  # case steps have no decision date
    assert [i["version"] for i in history_page(store, SUBJECT, filters=decided).items] == [
        4,
        5,
        8,
    ]
    recorded = HistoryFilters(recorded_from=date(2026, 11, 21), recorded_until=date(2026, 11, 21))
    assert [i["version"] for i in history_page(store, SUBJECT, filters=recorded).items] == [6]
    assert recorded.as_json() == {"recorded_from": "2026-11-21", "recorded_until": "2026-11-21"}
    assert by_type.as_json() == {"types": ["PenaltyDecided"]} and HistoryFilters().as_json() == {}
    # A page of filtered items still holds `limit` of them, reading on as far as it needs.
    page = history_page(store, SUBJECT, limit=1, filters=decided)
    assert [i["version"] for i in page.items] == [4] and page.next_after_version == 4


def test_each_reference_is_linked_both_ways_from_the_declared_traits():
    items = history_page(Store(history()), SUBJECT).items
    by_version = {event.item["version"]: event for event in linked(items)}
    assert by_version[4].refers_to == [Reference("corrects", OTHER, 3)]
    assert by_version[3].referred_by == [Reference("corrects", CORRECTION, 4)]
    assert by_version[5].refers_to == [Reference("rests_on", PENALTY, 2)]
    assert by_version[2].referred_by == [
        Reference("rests_on", ENTRY, 5),
        Reference("case_step", CASE, 6),
        Reference("case_step", CASE, 7),
    ]
    assert by_version[6].refers_to == [Reference("case_step", PENALTY, 2)]
    # A revocation of a record the page does not hold names it without a place to go.
    assert by_version[8].refers_to == [Reference("revokes", UUID(int=77), None)]
    assert by_version[1].refers_to == [] and by_version[1].referred_by == []
    assert references(items[1]) == []
