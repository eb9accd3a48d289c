"""Subject partitions of the log: which events a projecting process takes when the read models
are built by several, each from the events of its own share of the subjects.

Every event belongs to a subject's stream, and a per-subject projector (`per_subject = True`)
reads and writes nothing of other subjects, so it may be built from each share apart, into the
same tables, with the same rows as from the whole log. Its position is then tracked per
partition, under a name of its own (`partition_name`). A projector that is not per-subject
(its rows depend on events of several subjects, in their order), and every projector it
depends on, is built from the whole log in one process."""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from projections.runner import Log, Projector


def partition_of(subject_id: UUID, partitions: int) -> int:
    """The subject's partition: the first 8 bytes of SHA-256 over the id's 16 bytes, as an
    unsigned big-endian integer, mod the number of partitions. Stable across restarts,
    machines and languages, so a consumer can compute it too (the NATS subjects of the
    changes use it, service/notifications/jetstream.py)."""
    return int.from_bytes(sha256(subject_id.bytes).digest()[:8], "big") % partitions


def partition_name(projector: str, partition: int, partitions: int) -> str:
    """The tracking row of a projector's build from one partition, e.g. `credit_file@0/2`."""
    return f"{projector}@{partition}/{partitions}"


def per_subject(projector: Any) -> bool:
    return bool(getattr(projector, "per_subject", False))


def built_whole(projectors: Sequence[Any]) -> list[str]:
    """The projectors to build from the whole log: those not per-subject, and those any of
    them depends on (it reads their tables, which must then hold every subject's rows when it
    does), in the runner's order."""
    by_name = {p.name: p for p in projectors}
    whole = {p.name for p in projectors if not per_subject(p)}
    todo = list(whole)
    while todo:
        for dependency in getattr(by_name[todo.pop()], "depends_on", ()):
            if dependency in by_name and dependency not in whole:
                whole.add(dependency)
                todo.append(dependency)
    return [p.name for p in projectors if p.name in whole]


class PartitionLog:
    """The log as one partition sees it: only the events of its subjects, in log order. A page
    is read on until it holds `limit` of them or the log (up to `stop`) ends, so a page is
    never empty before the end."""

    def __init__(self, log: Log, partition: int, partitions: int):
        self.log = log
        self.partition = partition
        self.partitions = partitions

    def mine(self, notification: Notification) -> bool:
        subject = notification.originator_id
        subject = subject if isinstance(subject, UUID) else UUID(str(subject))
        return partition_of(subject, self.partitions) == self.partition

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, *, inclusive_of_start: bool
    ) -> Sequence[Notification]:
        found: list[Notification] = []
        while len(found) < limit:
            page = self.log.select_notifications(
                start, limit, stop, inclusive_of_start=inclusive_of_start
            )
            found += [n for n in page if self.mine(n)]
            if len(page) < limit:
                break
            start, inclusive_of_start = page[-1].id, False
        return found


class InPartition:
    """A per-subject projector built from one partition: the same rows, its position tracked
    under the partition's name, and its dependencies' in the same partition."""

    def __init__(self, projector: Projector, partition: int, partitions: int):
        if not per_subject(projector):
            raise ValueError(f"projector {projector.name} is not per-subject")
        self.projector = projector
        self.plain_name = projector.name
        self.name = partition_name(projector.name, partition, partitions)
        self.depends_on = tuple(
            partition_name(dependency, partition, partitions)
            for dependency in getattr(projector, "depends_on", ())
        )

    @property
    def tables(self) -> Sequence[Any]:
        return self.projector.tables

    def apply(self, conn: Any, events: Sequence[tuple[int, Any]]) -> None:
        self.projector.apply(conn, events)
