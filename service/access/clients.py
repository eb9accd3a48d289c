"""API clients: created by an operator with a role, an agency and (for recorders) the authority
codes and sectors they may record for; the secret is shown once and stored as a hash."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import codes
from service.access.secrets import SCRYPT_N, hash_secret, new_secret, verify_secret
from service.access.tables import api_clients
from service.store.database import transaction

ROLES = ("recorder", "agency", "auditor", "admin", "credit_office")
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "recorder": ("credit:record", "credit:read"),
    "agency": ("credit:read",),
    "auditor": ("credit:read", "credit:audit"),
    "admin": ("credit:admin",),
    # 信用办 / 法规科: watches timeliness and counts across agencies (overdue cases, the KPIs the
    # notices set), and reads no subject's credit file: none of its work needs one.
    "credit_office": ("credit:monitor",),
}
CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}\Z")  # \Z: no trailing newline
# How long an id found in no row is answered "unknown" without asking the database again, and
# how many such ids are remembered (oldest forgotten first).
UNKNOWN_CLIENT_SECONDS = 5.0
MAX_UNKNOWN_CLIENTS = 10_000
log = logging.getLogger(__name__)


class ClientError(ValueError):
    """A client cannot be created or changed as asked; the message says why, in English for
    the API and the command line, and `in_chinese` for a person at the console."""

    def __init__(self, message: str, in_chinese: str):
        super().__init__(message)
        self.in_chinese = in_chinese


@dataclass(frozen=True)
class Client:
    client_id: str
    role: str
    agency_name: str
    agency_code: str
    authority_codes: tuple[str, ...]
    sectors: tuple[str, ...]
    disabled: bool

    @property
    def scopes(self) -> tuple[str, ...]:
        return ROLE_SCOPES[self.role]


def no_such_client(client_id: str) -> ClientError:
    return ClientError(f"no client {client_id!r}", f"没有标识为 {client_id} 的客户端")


def _client(row) -> Client:
    return Client(
        client_id=row.client_id,
        role=row.role,
        agency_name=row.agency_name,
        agency_code=row.agency_code,
        authority_codes=tuple(row.authority_codes),
        sectors=tuple(row.sectors),
        disabled=row.disabled_at is not None,
    )


def checked_grants(
    role: str,
    agency_name: str,
    agency_code: str,
    authority_codes: list[str] | None,
    sectors: list[str] | None,
) -> dict[str, Any]:
    """A role, its agency and its recording grants, normalised, or ClientError saying what is
    wrong: the same for a client and for a staff account, which acts with a client's rights."""
    if role not in ROLES:
        raise ClientError(f"role must be one of {', '.join(ROLES)}", "请选择角色")
    agency_name = agency_name.strip()
    if not agency_name or len(agency_name) > 200:
        raise ClientError("agency name: 1-200 characters", "单位名称：1-200 个字符")
    normalised = []
    for code in [agency_code, *(authority_codes or [])]:
        try:
            normalised.append(codes.normalise_uscc(code))
        except codes.InvalidCode as error:
            raise ClientError(str(error), f"统一社会信用代码 {code} 无效") from None
    agency_code, authority_codes = normalised[0], normalised[1:]
    if role == "recorder" and not (authority_codes and sectors):
        raise ClientError(
            "a recorder needs at least one authority code and one sector",
            "信用信息记录人员须至少有一个执法机构代码和一个行业",
        )
    return {
        "role": role,
        "agency_name": agency_name,
        "agency_code": agency_code,
        "authority_codes": sorted(set(authority_codes)),
        "sectors": sorted(set(sectors or [])),
    }


