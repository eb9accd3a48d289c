"""Credit reports: how long one takes for a subject with a long history, and how many one
process makes a minute, on SQLite or PostgreSQL, against what a report wraps.

    .venv/bin/python -m bench.credit_reports --events 200 --reports 100
    .venv/bin/python -m bench.credit_reports --events 200 --reports 100 --backend postgres

One enterprise with `--events` events over three years (every kind of record and follow-up,
bench/fixtures.py `long_credit_file`). Each report is issued as the API issues it, in one
thread: the subject's stream read and folded up to its checkpoint, the contents built, a report
number drawn, the statement signed, the PDF rendered, the row kept. `compute` is the fold and
the contents alone, `render` the PDF alone; `issue` all of it. Reports a minute is 60 over the
median `issue`, for one process on one core; the first report also signs the checkpoint and is
left out of the figures.

Two baselines, timed in turn with the report in the same run: `status`, the subject's status
as of the same day from the same events (its stream read up to the report's version and folded),
which is the computation every report wraps and no report can be faster than; and `empty`, a
report issued the same way for an enterprise with no records (one page, nothing listed): the
fixed cost of numbering, signing, rendering and keeping."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from api.credit_reports import pdf
from bench.fixtures import enterprise_code, long_credit_file, machine, scratch_postgres
from projections.credit_file.as_of import fold, status_of_fold
from service.bootstrap import build_services
from service.clock import FixedClock
from service.commanding.commands import RegisterSubject
from service.credit_reports.contents import ReportRequest
from service.settings import Settings

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgres":
        with scratch_postgres() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="credit-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


def figures(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return (
        f"{name:8s} n={len(ms):4d}  median {statistics.median(ms):7.2f} ms  "
        f"p90 {ms[int(0.9 * (len(ms) - 1))]:7.2f} ms  max {ms[-1]:7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with database(args.backend) as url:
        settings = Settings(
            environment="test",
            database_url=url,
            subject_id_key="bench",
            run_projections_in_api=False,
            checkpoint_seconds=0,
        )
        clock = FixedClock(NOW, settings.zone)
        services = build_services(settings, clock=clock, migrate=True)
        try:
            subject_id = long_credit_file(services.files, clock, events=args.events)
            order = ReportRequest(kind="credit", years=3, as_of=None, purpose="bench")
            render = partial(pdf.render, zone=clock.zone)

            def address(number: str, code: str) -> str:
                return f"https://xyjt.example.gov.cn/reports/verify?number={number}&code={code}"

            first = services.reports.issue(subject_id, order, render, address)
            version = first.issuance.stream_version
            shown = sum(
                len(first.contents[s])
                for s in first.contents["sections"]
                if isinstance(first.contents.get(s), list)
            )
            empty_id = services.files.register(
                RegisterSubject(
                    kind="enterprise",
                    code=enterprise_code(8_000_000),
                    name="河南安达货运有限公司",
                    region_code="410105",
                    sectors=["road_transport"],
                ),
                recorded_by="bench",
            ).subject_id
            blank = services.reports.issue(empty_id, order, render, address)

            def status() -> Any:
                """The status the report states, from the same events, and nothing else."""
                events = services.ledger.stream_page(subject_id, after_version=0, limit=version)
                subject, rows = fold(events, services.policy)
                assert subject is not None
                on = clock.today()
                return status_of_fold(subject, rows, on, services.policy, zone=clock.zone)

            issue, compute, draw, bare, empty = [], [], [], [], []
            for _ in range(args.reports):
                started = time.perf_counter()
                issued = services.reports.issue(subject_id, order, render, address)
                issue.append(time.perf_counter() - started)
                started = time.perf_counter()
                contents = services.reports.compute(
                    subject_id, order, version, on=clock.today(), known_before=None
                )
                compute.append(time.perf_counter() - started)
                started = time.perf_counter()
                render(contents, issued.issuance)
                draw.append(time.perf_counter() - started)
                started = time.perf_counter()
                status()
                bare.append(time.perf_counter() - started)
                started = time.perf_counter()
                services.reports.issue(empty_id, order, render, address)
                empty.append(time.perf_counter() - started)
        finally:
            services.close_sync()
    per_minute = 60 / statistics.median(issue)
    print(f"# {machine()}, {args.backend}, python {sys.version.split()[0]}")
    print(f"# load average {os.getloadavg()[0]:.1f} (other work shares the 2 cores)")
    print(
        f"# one subject, {args.events} events (stream version {version}), "
        f"{shown} entries shown, PDF {len(first.pdf) // 1024} KiB, {len(first.pdf)} bytes"
    )
    print(figures("issue", issue))
    print(figures("compute", compute))
    print(figures("render", draw))
    print(figures("status", bare) + "  (baseline: the same events folded, status as of today)")
    print(
        figures("empty", empty)
        + f"  (baseline: a report with no records, PDF {len(blank.pdf) // 1024} KiB)"
    )
    median = statistics.median(issue)
    print(
        f"ratio issue / status: {median / statistics.median(bare):.1f}; "
        f"issue / empty: {median / statistics.median(empty):.1f}"
    )
    print(f"reports a minute, one process: {per_minute:.0f}")
    print(
        f"rerun: .venv/bin/python -m bench.credit_reports --events {args.events} "
        f"--reports {args.reports} --backend {args.backend}"
    )


if __name__ == "__main__":
    main()
