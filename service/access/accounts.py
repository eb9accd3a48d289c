"""Staff accounts of the console: one person, one account, with a role, an agency and (for
recorders) the authority codes and sectors, exactly as a client has them; the built-in
accounts' passwords as Argon2id hashes; and the lockout after repeated failed sign-ins, counted
by the name typed so that it reads the same whether or not an account has that name.

A signed-in person acts as `Account.principal()`: a `Client` value named "account:<name>", so
every permission check, recording permit and access-log row treats them as it treats an API
client of the same role."""

from __future__ import annotations

import functools
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from service.access.clients import ROLE_SCOPES, Client, ClientError, checked_grants
from service.access.tables import sign_in_failures, staff_accounts
from service.store.database import transaction

# "account:" and the name fit the access log's 64-character client_id.
ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,55}\Z")  # \Z: no trailing newline
PRINCIPAL_PREFIX = "account:"
BUILTIN = "builtin"
# Generated passwords: no 0/O, 1/l/I, so that one read out or copied by hand arrives intact.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_GROUPS, PASSWORD_GROUP_LENGTH = 4, 4  # 16 characters: about 92 bits
MAX_TYPED_NAME = 64  # a failure is counted under at most this much of the name typed
log = logging.getLogger(__name__)


class AccountError(ClientError):
    """An account cannot be created or changed as asked; the message says why, in Chinese
    wherever it is read (accounts are the console's)."""

    def __init__(self, message: str):
        super().__init__(message, message)


@dataclass(frozen=True)
class Account:
    name: str
    display_name: str
    role: str
    agency_name: str
    agency_code: str
    authority_codes: tuple[str, ...]
    sectors: tuple[str, ...]
    provider: str
    disabled: bool

    @property
    def principal_id(self) -> str:
        """How logs name the person: the access log's client_id, records' recorded_by."""
        return PRINCIPAL_PREFIX + self.name

    @property
    def scopes(self) -> tuple[str, ...]:
        return ROLE_SCOPES[self.role]

    def principal(self) -> Client:
        """The account as the permission checks see a caller: a client of the same role,
        agency and grants (no second permission system)."""
        return Client(
            client_id=self.principal_id,
            role=self.role,
            agency_name=self.agency_name,
            agency_code=self.agency_code,
            authority_codes=self.authority_codes,
            sectors=self.sectors,
            disabled=self.disabled,
        )


def account_of(row: Any) -> Account:
    return Account(
        name=row.name,
        display_name=row.display_name,
        role=row.role,
        agency_name=row.agency_name,
        agency_code=row.agency_code,
        authority_codes=tuple(row.authority_codes),
        sectors=tuple(row.sectors),
        provider=row.provider,
        disabled=row.disabled_at is not None,
    )


# What a sign-in comes to. The page words each; only `Disabled` tells that the account exists,
# and only to whoever knows its password.
@dataclass(frozen=True)
class SignedIn:
    account: Account


@dataclass(frozen=True)
class Refused:
    """Unknown name or wrong password: the same answer for both."""


@dataclass(frozen=True)
class LockedOut:
    until: datetime


@dataclass(frozen=True)
class Disabled:
    """The right password for a disabled account."""


SignInOutcome = SignedIn | Refused | LockedOut | Disabled


@dataclass(frozen=True)
class Lockout:
    """`failures` failed sign-ins in a row under one name lock it for `seconds`; failures
    further apart than `seconds` start the count again."""

    failures: int
    seconds: int

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=self.seconds)


def new_password() -> str:
    """A password for a person to type once and then keep: four groups of four characters."""
    groups = (
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_LENGTH))
        for _ in range(PASSWORD_GROUPS)
    )
    return "-".join(groups)


