"""The credit office's figures on PostgreSQL: a month of one province's timeliness (及时率) and
completeness (合格率), by authority, region and sector, over a report read model of a million
records, against the bare SQL floor of each; and the twelve-month rates of both that the
console's figures page draws, read as one query grouped by decision day against a figure asked
for each month.

    .venv/bin/python -m bench.reports --rows 1000000 --months 4 --runs 5
    .venv/bin/python -m bench.reports --rows 1000000 --months 12 --runs 5 --trend

The rows are written straight into the read model (as the projector writes them), spread over
`--months` months of decision dates and two provinces, 80 % of them Henan's (41): with the
defaults a month of Henan is about 200,000 records, by 400 authorities in 20 cities. Each is an
organisation's penalty measured against today's national indicator fields, its optional ones
filled in a few patterns, complete or not as the policy's threshold says. Each figure is timed
as the API runs it (the query module, in-process, the late and incomplete records of each group
included), median and slowest of `--runs` after one warm-up. Its baseline, timed alternately in
the same run, is the floor any such figure stands on: the same month's rows of the same table,
read through the same index, counted with a plain `GROUP BY` (no names, no missing fields, no
records listed), and it must count what the figure counts."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, text

from bench.fixtures import analyse, machine, scratch_postgres
from domain.codes import make_uscc
from domain.completeness import SUBJECT_FIELD, applicable
from domain.report_periods import ReportPeriod
from projections.report_records.projector import MISSING_SEPARATOR
from projections.report_records.scope import ReportScope
from projections.tables import REPORT_SECTOR_COLUMNS, report_record_sectors, report_records
from projections.writes import insert_rows
from service.commanding.importing.columns import COLUMNS, PENALTY, national_indicators
from service.policy.loader import load_policy
from service.reporting.completeness import (
    CompletenessReport,
    completeness_by_month,
    completeness_report,
)
from service.reporting.timeliness import TimelinessReport, timeliness_by_month, timeliness_report
from service.store.database import Database
from service.store.read_store import sync_engine

FIRST_MONTH = date(2026, 1, 1)
SECTORS = ("road_transport", "taxi", "waterway_transport", "highway_construction")
KIND = "enterprise"


def optional_fields() -> tuple[str, ...]:
    """The indicator fields an organisation's penalty may lack, in the standard's order: those
    of the national columns that no row needs and that the subject's registration does not
    fill."""
    required = {column.name for column in COLUMNS[PENALTY] if column.required}
    return tuple(
        indicator.column
        for indicator in applicable(national_indicators()["PenaltyDecided"], KIND)
        if not indicator.fills.startswith(SUBJECT_FIELD)
        and not set(indicator.column.split("/")) & required
    )


def gaps() -> tuple[tuple[tuple[str, ...], ...], tuple[int, ...]]:
    """The sets of fields a penalty lacks and how often each is drawn: none, the last one, the
    last half, all but the first, all of them (below the threshold at 60 %)."""
    optional = optional_fields()
    half = len(optional) // 2
    return (
        ((), optional[-1:], optional[-half:], optional[1:], optional),
        (30, 30, 25, 13, 2),
    )


def authorities(province: str, count: int) -> list[tuple[str, str]]:
    """`count` authorities of a province, spread over 20 cities: (code, name)."""
    found = []
    for n in range(count):
        region = f"{province}{n % 20 + 1:02d}00"
        found.append((make_uscc(f"11{region}MB{n:07d}"[:17]), f"{region} 交通运输局 {n}"))
    return found


def rows(count: int, months: int, seed: int = 7) -> Iterator[tuple[dict, list[dict]]]:
    rng = random.Random(seed)
    henan, hubei = authorities("41", 400), authorities("42", 100)
    days = (date(2026, 1, 1) + timedelta(days=31 * months) - FIRST_MONTH).days
    policy = load_policy()
    total = len(applicable(national_indicators()["PenaltyDecided"], KIND))
    gap_sets, weights = gaps()
    for n in range(count):
        code, name = rng.choice(henan) if rng.random() < 0.8 else rng.choice(hubei)
        decided = FIRST_MONTH + timedelta(days=rng.randrange(days))
        late = 0 if rng.random() < 0.9 else rng.randint(1, 12)
        (missing,) = rng.choices(gap_sets, weights)
        filled = total - len(missing)
        record_id = uuid.UUID(int=n + 1)
        subject_id = uuid.UUID(int=rng.randrange(1, 200_000))
        row = {
            "record_id": record_id,
            "subject_id": subject_id,
            "position": n + 1,
            "type": "PenaltyDecided",
            "family": "penalty",
            "source_ref": f"罚-{n}",
            "authority_code": code,
            "authority_name": name,
            "region_code": code[2:8],
            "decision_date": decided,
            "recorded_at": datetime.combine(decided, datetime.min.time(), UTC)
            + timedelta(days=10 + late),
            "recorded_on": decided + timedelta(days=10 + late),
            "policy_version": policy.for_day(decided).id,
            "timeliness_counted": True,
            "due_on": decided + timedelta(days=9),
            "on_time": late == 0,
            "days_late": late,
            "due_provisional": False,
            "fields_filled": filled,
            "fields_total": total,
            "missing_fields": MISSING_SEPARATOR.join(missing),
            "complete": policy.for_day(decided).reporting.completeness.reached_by(filled, total),
            "revoked": False,
            "correction_count": 1 if rng.random() < 0.01 else 0,
            "corrected_at": None,
        }
        sectors = rng.sample(SECTORS, rng.choice((1, 1, 1, 2)))
        yield (
            row,
            [
                {
                    "record_id": record_id,
                    "sector": s,
                    "subject_id": subject_id,
                    **{c: row[c] for c in REPORT_SECTOR_COLUMNS},
                }
                for s in sectors
            ],
        )


def load(engine: Engine, count: int, months: int) -> float:
    started = time.perf_counter()
    batch: list[dict] = []
    sectors: list[dict] = []
    for row, of_row in rows(count, months):
        batch.append(row)
        sectors += of_row
        if len(batch) == 50_000:
            with engine.begin() as conn:
                insert_rows(conn, report_records, batch)
                insert_rows(conn, report_record_sectors, sectors)
            batch, sectors = [], []
    if batch:
        with engine.begin() as conn:
            insert_rows(conn, report_records, batch)
            insert_rows(conn, report_record_sectors, sectors)
    return time.perf_counter() - started


def timed(asks: Sequence[Callable[[], Any]], runs: int) -> list[tuple[float, float, Any]]:
    """Each of `asks` run `runs` times after one warm-up, in turn (so that a busy moment of the
    shared machine falls on each alike): its median and slowest in ms, and its answer."""
    answers = [ask() for ask in asks]  # warm-up
    seconds: list[list[float]] = [[] for _ in asks]
    for _ in range(runs):
        for n, ask in enumerate(asks):
            started = time.perf_counter()
            answers[n] = ask()
            seconds[n].append(time.perf_counter() - started)
    return [
        (statistics.median(taken) * 1000, max(taken) * 1000, answer)
        for taken, answer in zip(seconds, answers, strict=True)
    ]


KEYS = {"authority": "authority_code", "region": "region_code", "sector": "sector"}
# What each figure counts, and of which rows, as plain SQL.
COUNTED = {
    "timeliness": ("sum(on_time::int)", "timeliness_counted"),
    "completeness": ("sum(complete::int)", "fields_total > 0"),
}


def floor(engine: Engine, figure: str, group_by: str, month: ReportPeriod, region: str) -> Any:
    """The bare SQL floor of a figure: its month's rows of a region, of the table it reads (the
    sector rows by sector, else the report rows), counted per group with a plain GROUP BY."""
    table = "report_record_sectors" if group_by == "sector" else "report_records"
    counted, which = COUNTED[figure]
    following = str(int(region) + 1)
    query = text(
        f"SELECT {KEYS[group_by]}, count(*), {counted} FROM {table} "
        "WHERE decision_date BETWEEN :first AND :last "
        f"AND region_code >= :region AND region_code < :following AND {which} "
        f"GROUP BY {KEYS[group_by]}"
    )
    with engine.connect() as conn:
        return conn.execute(
            query,
            {"first": month.first, "last": month.last, "region": region, "following": following},
        ).all()


def counts(answer: TimelinessReport | CompletenessReport) -> dict[str, tuple[int, int]]:
    """Each group's records counted, and those on time or complete."""
    if isinstance(answer, TimelinessReport):
        return {g.key: (g.decided, g.on_time) for g in answer.groups}
    return {g.key: (g.records, g.complete) for g in answer.groups}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--trend", action="store_true", help="time the twelve-month rates (give --months 12)"
    )
    args = parser.parse_args()
    policy = load_policy()
    with scratch_postgres() as url:
        engine = sync_engine(Database.from_url(url))
        loaded = load(engine, args.rows, args.months)
        analyse(url)
        print(f"{machine()}; {args.rows:,} report rows loaded in {loaded:.0f} s")
        print(f"load average {os.getloadavg()[0]:.1f} (other work shares the 2 cores)")
        if args.trend:
            trend(engine, policy, args.runs)
            engine.dispose()
            return
        month = ReportPeriod(date(2026, 3, 1), date(2026, 3, 31))
        ratios = []
        for group_by in ("authority", "region", "sector"):
            scope = ReportScope(month, group_by=group_by, region="41")
            for figure, ask in (
                ("timeliness", lambda s=scope: timeliness_report(engine, policy, s)),
                ("completeness", lambda s=scope: completeness_report(engine, policy, s)),
            ):
                bare = partial(floor, engine, figure, group_by, month, "41")
                (median, slowest, answer), (base, base_slowest, counted) = timed(
                    (ask, bare), args.runs
                )
                # The floor counts what the figure counts, group by group.
                assert counts(answer) == {key: (n, int(k)) for key, n, k in counted}, figure
                records = answer.decided if isinstance(answer, TimelinessReport) else answer.records
                ratios.append(median / base)
                print(
                    f"{figure:12s} by {group_by:9s} {records:,} records, {len(answer.groups):3d} "
                    f"groups: median {median:5.0f} ms (slowest {slowest:5.0f});  floor median "
                    f"{base:4.0f} ms (slowest {base_slowest:4.0f});  ratio {median / base:4.1f}"
                )
        engine.dispose()
    print(f"ratio figure / floor: {min(ratios):.1f} to {max(ratios):.1f}")
    print(
        f"rerun: .venv/bin/python -m bench.reports --rows {args.rows} --months {args.months} "
        f"--runs {args.runs}"
    )


