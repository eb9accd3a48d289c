"""Where the tests find PostgreSQL, and whether it is there."""

from __future__ import annotations

import os

ADMIN_URL = os.environ.get(
    "CREDIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_reachable() -> tuple[bool, str]:
    import psycopg

    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except Exception as error:  # any failure to connect means "not reachable", with its reason
        return False, str(error).strip().splitlines()[0] if str(error) else repr(error)
    return True, ""
