"""Server-side console sessions: revocable at once (sign-out, an account disabled, a password
reset), ending after an idle time and an absolute time whatever the browser keeps.

The browser holds a random token; the table holds its SHA-256 only. A session knows its account
by name and nothing of how the person proved who they are, so any identity provider's accounts
(docs/console.md) sign in to the same sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update

from service.access.accounts import Account, account_of
from service.access.tables import console_sessions, staff_accounts
from service.store.database import transaction


@dataclass(frozen=True)
class StartedSession:
    """What the browser is given: the session token (its cookie) and the CSRF token."""

    token: str
    csrf_token: str


@dataclass(frozen=True)
class ActiveSession:
    account: Account
    csrf_token: str
    started_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class ConsoleSessions:
    def __init__(self, engine: Engine, *, idle: timedelta, absolute: timedelta):
        self.engine = engine
        self.idle = idle
        self.absolute = absolute

    def start(self, account: str, now: datetime) -> StartedSession:
        """A new session for the account (a new token at every sign-in: a token planted before
        it names no session). The account's ended and expired sessions are removed."""
        started = StartedSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        with self.engine.begin() as conn:
            conn.execute(
                delete(console_sessions).where(
                    console_sessions.c.account == account,
                    or_(
                        console_sessions.c.ended_at.is_not(None),
                        console_sessions.c.last_seen_at <= now - self.idle,
                        console_sessions.c.started_at <= now - self.absolute,
                    ),
                )
            )
            conn.execute(
                insert(console_sessions).values(
                    token_hash=token_hash(started.token),
                    account=account,
                    csrf_token=started.csrf_token,
                    started_at=now,
                    last_seen_at=now,
                    ended_at=None,
                )
            )
        return started

    def find(self, token: str, now: datetime) -> ActiveSession | None:
        """The session this token names, if it is still on and its account enabled; seen now
        (the idle time counts from here)."""
        if not token or len(token) > 100:
            return None
        hashed = token_hash(token)
        query = (
            select(console_sessions, staff_accounts)
            .join(staff_accounts, staff_accounts.c.name == console_sessions.c.account)
            .where(console_sessions.c.token_hash == hashed)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.ended_at is not None or row.disabled_at is not None:
            return None
        started_at, last_seen_at = _utc(row.started_at), _utc(row.last_seen_at)
        if now - last_seen_at >= self.idle or now - started_at >= self.absolute:
            return None
        with self.engine.begin() as conn:
            conn.execute(
                update(console_sessions)
                .where(console_sessions.c.token_hash == hashed)
                .values(last_seen_at=now)
            )
        return ActiveSession(account_of(row), row.csrf_token, started_at)

    def end(self, token: str, now: datetime) -> None:
        """Sign-out: the token names no session from now on."""
        with self.engine.begin() as conn:
            conn.execute(
                update(console_sessions)
                .where(
                    console_sessions.c.token_hash == token_hash(token),
                    console_sessions.c.ended_at.is_(None),
                )
                .values(ended_at=now)
            )

    def end_all(self, account: str, now: datetime, *, conn: Connection | None = None) -> int:
        """Every session of the account ends (it was disabled, or its password reset)."""
        with transaction(self.engine, conn) as tx:
            ended: int = tx.execute(
                update(console_sessions)
                .where(console_sessions.c.account == account, console_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            ).rowcount
        return ended