def trend(engine: Engine, policy: Any, runs: int) -> None:
    """The rates of the twelve months of 2026, as the figures page asks for them: of every
    authority (the credit office's page) and of one (a recorder's), in one query each against a
    figure asked per month (its groups counted, no record listed)."""
    year = ReportPeriod(date(2026, 1, 1), date(2026, 12, 31))
    months = [ReportPeriod.month(f"2026-{m:02d}") for m in range(1, 13)]
    one = frozenset({authorities("41", 400)[0][0]})
    for whose, codes in (("every authority", None), ("one authority", one)):

        def of(period: ReportPeriod, codes: frozenset[str] | None = codes) -> ReportScope:
            return ReportScope(period, authorities=codes)

        for figure, by_month, per_month in (
            (
                "timeliness",
                lambda: timeliness_by_month(engine, policy, of(year)),
                lambda: [
                    timeliness_report(engine, policy, of(m), late_per_group=0) for m in months
                ],
            ),
            (
                "completeness",
                lambda: completeness_by_month(engine, policy, of(year)),
                lambda: [
                    completeness_report(engine, policy, of(m), incomplete_per_group=0)
                    for m in months
                ],
            ),
        ):
            (median, slowest, _), (twelve, twelve_slowest, _) = timed((by_month, per_month), runs)
            print(
                f"{figure} of twelve months, {whose}: one query grouped by day median "
                f"{median:.0f} ms (slowest {slowest:.0f}); twelve monthly figures median "
                f"{twelve:.0f} ms (slowest {twelve_slowest:.0f}); ratio {median / twelve:.2f}"
            )


if __name__ == "__main__":
    main()
