"""The jittered back-off after a lost race (service/commanding/credit_files.py) draws from a
generator of its own: a retry leaves the process's shared random state where seeded work (a
demo seed, a property test's examples) put it."""

from __future__ import annotations

import random

from service.commanding import credit_files


def test_a_back_off_leaves_the_shared_random_state_as_it_was(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(credit_files.time, "sleep", slept.append)
    random.seed(7)
    before = random.getstate()
    for attempt in range(1, 9):
        credit_files._back_off(attempt)
    assert random.getstate() == before
    assert len(slept) == 8 and all(0 <= wait <= 0.05 for wait in slept)
    assert len(set(slept)) > 1  # jittered
