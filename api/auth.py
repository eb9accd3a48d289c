"""Authentication and authorisation on every request: a bearer token verified with PyJWT, the
client looked up (a disabled client is refused at once), a per-client rate limit, and scopes.
The check is declared as the OAuth2 client-credentials scheme it is, so the OpenAPI document
names the token URL and the scopes each operation needs (Swagger UI's Authorize)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import unquote
from uuid import UUID

from fastapi import Depends, Header, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2
from starlette.concurrency import run_in_threadpool

from api.errors import InsufficientScope, InvalidRequest, TooManyRequests, Unauthorised
from api.rate_limit import RateLimited
from service.access.access_log import AccessEntry
from service.access.clients import Client
from service.access.keys import KeyCacheStale
from service.access.permissions import RecordingPermit
from service.access.tokens import InvalidToken, SlowToVerify

log = logging.getLogger(__name__)
READ, RECORD, AUDIT, ADMIN = "credit:read", "credit:record", "credit:audit", "credit:admin"
MONITOR = "credit:monitor"  # the credit office's: case deadlines and counts, no credit file
SCOPES = {
    READ: "read subjects' credit status, records and cases",
    RECORD: "record subjects, events, imports and case steps for the client's authorities",
    AUDIT: "read full histories and access logs, reveal codes, verify and export",
    ADMIN: "manage API clients, signing keys and erasure of personal data",
    MONITOR: "the credit office's: every agency's case deadlines and counts, no credit file",
}
TOKEN_URL = "/oauth/token"


@dataclass(frozen=True)
class Caller:
    client: Client
    scopes: frozenset[str]

    @property
    def client_id(self) -> str:
        return self.client.client_id

    def permit(self) -> RecordingPermit:
        return RecordingPermit(
            frozenset(self.client.authority_codes), frozenset(self.client.sectors)
        )


@dataclass(frozen=True)
class Oversight:
    """Whose repair and objection cases, and whose figures, a caller sees: every authority's
    for the credit office and auditors, a deciding agency's own for a recorder (谁认定、谁修复)."""

    authority_codes: frozenset[str] | None  # None: every authority's


# The scopes that oversee some authorities' cases and figures, as `oversight` reads them.
OVERSIGHT_SCOPES = (MONITOR, AUDIT, RECORD)


def oversight(caller: Caller) -> Oversight | None:
    """None for a caller who oversees no authority (a querying agency, an administrator)."""
    if AUDIT in caller.scopes or MONITOR in caller.scopes:
        return Oversight(None)
    if RECORD in caller.scopes:
        return Oversight(frozenset(caller.client.authority_codes))
    return None


def authorities_seen(caller: Caller, what: str) -> list[str] | None:
    """The authority codes whose cases and figures an API caller sees (None: every
    authority's), or the refusal of a token that oversees none. `what` names what is asked
    for, in the refusal."""
    overseen = oversight(caller)
    if overseen is None:
        raise InsufficientScope(
            f"{what} need the credit:audit or credit:monitor scope, or credit:record for a "
            "deciding agency's own; this token carries none of them",
            AUDIT,
        )
    return None if overseen.authority_codes is None else sorted(overseen.authority_codes)


async def purpose(
    x_purpose: Annotated[
        str | None,
        Header(
            alias="X-Purpose",
            description="Why the caller reads, for the access log (at most 200 characters); "
            "percent-encoded UTF-8, since headers are ASCII: %E8%A1%8C%E6%94%BF%E8%AE%B8%E5%8F%AF "
            "for 行政许可 (UTF-8 sent as it is, as curl sends it, is read as well)",
        ),
    ] = None,
) -> str:
    """Why the caller reads (X-Purpose header, percent-encoded UTF-8 since headers are ASCII,
    e.g. %E8%A1%8C%E6%94%BF%E8%AE%B8%E5%8F%AF for 行政许可), written to the access log.

    Many clients (curl, a header typed into a form) send the UTF-8 bytes as they are; the ASGI
    server hands them on as Latin-1, which would log 行政许可 as è¡\x8cæ\x94¿...: such a value
    is read back as the UTF-8 it was, and one that is not UTF-8 is refused."""
    stated = x_purpose or ""
    if not stated.isascii():
        try:
            stated = stated.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise InvalidRequest(
                "X-Purpose: not UTF-8; send it as percent-encoded UTF-8 "
                "(%E8%A1%8C%E6%94%BF%E8%AE%B8%E5%8F%AF for 行政许可)"
            ) from None
    stated = unquote(stated).strip()
    if len(stated) > 200:
        raise InvalidRequest("X-Purpose: at most 200 characters")
    if "\x00" in stated:
        raise InvalidRequest("X-Purpose: contains a NUL character")
    return stated or "unspecified"


