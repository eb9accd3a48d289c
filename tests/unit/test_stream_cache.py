"""The cache of subjects an import keeps between batches: bounded by subjects and by records."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from uuid import UUID

from service.commanding.credit_files import StreamCache


def subject(n: int, records: int) -> Any:
    """A stand-in with what the cache reads of a subject: its id and its records."""
    return SimpleNamespace(id=UUID(int=n), records={str(r): {} for r in range(records)})


def test_the_least_recently_kept_subjects_go_first_once_their_records_exceed_the_bound():
    cache = StreamCache(capacity=100, max_records=10)
    cache.keep([subject(1, 4), subject(2, 4)])
    cache.keep([subject(3, 4)])  # 12 records: subject 1 goes
    assert len(cache) == 2
    assert cache.take({UUID(int=1), UUID(int=2)}).keys() == {UUID(int=2)}
    grown = subject(2, 9)  # taken, it gained records: kept again with its new weight
    cache.keep([grown])  # 4 + 9 records: subject 3 goes
    assert cache.take_one(UUID(int=3)) is None
    assert cache.take_one(UUID(int=2)) is grown
    cache.keep([subject(4, 20)])  # alone over the bound: not kept at all
    assert len(cache) == 0


def test_the_subject_bound_holds_without_a_records_bound():
    cache = StreamCache(capacity=2)
    cache.keep([subject(1, 50), subject(2, 50), subject(3, 50)])
    assert cache.take({UUID(int=n) for n in (1, 2, 3)}).keys() == {UUID(int=2), UUID(int=3)}
    cache.keep([subject(2, 1)])
    cache.keep([subject(2, 1)])  # kept twice: counted once
    assert len(cache) == 1
