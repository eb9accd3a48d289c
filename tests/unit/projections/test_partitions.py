"""The subject partitions a partitioned rebuild builds from: each partition's view of the log
holds its subjects' events, all of them, in log order, in pages that are never empty before the
end; a projector that is not per-subject is built whole, with what it depends on."""

from __future__ import annotations

from uuid import UUID, uuid5

import pytest
from eventsourcing.persistence import Notification

from projections.partitions import (
    InPartition,
    PartitionLog,
    built_whole,
    partition_name,
    partition_of,
)

SUBJECTS = [uuid5(UUID(int=0), f"subject-{n}") for n in range(12)]


class FakeLog:
    def __init__(self, count: int):
        self.notifications = [
            Notification(
                id=position,
                originator_id=SUBJECTS[position % len(SUBJECTS)],
                originator_version=position,
                topic="t",
                state=b"",
            )
            for position in range(1, count + 1)
        ]
        self.reads = 0

    def select_notifications(self, start, limit, stop=None, *, inclusive_of_start):
        self.reads += 1
        after = [
            n
            for n in self.notifications
            if (n.id >= (start or 0) if inclusive_of_start else n.id > (start or 0))
        ]
        return [n for n in after[:limit] if stop is None or n.id <= stop]


def read_all(log: PartitionLog, limit: int, stop: int | None = None) -> list[list[int]]:
    pages, start = [], 0
    while page := log.select_notifications(start, limit, stop, inclusive_of_start=False):
        pages.append([n.id for n in page])
        start = page[-1].id
    return pages


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_the_partitions_together_hold_every_event_once_in_log_order(limit):
    log = FakeLog(100)
    seen: list[int] = []
    for partition in range(3):
        pages = read_all(PartitionLog(log, partition, 3), limit, stop=90)
        assert all(len(page) >= limit for page in pages[:-1])  # none short before the end
        ids = [i for page in pages for i in page]
        assert ids == sorted(ids)
        assert {partition_of(SUBJECTS[i % len(SUBJECTS)], 3) for i in ids} == {partition}
        seen += ids
    assert sorted(seen) == list(range(1, 91))


class Named:
    def __init__(self, name, *, per_subject, depends_on=()):
        self.name, self.per_subject, self.depends_on = name, per_subject, depends_on
        self.tables = ()
        self.applied: list = []

    def apply(self, conn, events):
        self.applied.append(events)


def test_a_projector_not_per_subject_is_built_whole_with_what_it_reads():
    projectors = [
        Named("file", per_subject=True),
        Named("cases", per_subject=True, depends_on=("file",)),
        Named("figures", per_subject=False, depends_on=("cases",)),
        Named("changes", per_subject=True, depends_on=("file",)),
    ]
    assert built_whole(projectors) == ["file", "cases", "figures"]
    assert built_whole(projectors[:2] + projectors[3:]) == []


def test_a_projector_in_a_partition_tracks_itself_and_its_dependencies_there():
    inner = Named("cases", per_subject=True, depends_on=("file",))
    cases = InPartition(inner, 1, 4)
    assert (cases.name, cases.depends_on) == ("cases@1/4", (partition_name("file", 1, 4),))
    cases.apply(None, [(1, "event")])
    assert inner.applied == [[(1, "event")]]
    with pytest.raises(ValueError, match="not per-subject"):
        InPartition(Named("figures", per_subject=False), 0, 2)


def test_every_projector_of_the_service_is_per_subject():
    """Each says why in its class (`per_subject`): a new one that is not is built whole."""
    from zoneinfo import ZoneInfo

    from service.policy.calendars import load_calendar
    from service.policy.loader import load_policy
    from service.read_models import read_model_projectors

    projectors = read_model_projectors(
        load_policy(), load_calendar(None), ZoneInfo("Asia/Shanghai")
    )
    assert built_whole(projectors) == []