Purpose = Annotated[str, Depends(purpose)]


def access_entry(
    caller: Caller, subject_id: UUID, action: str, purpose: str, returned: dict
) -> AccessEntry:
    return AccessEntry(
        caller.client_id,
        caller.client.role,
        caller.client.agency_code,
        subject_id,
        action,
        purpose,
        returned,
    )


async def log_reads(
    services, caller: Caller, purpose: str, action: str, returned: dict[UUID, dict]
) -> None:
    """查询留痕: one access-log row per subject whose data this answer carries, written before
    the answer leaves (an unlogged read is not served)."""
    entries = [
        access_entry(caller, subject_id, action, purpose, summary)
        for subject_id, summary in returned.items()
    ]
    await services.access_log_writer.append(entries)


class ClientCredentials(OAuth2):
    """Bearer tokens of the client-credentials grant (RFC 6749 §4.4) at TOKEN_URL: FastAPI
    declares it in the OpenAPI document with the scopes each operation's `require` names, and
    calls it to check the token, as the one dependency it always was."""

    def __init__(self) -> None:
        super().__init__(
            flows=OAuthFlows(
                clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=SCOPES)
            ),
            scheme_name="clientCredentials",
            description="A client's id and secret (HTTP Basic, or form fields) at "
            f"`POST {TOKEN_URL}` give a short-lived access token, sent as "
            "`Authorization: Bearer <token>`. A token asked for with `scope=` carries only "
            "those scopes; without it, every scope of the client's role.",
            auto_error=False,
        )

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        services = request.app.state.services  # not a sub-dependency: each one costs per request
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorised("send an access token: Authorization: Bearer <token>", error=None)
        try:
            try:
                verified = services.tokens.verify(
                    token.strip(), may_refresh=False, may_be_slow=False
                )
            # Re-reading the published keys is a database read, an SM2 check about 20 ms of
            # pure Python: either off the loop.
            except (KeyCacheStale, SlowToVerify):
                verified = await run_in_threadpool(services.tokens.verify, token.strip())
        except InvalidToken as error:
            raise Unauthorised(f"the access token is not valid ({error})") from None
        client = await services.directory.get(verified.client_id)
        # The token is signed by this service, so its holder knows the client id already: saying
        # which of the two it is tells them nothing new, and tells the operator what happened.
        if client is None:
            log.warning("bearer token refused: client %r is unknown", verified.client_id)
            raise Unauthorised("this token's client is unknown")
        if client.disabled:
            log.warning("bearer token refused: client %r is disabled", verified.client_id)
            raise Unauthorised("this client is disabled")
        try:
            request.app.state.rate_limiter.check(client.client_id)
        except RateLimited as limited:
            raise TooManyRequests(
                "too many requests from this client; slow down", limited.retry_after_seconds
            ) from None
        return Caller(client, verified.scopes & frozenset(client.scopes))


authenticated = ClientCredentials()


def with_scope(caller: Caller, scope: str) -> Caller:
    """The caller, if its token carries `scope` (what `require(scope)` checks)."""
    if scope not in caller.scopes:
        raise InsufficientScope(
            f"this needs the {scope} scope, which this token does not carry", scope
        )
    return caller


@functools.cache  # one dependency per scope, so a router's and a route's share FastAPI's cache
def require(scope: str):
    async def check(caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        return with_scope(caller, scope)

    return Security(check, scopes=[scope])


Authenticated = Annotated[Caller, Depends(authenticated)]  # any scope: the route checks which
Reader = Annotated[Caller, require(READ)]
Recorder = Annotated[Caller, require(RECORD)]
Auditor = Annotated[Caller, require(AUDIT)]
Admin = Annotated[Caller, require(ADMIN)]