class ClientRegistry:
    """Operator-side management of clients (CLI and admin API); synchronous."""

    def __init__(self, engine: Engine, scrypt_n: int = SCRYPT_N):
        self.engine = engine
        self.scrypt_n = scrypt_n
        self._decoy = hash_secret("decoy", scrypt_n)

    def validated(
        self,
        client_id: str,
        role: str,
        agency_name: str,
        agency_code: str,
        authority_codes: list[str] | None = None,
        sectors: list[str] | None = None,
        *,
        conn: Connection | None = None,
    ) -> dict[str, Any]:
        """The new client's fields, normalised, or ClientError saying what is wrong (nothing is
        written): what an administrator asks for before anything is created."""
        if not CLIENT_ID.match(client_id):
            raise ClientError(
                "client id: 3-64 characters of a-z, 0-9, '.', '_' or '-'",
                "客户端标识：3-64 个字符，可用小写字母、数字和 . _ -，以字母或数字开头",
            )
        fields = checked_grants(role, agency_name, agency_code, authority_codes, sectors)
        if self.get(client_id, conn=conn) is not None:
            raise ClientError(f"client {client_id} exists already", f"客户端 {client_id} 已存在")
        return {"client_id": client_id, **fields}

    def create(
        self,
        client_id: str,
        role: str,
        agency_name: str,
        agency_code: str,
        authority_codes: list[str] | None = None,
        sectors: list[str] | None = None,
        *,
        conn: Connection | None = None,
    ) -> tuple[Client, str]:
        """Returns the client and its secret, which is not stored and cannot be shown again.
        With `conn`, it is written in the caller's transaction."""
        secret = new_secret()
        with transaction(self.engine, conn) as tx:
            fields = self.validated(
                client_id, role, agency_name, agency_code, authority_codes, sectors, conn=tx
            )
            tx.execute(
                insert(api_clients).values(
                    **fields,
                    secret_hash=hash_secret(secret, self.scrypt_n),
                    created_at=datetime.now(UTC),
                    disabled_at=None,
                )
            )
            row = tx.execute(select(api_clients).where(api_clients.c.client_id == client_id))
            return _client(row.one()), secret

    def reset_secret(self, client_id: str, *, conn: Connection | None = None) -> str:
        """A new secret for an existing client (the old one stops working at once)."""
        secret = new_secret()
        with transaction(self.engine, conn) as tx:
            changed = tx.execute(
                update(api_clients)
                .where(api_clients.c.client_id == client_id)
                .values(secret_hash=hash_secret(secret, self.scrypt_n))
            ).rowcount
            if not changed:
                raise no_such_client(client_id)
        return secret

    def disable(self, client_id: str, *, conn: Connection | None = None) -> Client:
        if not CLIENT_ID.match(client_id):
            raise no_such_client(client_id)
        with transaction(self.engine, conn) as tx:
            changed = tx.execute(
                update(api_clients)
                .where(api_clients.c.client_id == client_id, api_clients.c.disabled_at.is_(None))
                .values(disabled_at=datetime.now(UTC))
            ).rowcount
            row = tx.execute(
                select(api_clients).where(api_clients.c.client_id == client_id)
            ).first()
            if row is None:
                raise no_such_client(client_id)
            if not changed:
                raise ClientError(
                    f"client {client_id} is disabled already", f"客户端 {client_id} 已停用"
                )
            return _client(row)

    def get(self, client_id: str, *, conn: Connection | None = None) -> Client | None:
        if not CLIENT_ID.match(client_id):
            return None  # no such client can exist (and the database need not see it)
        query = select(api_clients).where(api_clients.c.client_id == client_id)
        if conn is not None:  # inside the caller's (write) transaction
            row = conn.execute(query).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).first()
        return _client(row) if row else None

    def all(self) -> list[Client]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_clients).order_by(api_clients.c.client_id))
            return [_client(row) for row in rows]

    def authenticate(self, client_id: str, secret: str) -> Client | None:
        """The enabled client with this id and secret, else None (whichever part is wrong: the
        caller is told no more). The log says which part it was."""
        row = None
        if CLIENT_ID.match(client_id):
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(api_clients).where(api_clients.c.client_id == client_id)
                ).first()
        if row is None:
            verify_secret(secret, self._decoy)  # answer as slowly as for a real client
            log.warning("token refused: unknown client %s", _shown(client_id))
            return None
        if not verify_secret(secret, row.secret_hash):
            log.warning("token refused: wrong secret for client %s", _shown(client_id))
            return None
        if row.disabled_at is not None:
            log.warning("token refused: client %s is disabled", _shown(client_id))
            return None
        return _client(row)


def _shown(client_id: str) -> str:
    """A caller-chosen id as a log line may carry it: quoted, escaped and cut short."""
    return repr(client_id[:64]) + ("..." if len(client_id) > 64 else "")


class ClientDirectory:
    """The request path's view of clients: the whole table, re-read at most every few seconds,
    so that disabling a client stops its tokens within that time, not at their expiry.

    An id missing from the copy is looked up at once (a client created since the last read is
    found, not refused), and an id found nowhere is remembered as unknown for a while, so that
    tokens naming such ids cost one query each per `unknown_seconds`, not one per request."""

    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        max_age_seconds: float,
        *,
        unknown_seconds: float = UNKNOWN_CLIENT_SECONDS,
        max_unknown: int = MAX_UNKNOWN_CLIENTS,
    ):
        self._engine = engine  # asked each time: the read replica, or the primary if it lags
        self.max_age_seconds = max_age_seconds
        self.unknown_seconds = unknown_seconds
        self.max_unknown = max_unknown
        self._clients: dict[str, Client] = {}
        self._loaded_at = float("-inf")
        self._unknown: OrderedDict[str, float] = OrderedDict()  # id -> when it was not found
        self._lock = asyncio.Lock()

    async def get(self, client_id: str) -> Client | None:
        if time.monotonic() - self._loaded_at > self.max_age_seconds:
            async with self._lock:
                if time.monotonic() - self._loaded_at > self.max_age_seconds:
                    async with self._engine().connect() as conn:
                        rows = await conn.execute(select(api_clients))
                        self._clients = {row.client_id: _client(row) for row in rows}
                    self._loaded_at = time.monotonic()
                    self._unknown.clear()
        client = self._clients.get(client_id)
        if client is None:
            client = await self._look_up(client_id)
        return client

    async def _look_up(self, client_id: str) -> Client | None:
        """One row, for an id the copy does not have (created since it was read, or unknown)."""
        if not CLIENT_ID.match(client_id):
            return None
        async with self._lock:
            if client_id in self._clients:  # another request read it meanwhile
                return self._clients[client_id]
            missed_at = self._unknown.get(client_id)
            if missed_at is not None and time.monotonic() - missed_at < self.unknown_seconds:
                return None
            async with self._engine().connect() as conn:
                row = (
                    await conn.execute(
                        select(api_clients).where(api_clients.c.client_id == client_id)
                    )
                ).first()
            if row is None:
                self._unknown[client_id] = time.monotonic()
                self._unknown.move_to_end(client_id)
                while len(self._unknown) > self.max_unknown:
                    self._unknown.popitem(last=False)
                return None
            self._unknown.pop(client_id, None)
            self._clients[client_id] = _client(row)
            return self._clients[client_id]
