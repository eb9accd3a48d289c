"""OAuth2 client-credentials grant (RFC 6749 §4.4) and the public signing keys (JWKS).

The token endpoint answers errors in RFC 6749's own format ({"error": ...}), which OAuth
clients expect, rather than problem+json."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import TOKEN_URL
from api.deps import ServicesDep
from api.docs import answer
from api.errors import problems
from api.rate_limit import RateLimited
from api.schemas import OAuthError, TokenIssued
from service.access.tokens import ScopeNotGranted

router = APIRouter(tags=["authentication"])


def _oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and a non-ASCII header ("Basic ²")
        return None
    return client_id, secret


def _oauth_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    basic = {"schema": {"type": "string"}, "description": "Basic"}
    return {
        status: {"description": description, "model": OAuthError, **headers}
        for status, (description, headers) in {
            400: ("invalid_request, unsupported_grant_type or invalid_scope", {}),
            401: ("invalid_client", {"headers": {"WWW-Authenticate": basic}}),
            429: (
                "slow_down: too many token requests; wait `Retry-After` seconds",
                {"headers": problems(429)[429]["headers"]},
            ),
        }.items()
        if status in statuses
    }


# A body that cannot be parsed at all fails before this route: that 400 is problem+json.
_UNPARSED = problems(400)[400]["content"]


@router.post(
    TOKEN_URL,
    operation_id="issueToken",
    summary="Get an access token for a client's id and secret",
    responses={
        200: {"model": TokenIssued},
        400: {**_oauth_errors(400)[400], "content": _UNPARSED},
        **_oauth_errors(401, 429),
        **problems(413, 422),
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {"grant_type": "client_credentials", "scope": "credit:read"}
                }
            }
        }
    },
)
async def issue_token(
    request: Request,
    services: ServicesDep,
    grant_type: Annotated[
        str | None, Form(description="client_credentials: the one grant this service has")
    ] = None,
    client_id: Annotated[
        str | None, Form(description="the client's id, unless sent by HTTP Basic")
    ] = None,
    client_secret: Annotated[
        str | None, Form(description="the client's secret, unless sent by HTTP Basic")
    ] = None,
    scope: Annotated[
        str | None,
        Form(
            description="the scopes wanted, space-separated, of those the client's role has "
            "(default: all of them)"
        ),
    ] = None,
) -> JSONResponse:
    """A short-lived access token for a client's id and secret: HTTP Basic (as Swagger UI's
    Authorize sends them) or the form fields `client_id` and `client_secret`. RFC 6749 §4.4;
    its errors are RFC 6749's too (`error`, `error_description`), not problem+json."""
    if not grant_type:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    credentials = _basic_credentials(request) or (client_id or "", client_secret or "")
    if not all(credentials):
        return _oauth_error(
            401,
            "invalid_client",
            "client authentication is required",
            **{"WWW-Authenticate": "Basic"},
        )
    # Checking a secret costs a full scrypt (a decoy one for an unknown client id), so the
    # limits come first: per address, which new client ids do not escape, then per client id,
    # which a guesser of one client's secret from many addresses does not escape.
    address = request.client.host if request.client else "unknown"
    try:
        request.app.state.token_address_limiter.check(address)
        request.app.state.token_client_limiter.check(credentials[0])
    except RateLimited as limited:
        return _oauth_error(
            429,
            "slow_down",
            "too many token requests",
            **{"Retry-After": str(limited.retry_after_seconds)},
        )
    client = await run_in_threadpool(services.clients.authenticate, *credentials)
    if client is None:
        return _oauth_error(
            401,
            "invalid_client",
            "unknown client, wrong secret or disabled",
            **{"WWW-Authenticate": "Basic"},
        )
    try:
        issued = await run_in_threadpool(services.tokens.issue, client, scope)
    except ScopeNotGranted as error:
        return _oauth_error(400, "invalid_scope", f"not granted to this client: {error}")
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/.well-known/jwks.json",
    operation_id="getTokenSigningKeys",
    summary="Public keys that verify access tokens (JWKS)",
    responses={
        200: answer(
            "The keys as a JSON Web Key Set (RFC 7517)",
            {
                "keys": [
                    {
                        "kty": "OKP",
                        "crv": "Ed25519",
                        "x": "dNKY-__y1nvacMPxaRt1-0i0RV7xOEqQmrkNqyh19L4",
                        "kid": "39492cb9b3544b7e98fea7065308f7ad",
                        "use": "sig",
                        "alg": "EdDSA",
                    }
                ]
            },
        )
    },
)
async def jwks(services: ServicesDep) -> JSONResponse:
    """The public keys that verify access tokens (current and recently retired): Ed25519
    (`"kty": "OKP"`, `"alg": "EdDSA"`), or with the 国密 suite SM2 (`"kty": "EC"`, `"crv": "SM2"`,
    `x` and `y`, `"alg": "SM2SM3"`; docs/security.md §3)."""
    keys = await run_in_threadpool(services.keys.jwks)
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=60"})
