"""What the benchmarks share: a scratch PostgreSQL database and national-format test files."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import platform
import random
import re
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any
from uuid import UUID

import psycopg
from sqlalchemy import make_url

from domain.cases import CaseAccepted, RepairApproved, RepairEligibility, RepairRevoked
from domain.codes import make_uscc
from domain.errors import DomainError
from service.clock import FixedClock
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.commanding.credit_files import BatchItem, CreditFiles, StreamCache
from service.store.database import Database
from service.store.migrations import upgrade

ADMIN_URL = os.environ.get(
    "CREDIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PENALTY_COLUMNS = [
    "CF_XDR_MC",
    "CF_XDR_LB",
    "CF_XDR_SHXYM",
    "CF_WSH",
    "CF_WFXW",
    "CF_SY",
    "CF_YJ",
    "CF_CFLB",
    "CF_NR",
    "CF_NR_FK",
    "CF_JDRQ",
    "CF_CFJG",
    "CF_CFJGDM",
    "CF_YZCD",
]
AUTHORITY_CODE = make_uscc("11410100MB0000001")
# What the benchmarks' penalties say, whatever their subject, number and severity.
PENALTY_FACTS = {
    "violation_type": "超限运输",
    "facts": "车辆超限运输",
    "legal_basis": "《公路安全保护条例》第六十四条",
    "penalty_categories": ["罚款"],
    "content": "罚款人民币贰仟元",
    "fine_amount": "0.2",
}


def penalty_command(source_ref: str, severity: str) -> dict[str, Any]:
    """A penalty as an agency appends it over the API, decided by the benchmarks' authority."""
    return {
        "type": "PenaltyDecided",
        "decision_date": "2026-10-15",
        "authority_name": "郑州市交通运输综合执法支队",
        "authority_code": AUTHORITY_CODE,
        "source_ref": source_ref,
        "severity": severity,
        "procedure": "general",
        **PENALTY_FACTS,
    }


@contextmanager
def scratch_postgres(*, keep: bool = False) -> Iterator[str]:
    """A freshly migrated database of its own, dropped afterwards (unless `keep`: for runs
    under a profiler that would take too long to seed it, see `drop_database`)."""
    name = f"credit_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(Database.from_url(url))
        yield url
    finally:
        if not keep:
            drop_database(url)


@contextmanager
def copy_of(url: str) -> Iterator[str]:
    """A copy of a kept scratch database (PostgreSQL copies its files), dropped afterwards."""
    name = f"credit_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(url).database}"')
    copy = make_url(url).set(database=name).render_as_string(hide_password=False)
    try:
        yield copy
    finally:
        drop_database(copy)


