"""What the benchmarks share: a scratch PostgreSQL database and national-format test files."""

from __future__ import annotations

import csv
import io
import os
import platform
import random
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import psycopg
from sqlalchemy import make_url

from domain.codes import make_uscc
from service.database import Database
from service.migrations import upgrade

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


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A freshly migrated database of its own, dropped afterwards."""
    name = f"credit_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(Database.from_url(url))
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def enterprise_code(n: int) -> str:
    return make_uscc(f"91410105MA{n:07d}")


def penalty_rows(count: int, subjects: int, seed: int = 1) -> Iterator[list[str]]:
    rng = random.Random(seed)
    start = date(2024, 1, 1)
    for n in range(count):
        subject = rng.randrange(subjects)
        yield [
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
            (start + timedelta(days=n % 600)).isoformat(),
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


def machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (
        f"{platform.machine()}, {cpu} cores, Python {platform.python_version()}, "
        f"PostgreSQL at {make_url(ADMIN_URL).host}"
    )