def typed_name(name: str) -> str:
    """A sign-in name as typed, as the account table and the failure count key it."""
    return name.strip().lower()[:MAX_TYPED_NAME]


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive; they were written in UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class StaffAccounts:
    """The built-in accounts: created by an administrator (through `Administration`, which
    logs each act), and the built-in identity provider's password check with its lockout."""

    def __init__(self, engine: Engine, hasher: PasswordHasher, lockout: Lockout):
        self.engine = engine
        self.hasher = hasher
        self.lockout = lockout

    @functools.cached_property
    def _decoy(self) -> str:
        """What an unknown name's password is checked against: a hash as costly as a real
        one's. Made on first use, so that commands that sign no one in never pay for it."""
        return self.hasher.hash(new_password())

    # Administration -------------------------------------------------------------------------
    def validated(
        self,
        name: str,
        display_name: str,
        role: str,
        agency_name: str,
        agency_code: str,
        authority_codes: list[str] | None = None,
        sectors: list[str] | None = None,
        *,
        conn: Connection | None = None,
    ) -> dict[str, Any]:
        """The new account's fields, normalised, or AccountError saying what is wrong."""
        if not ACCOUNT_NAME.match(name):
            raise AccountError("登录名：3-56 个字符，可用小写字母、数字和 . _ -，以字母或数字开头")
        display_name = display_name.strip()
        if not display_name or len(display_name) > 100:
            raise AccountError("姓名：1-100 个字符")
        try:
            grants = checked_grants(role, agency_name, agency_code, authority_codes, sectors)
        except ClientError as error:
            raise AccountError(error.in_chinese) from None
        if self.get(name, conn=conn) is not None:
            raise AccountError(f"登录名 {name} 已被使用")
        return {"name": name, "display_name": display_name, **grants}

    def create(
        self, fields: dict[str, Any], now: datetime, *, conn: Connection | None = None
    ) -> tuple[Account, str]:
        """A built-in account from `validated` fields, and its first password, which is not
        stored and cannot be shown again."""
        password = new_password()
        with transaction(self.engine, conn) as tx:
            tx.execute(
                insert(staff_accounts).values(
                    **fields,
                    provider=BUILTIN,
                    password_hash=self.hasher.hash(password),
                    created_at=now,
                    disabled_at=None,
                )
            )
            account = self.get(fields["name"], conn=tx)
        assert account is not None
        return account, password

    def write_external(
        self, fields: dict[str, Any], provider: str, now: datetime, *, conn: Connection
    ) -> tuple[Account, bool]:
        """An account an external identity provider vouches for, written from its claims
        (`fields` as `validated` gives them) or refreshed, with no password; and whether
        anything changed. The caller has checked that the name is this provider's."""
        existing = self.get(fields["name"], conn=conn)
        if existing is None:
            conn.execute(
                insert(staff_accounts).values(
                    **fields, provider=provider, password_hash=None, created_at=now
                )
            )
        else:
            assert existing.provider == provider
            conn.execute(
                update(staff_accounts)
                .where(staff_accounts.c.name == fields["name"])
                .values(**fields)
            )
        account = self.get(fields["name"], conn=conn)
        assert account is not None
        return account, account != existing

    def reset_password(self, name: str, *, conn: Connection | None = None) -> str:
        """A new password; the old one stops working at once (sessions are ended by the
        caller, in the same transaction)."""
        password = new_password()
        with transaction(self.engine, conn) as tx:
            changed = tx.execute(
                update(staff_accounts)
                .where(staff_accounts.c.name == name, staff_accounts.c.provider == BUILTIN)
                .values(password_hash=self.hasher.hash(password))
            ).rowcount
            if not changed:
                raise AccountError(f"没有登录名为 {name} 的本地账号")
        return password

    def disable(self, name: str, now: datetime, *, conn: Connection | None = None) -> Account:
        with transaction(self.engine, conn) as tx:
            changed = tx.execute(
                update(staff_accounts)
                .where(staff_accounts.c.name == name, staff_accounts.c.disabled_at.is_(None))
                .values(disabled_at=now)
            ).rowcount
            account = self.get(name, conn=tx)
            if account is None:
                raise AccountError(f"没有登录名为 {name} 的账号")
            if not changed:
                raise AccountError(f"账号 {name} 已停用")
            return account

    def get(self, name: str, *, conn: Connection | None = None) -> Account | None:
        if not ACCOUNT_NAME.match(name):
            return None  # no such account can exist (and the database need not see it)
        query = select(staff_accounts).where(staff_accounts.c.name == name)
        if conn is not None:  # inside the caller's (write) transaction
            row = conn.execute(query).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).first()
        return account_of(row) if row else None

    def all(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(staff_accounts).order_by(staff_accounts.c.name))
            return [account_of(row) for row in rows]

    # Signing in -----------------------------------------------------------------------------
    def sign_in(self, name: str, password: str, now: datetime) -> SignInOutcome:
        """The built-in identity provider: the name and password, under the lockout.

        A locked name is refused before its password is looked at, so that guessing on
        through a lockout learns nothing. An unknown name costs the same hash as a known one
        and counts failures the same way. The hash runs outside any transaction: on SQLite a
        write transaction holds the whole database."""
        key = typed_name(name)
        with self.engine.connect() as conn:
            failures = conn.execute(
                select(sign_in_failures).where(sign_in_failures.c.name == key)
            ).first()
            row = conn.execute(select(staff_accounts).where(staff_accounts.c.name == key)).first()
        locked_until = _utc(failures.locked_until) if failures else None
        if locked_until is not None and locked_until > now:
            return LockedOut(locked_until)
        stored = row.password_hash if row is not None and row.provider == BUILTIN else None
        if not self._verify(password, stored):
            return self._failed(key, now)
        assert row is not None
        account = account_of(row)
        with self.engine.begin() as conn:
            self._lock_name(conn, key)
            conn.execute(delete(sign_in_failures).where(sign_in_failures.c.name == key))
            if self.hasher.check_needs_rehash(row.password_hash):  # the cost settings rose
                conn.execute(
                    update(staff_accounts)
                    .where(staff_accounts.c.name == key)
                    .values(password_hash=self.hasher.hash(password))
                )
        if account.disabled:
            log.warning("console sign-in refused: account %s is disabled", key)
            return Disabled()
        return SignedIn(account)

    def _verify(self, password: str, stored: str | None) -> bool:
        try:
            return self.hasher.verify(stored or self._decoy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def _failed(self, key: str, now: datetime) -> Refused | LockedOut:
        with self.engine.begin() as conn:
            self._lock_name(conn, key)
            row = conn.execute(
                select(sign_in_failures).where(sign_in_failures.c.name == key)
            ).first()
            count = 1
            if row is not None:
                locked_until = _utc(row.locked_until)
                last_failed_at = _utc(row.last_failed_at)
                assert last_failed_at is not None
                if locked_until is not None and locked_until > now:
                    return LockedOut(locked_until)  # another attempt locked it meanwhile
                if locked_until is None and now - last_failed_at < self.lockout.duration:
                    count = row.failures + 1
                conn.execute(delete(sign_in_failures).where(sign_in_failures.c.name == key))
            until = now + self.lockout.duration if count >= self.lockout.failures else None
            conn.execute(
                insert(sign_in_failures).values(
                    name=key, failures=count, last_failed_at=now, locked_until=until
                )
            )
        log.warning("console sign-in failed for %r (%d in a row)", key, count)
        return LockedOut(until) if until is not None else Refused()

    @staticmethod
    def _lock_name(conn: Connection, key: str) -> None:
        """Serialise the count of one name: PostgreSQL's advisory lock (SQLite's write engine
        holds the database from BEGIN IMMEDIATE on)."""
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"sign-in:{key}"}
            )
