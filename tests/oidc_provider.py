"""A provincial 统一身份认证 for the tests: an OpenID Connect provider as a small Starlette app,
with discovery, its published keys, an authorization endpoint where the person the test chose
is signed in at once, and a token endpoint that checks the client's secret, the code and the
PKCE verifier as a real provider does. Its ID tokens are signed with a key made here
(joserfc); a test spoils one thing at a time (`Spoil`) to see the console refuse it.

The service reaches it through `httpx2.ASGITransport(app=provider.app)` (no network), a test's
browser through httpx's; a browser test serves it with uvicorn on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.builders import AUTHORITY_CODE

ISSUER = "https://tyrz.example.gov.cn"
CLIENT_ID = "xyjt-console"
CLIENT_SECRET = "console-client-secret-for-tests"
ROLE_MAP = {"XYJT_JLY": "recorder", "XYJT_CX": "agency", "XYJT_SJ": "auditor", "XYJT_GLY": "admin"}
AGENCY_NAME = "河南省交通运输厅"


def claims_of(name: str, *roles: str, **more: Any) -> dict[str, Any]:
    """What the provider says about a person of the transport department: a recorder's grants
    when one of the roles is the recorder's."""
    claims: dict[str, Any] = {
        "sub": f"sub-{name}",
        "preferred_username": name,
        "name": "孙丽",
        "org_code": AUTHORITY_CODE,
        "org_name": AGENCY_NAME,
        "roles": list(roles),
    }
    if "XYJT_JLY" in roles:
        claims |= {"authority_codes": [AUTHORITY_CODE], "sectors": ["road_transport"]}
    return claims | more


@dataclass
class Spoil:
    """One thing wrong with the next ID token (or with the provider)."""

    nonce: str | None = None  # a nonce other than the one the console sent
    lifetime: timedelta = timedelta(minutes=5)  # negative: expired already
    audience: str | None = None
    issuer: str | None = None
    foreign_key: bool = False  # signed with a key the provider does not publish (same kid)


@dataclass
class Grant:
    claims: dict[str, Any]
    nonce: str
    challenge: str
    redirect_uri: str


@dataclass
class FakeProvider:
    now: Callable[[], datetime]
    issuer: str = ISSUER
    person: dict[str, Any] = field(default_factory=lambda: claims_of("sun.li", "XYJT_JLY"))
    spoil: Spoil = field(default_factory=Spoil)
    end_session: bool = True
    end_session_at: str | None = None  # else its own /logout
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    authorization_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    signed_out: list[dict[str, str]] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/logout", self.logout),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }
        if self.end_session:
            document["end_session_endpoint"] = self.end_session_at or f"{self.issuer}/logout"
        return JSONResponse(document)

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        """The person signs in here (in the tests, at once) and is sent back with a code."""
        query = dict(request.query_params)
        self.authorization_requests.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            dict(self.person), query["nonce"], query["code_challenge"], query["redirect_uri"]
        )
        back = {"code": code, "state": query["state"], "iss": self.issuer}
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        """RFC 6749 §4.1.3 with client_secret_basic, and RFC 7636 §4.6: the verifier's S256
        must be the challenge the authorization request carried."""
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.token_requests.append(form)
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        client_id, _, secret = base64.b64decode(encoded or "Og==").decode().partition(":")
        if scheme != "Basic" or (unquote(client_id), unquote(secret)) != (
            CLIENT_ID,
            CLIENT_SECRET,
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.grants.pop(form.get("code", ""), None)  # a code is used once
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or form.get("redirect_uri") != grant.redirect_uri
            or challenge.rstrip(b"=").decode() != grant.challenge
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant),
            },
            headers={"Cache-Control": "no-store"},
        )

    def id_token(self, grant: Grant) -> str:
        now = self.now()
        spoil = self.spoil
        claims = {
            **grant.claims,
            "iss": spoil.issuer or self.issuer,
            "aud": spoil.audience or CLIENT_ID,
            "iat": int(now.timestamp()),
            "exp": int((now + spoil.lifetime).timestamp()),
            "nonce": spoil.nonce or grant.nonce,
        }
        # A foreign key signs under the published key's id: only the signature can tell.
        key = RSAKey.generate_key(2048) if spoil.foreign_key else self.key
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)

    async def logout(self, request: Request) -> Response:
        """Signed out here too, and back where the console asked (RP-Initiated Logout 1.0)."""
        self.signed_out.append(dict(request.query_params))
        back = request.query_params.get("post_logout_redirect_uri")
        if back is None:
            return JSONResponse({"signed_out": True})
        return RedirectResponse(back, status_code=302)