def drop_database(url: str) -> None:
    """Drop a scratch database `scratch_postgres` kept."""
    name = make_url(url).database
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def analyse(url: str) -> None:
    """Gather the planner's statistics, as autovacuum does within a minute or so of a load: a
    store measured straight after seeding has none, and its queries are planned blind (the
    batch status of 50 subjects took 57 ms instead of 3)."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def one_row(conn: psycopg.Connection[tuple[Any, ...]], query: str) -> tuple[Any, ...]:
    """The row of a query that always answers one, such as a count."""
    row = conn.execute(query).fetchone()
    assert row is not None, query
    return row


def server_env(url: str) -> dict[str, str]:
    """How the benchmarks run the service's processes: on the scratch store (migrated
    already), projections in a worker of their own, no checkpoints, no rate limit."""
    return {
        "CREDIT_DATABASE_URL": url,
        "CREDIT_SUBJECT_ID_KEY": "bench",
        "CREDIT_MIGRATE_ON_START": "false",
        "CREDIT_RUN_PROJECTIONS_IN_API": "false",
        "CREDIT_CHECKPOINT_SECONDS": "0",
        "CREDIT_RATE_LIMIT_PER_SECOND": "1000000",
        "CREDIT_RATE_LIMIT_BURST": "1000000",
    }


def enterprise_code(n: int) -> str:
    return make_uscc(f"91410105MA{n:07d}")


def penalty_rows(count: int, subjects: int, seed: int = 1) -> Iterator[list[str]]:
    """`count` penalties, each for one of `subjects` subjects drawn at random."""
    rng = random.Random(seed)
    for n in range(count):
        yield penalty_row(n, rng.randrange(subjects), rng)


def penalty_row(n: int, subject: int, rng: random.Random) -> list[str]:
    """Penalty decision number `n` for subject number `subject`, in the national format."""
    return [
        f"郑州宏达道路运输有限公司{subject}",
        "法人及非法人组织",
        enterprise_code(subject),
        f"郑交执罚〔2025〕{n:07d}号",
        "超限运输",
        "车辆超限运输",
        "《公路安全保护条例》第六十四条",
        "罚款",
        "罚款人民币贰仟元",
        "0.2",
        (date(2024, 1, 1) + timedelta(days=n % 600)).isoformat(),
        "郑州市交通运输综合执法支队",
        AUTHORITY_CODE,
        rng.choice(["一般", "严重", "轻微"]),
    ]


def penalty_csv(count: int, subjects: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PENALTY_COLUMNS)
    writer.writerows(penalty_rows(count, subjects))
    return out.getvalue().encode()


def process_tree_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds used so far by a process and every descendant alive now,
    from /proc (Linux): a server's cost, whatever number of worker processes it forks."""
    tick = os.sysconf("SC_CLK_TCK")
    # after the command: state, ppid, ... utime (14th field of the line), stime (15th)
    return sum((int(f[11]) + int(f[12])) / tick for f in _process_tree_stats(pid).values())


def postgres_cpu_seconds() -> float:
    """User and system CPU seconds used so far by the local PostgreSQL server (from /proc,
    Linux: every process named postgres, with the time of the backends its postmaster has
    reaped), or 0.0 where none runs here. Over a run, the difference is PostgreSQL's share of
    the work: every database's, so a run must have the server to itself to read it as its own."""
    tick = os.sysconf("SC_CLK_TCK")
    # utime, stime, cutime, cstime: the 14th to 17th fields of the line
    return (
        sum(
            sum(int(value) for value in fields[11:15])
            for command, fields in _process_stats().values()
            if command == "postgres"
        )
        / tick
    )


def process_tree_rss_mb(pid: int) -> float:
    """The resident memory of a process and every descendant alive now, together, in MB (from
    /proc, Linux): an import by several processes holds the sum."""
    page = os.sysconf("SC_PAGE_SIZE")
    # after the command: ... rss in pages (24th field of the line)
    return sum(int(f[21]) * page for f in _process_tree_stats(pid).values()) / 2**20


def _process_tree_stats(pid: int) -> dict[int, list[str]]:
    """The fields of /proc/<pid>/stat after the command, for the process and its descendants."""
    parents: dict[int, list[int]] = defaultdict(list)
    stats = {process: fields for process, (_, fields) in _process_stats().items()}
    for process, fields in stats.items():
        parents[int(fields[1])].append(process)
    tree, stack = {}, [pid]
    while stack:
        current = stack.pop()
        if current in stats:
            tree[current] = stats[current]
        stack += parents.get(current, [])
    return tree


def _process_stats() -> dict[int, tuple[str, list[str]]]:
    """Every process's command and the fields of its /proc/<pid>/stat after the command."""
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, _, rest = stat.read().rpartition(")")
        except OSError:  # gone since it was listed
            continue
        stats[int(entry)] = (head.partition("(")[2], rest.split())
    return stats


def valgrind_instructions(
    arguments: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[int, str]:
    """Instructions valgrind counts (cachegrind without its cache simulation) in
    `python arguments`, all threads together, and what the child printed. The machines here
    are shared and `perf` has no hardware counters, so this count is the figure of work that
    the load does not move; a caller takes the difference of two runs of different lengths, so
    that start-up drops out."""
    valgrind = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
    ]
    result = subprocess.run(
        [*valgrind, sys.executable, *arguments], capture_output=True, text=True, env=env, cwd=cwd
    )
    refs = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
    if result.returncode != 0 or refs is None:
        raise RuntimeError(f"the counted run failed: {(result.stdout + result.stderr)[-2000:]}")
    return int(refs.group(1).replace(",", "")), result.stdout


def machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (
        f"{platform.machine()}, {cpu} cores, Python {platform.python_version()}, "
        f"PostgreSQL at {make_url(ADMIN_URL).host}"
    )


# A Python loop of dictionary stores and string making, as busy as an import's own work.
_BUSY_LOOP = "d = {}\nfor i in range(4_000_000):\n    d[i % 5000] = str(i)"


def parallel_ceiling(processes: int = 2) -> float:
    """How many times one process's work `processes` busy Python processes do together on this
    machine, computing only: what more cores add to pure computation here (the cores of a
    virtual machine may be threads of one physical core, or shared). Work that also waits, as
    an import waits on its database, may gain more: another process fills the waits."""

    def wall(count: int) -> float:
        started = perf_counter()
        running = [subprocess.Popen([sys.executable, "-c", _BUSY_LOOP]) for _ in range(count)]
        for process in running:
            process.wait()
        return perf_counter() - started

    alone = min(wall(1) for _ in range(2))
    together = min(wall(processes) for _ in range(2))
    return processes * alone / together


def long_credit_file(
    files: CreditFiles, clock: FixedClock, *, events: int = 10_000, seed: int = 1
) -> UUID:
    """One enterprise with a long history: `events` events recorded over three years up to the
    clock's now, a day's records appended as one batch (each recorded 0-10 days after its
    decision). Licences, penalties, conduct, interviews, commitments and their outcomes,
    ratings, list entries and exits, corrections, revocations and repair cases, so an as-of
    fold has every kind of follow-up to apply. The clock is restored when done."""
    rng = random.Random(seed)
    original = clock.moment
    zone = clock.zone
    end = original.astimezone(zone).date()
    start = end - timedelta(days=3 * 365)
    company = RegisterSubject(
        kind="enterprise",
        code=enterprise_code(9_000_000 + seed),
        name=f"河南长运集团物流有限公司{seed}",
        region_code="410105",
        sectors=["road_transport", "highway_construction"],
    )
    subject_id = files.subject_id_for_code(files.normalise(company))
    kinds: dict[str, list[UUID]] = defaultdict(list)  # record ids by type, for follow-ups
    closed: set[UUID] = set()
    repairs: list[tuple[UUID, int]] = []  # (case id, steps taken)
    days = (end - start).days + 1
    per_day = max(1, events // days + 1)
    serial = 0
    cache = StreamCache()

    def common(decided: date) -> dict:
        nonlocal serial
        serial += 1
        return {
            "decision_date": decided.isoformat(),
            "authority_name": "郑州市交通运输综合执法支队",
            "authority_code": AUTHORITY_CODE,
            "source_ref": f"郑交〔{decided.year}〕{serial:06d}号",
        }

    def record(day: date) -> dict | None:
        decided = max(start, day - timedelta(days=rng.randint(0, 10)))
        roll = rng.random()
        base = common(decided)
        if roll < 0.25:
            return {
                **base,
                "type": "LicenceGranted",
                "licence_type": "普通",
                "document_name": "道路运输证",
                "content": f"豫A{rng.randint(10000, 99999)} 道路普通货物运输",
                "valid_from": decided.isoformat(),
                "valid_until": (decided + timedelta(days=rng.choice([365, 730, 1460]))).isoformat(),
            }
        if roll < 0.58:
            return {
                **base,
                "type": "PenaltyDecided",
                "severity": rng.choices(["minor", "general", "serious"], [5, 4, 1])[0],
                "procedure": rng.choice(["general", "simplified"]),
                **PENALTY_FACTS,
            }
        if roll < 0.66:
            return {
                **base,
                "type": "DishonestConductRecorded",
                "severity": rng.choices(["minor", "general", "serious"], [6, 3, 1])[0],
                "conduct_type": "拒载",
                "description": "无正当理由拒绝运输",
            }
        if roll < 0.72:
            return {**base, "type": "InterviewHeld", "interview_type": "prompt", "matter": "超限"}
        if roll < 0.76:
            return {
                **base,
                "type": "CommitmentMade",
                "commitment_type": "deficiency_tolerant",
                "content": "三十日内补齐材料",
                "due_date": (decided + timedelta(days=rng.randint(10, 90))).isoformat(),
            }
        open_commitments = [r for r in kinds["CommitmentMade"] if r not in closed]
        if roll < 0.78 and open_commitments:
            target = rng.choice(open_commitments)
            closed.add(target)
            if rng.random() < 0.1:
                return {
                    **base,
                    "type": "CommitmentBreached",
                    "commitment_record_id": str(target),
                    "severity": "general",
                    "description": "未按期补齐材料",
                }
            return {**base, "type": "CommitmentFulfilled", "commitment_record_id": str(target)}
        conduct = kinds["PenaltyDecided"] + kinds["DishonestConductRecorded"]
        if roll < 0.82 and conduct:
            return {
                **base,
                "type": "RecordCorrected",
                "target_record_id": str(rng.choice(conduct)),
                "changes": {"severity": rng.choice(["minor", "general", "serious"])},
                "reason": "更正",
            }
        if roll < 0.835 and conduct:
            return {
                **base,
                "type": "RecordRevoked",
                "target_record_id": str(rng.choice(conduct)),
                "reason": "复议撤销",
            }
        open_licences = [r for r in kinds["LicenceGranted"] if r not in closed]
        if roll < 0.85 and open_licences:
            target = rng.choice(open_licences)
            closed.add(target)
            return {
                **base,
                "type": "LicenceRevoked",
                "reason": "停业",
                "licence_record_id": str(target),
            }
        if roll < 0.87:
            return {
                **base,
                "type": "JointMeasureApplied",
                "measure_type": "punishment",
                "measure": "限制参加招投标",
                "applying_agency": "郑州市发展和改革委员会",
                "matter": "招标",
            }
        if roll < 0.875:
            return {**base, "type": "CommendationGranted", "title": "诚信典型"}
        if roll < 0.89:
            scheme, grade, score = rng.choice(
                [
                    ("highway_construction", "A", "88"),
                    ("highway_construction", "AA", "96"),
                    ("sector_default", "B", "80"),
                ]
            )
            return {
                **base,
                "type": "RatingIssued",
                "scheme": scheme,
                "grade": grade,
                "score": score,
                "valid_from": decided.isoformat(),
                "valid_until": (decided + timedelta(days=365)).isoformat(),
            }
        open_lists = [r for r in kinds["ListEntered"] if r not in closed]
        if roll < 0.895 and open_lists:
            target = rng.choice(open_lists)
            closed.add(target)
            return {**base, "type": "ListExited", "entry_record_id": str(target), "reason": "期满"}
        if roll < 0.90 and not open_lists:
            return {
                **base,
                "type": "ListEntered",
                "list_type": rng.choice(["black", "red"]),
                "basis": "严重超限超载",
                "planned_end": (decided + timedelta(days=rng.randint(200, 900))).isoformat(),
            }
        return None

    def repair_cases(subject) -> None:
        """Move each open repair case on by one step (accept, approve, now and then revoke
        the repair), and now and then apply for a new one."""
        for n, (case_id, steps) in enumerate(repairs):
            if steps >= 3 or rng.random() < 0.5:
                continue
            if steps == 1:
                subject.take_case_step(case_id, CaseAccepted, by=AUTHORITY_CODE, recorded_at=now())
                repairs[n] = (case_id, 2)
            else:
                subject.take_case_step(
                    case_id, RepairApproved, by=AUTHORITY_CODE, recorded_at=now(), reasons="准予"
                )
                repairs[n] = (case_id, 3)
                if rng.random() < 0.1:
                    subject.take_case_step(
                        case_id, RepairRevoked, by=AUTHORITY_CODE, recorded_at=now(), reasons="虚假"
                    )
        if kinds["PenaltyDecided"] and rng.random() < 0.05:
            case_id = uuid.uuid4()
            with contextlib.suppress(DomainError):  # already repaired, revoked or in a case
                subject.apply_for_repair(
                    case_id=case_id,
                    case_number=f"XF{case_id.hex[:12]}",
                    query_code_hash="0" * 64,
                    target_record_id=rng.choice(kinds["PenaltyDecided"]),
                    corrections=["罚款已缴纳"],
                    commitment_signed=True,
                    evidence=[],
                    applicant="申请人",
                    eligibility=RepairEligibility("PenaltyDecided", True, None),
                    today=now().astimezone(zone).date(),
                    recorded_at=now(),
                )
                repairs.append((case_id, 1))

    def now() -> datetime:
        return clock.moment

    def version() -> int:
        kept = cache.take({subject_id})
        cache.keep(list(kept.values()))
        return kept[subject_id].version if kept else 0

    try:
        day = start
        while day <= end:
            clock.moment = datetime.combine(day, time(9, 0), tzinfo=zone) + timedelta(
                minutes=rng.randint(0, 480)
            )
            clock.moment = min(clock.moment, original)
            left = events - version()
            if left <= 0:
                break
            bodies = [b for _ in range(min(per_day, left)) if (b := record(day))]
            if bodies:
                outcomes = files.append_batch(
                    [
                        BatchItem(n, company, record_command_adapter.validate_python(body))
                        for n, body in enumerate(bodies, start=1)
                    ],
                    recorded_by="bench",
                    cache=cache,
                )
                for body, outcome in zip(bodies, outcomes, strict=True):
                    if outcome.status == "accepted" and outcome.record_id is not None:
                        kinds[body["type"]].append(outcome.record_id)
            if version() and events - version() > 3:
                clock.moment += timedelta(minutes=1)
                subject = cache.take({subject_id})[subject_id]
                repair_cases(subject)
                if subject.pending_events:
                    files.ledger.save(subject)
                cache.keep([subject])
            day += timedelta(days=1)
        while (left := events - version()) > 0:  # top up to the exact count, on the last day
            bodies = [b for _ in range(left) if (b := record(end))][:left]
            files.append_batch(
                [
                    BatchItem(n, company, record_command_adapter.validate_python(body))
                    for n, body in enumerate(bodies, start=1)
                ],
                recorded_by="bench",
                cache=cache,
            )
    finally:
        clock.moment = original
    return subject_id


def seeded_store(
    url: str,
    *,
    rows: int,
    subjects: int,
    role: str,
    authority_codes: list[str] | None = None,
    sectors: list[str] | None = None,
) -> tuple[list[str], str]:
    """Import `rows` penalties for up to `subjects` subjects, project them, and make a client
    of `role` (with its grants); returns the subjects' ids and a token of that client."""
    from service.bootstrap import build_services
    from service.commanding.importing.batch import import_stream
    from service.settings import Settings

    settings = Settings(environment="test", database_url=url, subject_id_key="bench")
    services = build_services(settings, migrate=False)
    try:
        import_stream(
            io.BytesIO(penalty_csv(rows, subjects)),
            "seed.csv",
            services.files,
            recorded_by="bench",
            batch_size=2000,
        )
        services.runner.catch_up()
        with services.write_engine.connect() as conn:
            ids = [str(r[0]) for r in conn.exec_driver_sql("SELECT subject_id FROM subjects")]
        analyse(url)
        client, _ = services.clients.create(
            f"bench-{role}", role, "基准测试", AUTHORITY_CODE, authority_codes, sectors
        )
        token = services.tokens.issue(client).access_token
    finally:
        services.close_sync()
    return ids, token
