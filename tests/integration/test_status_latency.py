"""A subject with 10,000 events answers a status on two time axes in milliseconds, not by
folding its stream: guarded in-process on SQLite with a generous bound (the figures on both
backends, over HTTP too, are in docs/benchmarks.md, from bench/as_of_latency.py).

Each answer is timed by the CPU this process spent on it (its threads', SQLite's included), not by
the clock: the suite runs beside other work on two cores, where the fastest of the 25 answers
took 24 ms, others up to 160 ms waiting for a core, and their median crossed the bound with
nothing in the code changed."""

from __future__ import annotations

import random
import statistics
import time
from datetime import date, timedelta

import pytest

from api.queries.subjects import _folded, _status_at
from bench.fixtures import long_credit_file
from domain.subject import Subject
from projections.credit_file.as_of import end_of_day
from service.bootstrap import build_services
from service.clock import FixedClock
from service.settings import Settings
from tests.conftest import NOW

pytestmark = pytest.mark.integration
BOUND_SECONDS = 0.050


@pytest.mark.slow
async def test_a_subject_with_10000_events_answers_as_of_any_day_in_under_50_ms_of_cpu(
    tmp_path, monkeypatch
):
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path}/long.sqlite3",
        subject_id_key="test-subject-key",
    )
    clock = FixedClock(NOW, settings.zone)
    services = build_services(settings, clock=clock)
    # A snapshot every 1,000 versions, not every 100: nothing here loads the subject from its
    # stream, and a hundred snapshots of a growing 10,000-event subject were half the setup.
    monkeypatch.setattr(services.ledger, "snapshotting_intervals", {Subject: 1_000})
    try:
        subject_id = long_credit_file(services.files, clock, events=10_000)
        assert services.ledger.repository.get(subject_id).version == 10_000
        # The as-of answer reads the credit file's read models alone: only that projector is
        # brought up to date, the others are left where they are.
        last = services.ledger.position_of(subject_id, 10_000)
        # One page: the runner pages from the projector furthest behind, the others held at 0.
        services.runner.process_next_page(stops={"credit_file": last}, page_size=last)
        assert services.runner.position("credit_file") == last
        rng = random.Random(7)
        first = date(2023, 11, 21)
        pairs = [
            (
                first + timedelta(days=rng.randint(0, 1095)),
                first + timedelta(days=rng.randint(0, 1095)),
            )
            for _ in range(25)
        ]
        pairs[0] = (date(2026, 11, 19), date(2026, 11, 19))  # the whole history, in force today
        for known_as_of, on in pairs[:3]:  # statement cache and connection pool warm
            await _status_at(services, subject_id, known_as_of, on)
        seconds = []
        for known_as_of, on in pairs:
            started = time.process_time()
            await _status_at(services, subject_id, known_as_of, on)
            seconds.append(time.process_time() - started)
        assert statistics.median(seconds) < BOUND_SECONDS, sorted(seconds)

        known_as_of, on = pairs[0]
        started = time.process_time()
        expected = _folded(services, subject_id, end_of_day(known_as_of, services.clock.zone), on)
        fold_seconds = time.process_time() - started
        assert expected is not None  # the subject is known by then
        answer = await _status_at(services, subject_id, known_as_of, on)
        assert answer == {**expected, "known_as_of": known_as_of}
        assert sum(len(g["adjustments"]) for g in answer["grades"]) > 0  # a heavy answer
        # what the history spares: the fold reads and decodes all 10,000 events
        assert fold_seconds > 3 * statistics.median(seconds)
    finally:
        await services.aclose()
