"""The credit office's figures on PostgreSQL: a month of one province's timeliness (及时率) and
completeness (合格率), by authority, region and sector, over a report read model of a million
records.

    .venv/bin/python -m bench.reports --rows 1000000 --months 4 --runs 5

The rows are written straight into the read model (as the projector writes them), spread over
`--months` months of decision dates and two provinces, 80 % of them Henan's (41): with the
defaults a month of Henan is about 200,000 records, by 400 authorities in 20 cities. Each
figure is timed as the API runs it (the query module, in-process, the records behind each group
included), median and slowest of `--runs` after one warm-up."""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from bench.fixtures import analyse, machine, scratch_postgres
from domain.codes import make_uscc
from domain.report_periods import ReportPeriod
from projections.report_records.scope import ReportScope
from projections.tables import REPORT_SECTOR_COLUMNS, report_record_sectors, report_records
from projections.writes import insert_rows
from service.policy.loader import load_policy
from service.reporting.completeness import completeness_report
from service.reporting.timeliness import timeliness_report
from service.store.database import Database
from service.store.read_store import sync_engine

FIRST_MONTH = date(2026, 1, 1)
# The optional indicator fields a penalty may lack, as the projector writes them.
GAPS = ("", "CF_GSJZQ", "CF_NR_WFFF,CF_NR_ZKDX,CF_GSJZQ", "CF_NR_FK,CF_NR_WFFF,CF_NR_ZKDX,CF_GSJZQ")
SECTORS = ("road_transport", "taxi", "waterway_transport", "highway_construction")


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
    for n in range(count):
        code, name = rng.choice(henan) if rng.random() < 0.8 else rng.choice(hubei)
        decided = FIRST_MONTH + timedelta(days=rng.randrange(days))
        late = 0 if rng.random() < 0.9 else rng.randint(1, 12)
        missing = rng.choice(GAPS)
        filled = 16 - (len(missing.split(",")) if missing else 0)
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
            "policy_version": "2026-36",
            "timeliness_counted": True,
            "due_on": decided + timedelta(days=9),
            "on_time": late == 0,
            "days_late": late,
            "due_provisional": False,
            "fields_filled": filled,
            "fields_total": 16,
            "missing_fields": missing,
            # a few records below the threshold, as a policy stricter than 60 % would find
            "complete": rng.random() > 0.02,
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


def timed(ask: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    answer = ask()  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = ask()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, max(seconds) * 1000, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    policy = load_policy()
    with scratch_postgres() as url:
        engine = sync_engine(Database.from_url(url))
        loaded = load(engine, args.rows, args.months)
        analyse(url)
        print(f"{machine()}; {args.rows:,} report rows loaded in {loaded:.0f} s")
        month = ReportPeriod(date(2026, 3, 1), date(2026, 3, 31))
        for group_by in ("authority", "region", "sector"):
            scope = ReportScope(month, group_by=group_by, region="41")
            for figure, ask in (
                ("timeliness", lambda s=scope: timeliness_report(engine, policy, s)),
                ("completeness", lambda s=scope: completeness_report(engine, policy, s)),
            ):
                median, slowest, answer = timed(ask, args.runs)
                counted = getattr(answer, "decided", None) or answer.records
                print(
                    f"Henan, March 2026, {figure} by {group_by}: {counted:,} records, "
                    f"{len(answer.groups)} groups: median {median:.0f} ms, slowest {slowest:.0f} ms"
                )
        engine.dispose()
    print(f"rerun: .venv/bin/python -m bench.reports --rows {args.rows} --months {args.months}")


if __name__ == "__main__":
    main()
