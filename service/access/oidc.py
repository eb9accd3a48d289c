"""Signing in to the console through an external OpenID Connect provider (a provincial
统一身份认证): the Authorization Code flow with PKCE (S256).

`depart` sends the browser to the provider with a fresh state, nonce and code verifier, kept on
the server (`oidc_sign_ins`) under the SHA-256 of a random value the browser keeps in its
sign-in cookie. `arrive` takes that sign-in (once: it is deleted whatever happens), checks the
state the provider hands back against it, exchanges the code with Authlib's client, verifies
the ID token's signature against the keys the provider publishes (joserfc, the JOSE library
Authlib itself now uses) and its iss, aud, exp, iat and nonce (Authlib's `CodeIDToken`), makes
the claims an account (`oidc_claims`) and admits it (`Administration.admit`). Whatever fails,
the person is told why and no account or session is written."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet, KeySetSerialization
from sqlalchemy import Engine, delete, insert, select

from service.access.accounts import Account, AccountError, Disabled, SignedIn
from service.access.administration import Administration, Pending
from service.access.oidc_claims import ClaimNames, ClaimRefused, account_fields
from service.access.tables import oidc_sign_ins
from service.settings import Settings

log = logging.getLogger(__name__)
PROVIDER_PREFIX = "oidc:"
# How long a person may take at the provider between leaving the console and coming back: a
# service default, long enough to type a password and a second factor there.
SIGN_IN_TIME = timedelta(minutes=10)
# The discovery document and the keys are read again after this long (service default); a
# token signed with a key id not yet seen reads the keys at once (the provider rotated).
METADATA_SECONDS = 3600.0
# How far the provider's clock and ours may disagree about exp and iat (service default).
CLOCK_LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10.0
# ID tokens signed with a key pair only: "none" and the HS* family (keyed with the client
# secret) are refused, whatever the provider offers.
SIGNATURE_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
# What the ID token's checks refused, in the words the sign-in page uses.
CLAIM_CHECKS = {
    "iss": "签发方不是本系统配置的统一身份认证",
    "aud": "不是签发给本系统的",
    "azp": "不是签发给本系统的",
    "exp": "已过期",
    "iat": "签发时间有误",
    "nbf": "尚未生效",
    "nonce": "与本次登录请求不符（nonce）",
    "at_hash": "与访问令牌不符（at_hash）",
    "sub": "的用户标识（sub）有误",
}


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    claims: ClaimNames
    role_map: Mapping[str, str]

    @property
    def provider(self) -> str:
        """How `staff_accounts.provider` names the accounts this provider vouches for."""
        return PROVIDER_PREFIX + self.issuer

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            scopes=settings.oidc_scopes,
            claims=ClaimNames.from_settings(settings),
            role_map=dict(settings.oidc_role_map),
        )


@dataclass(frozen=True)
class Departure:
    """Where the browser goes, and the value its sign-in cookie keeps until it comes back."""

    url: str
    token: str


# What a return from the provider comes to, besides `SignedIn` and `Disabled`.
@dataclass(frozen=True)
class StaleSignIn:
    """No sign-in of this browser under way (no cookie, used already, too old), or the state
    the provider handed back is not the one it was sent with."""


@dataclass(frozen=True)
class ProviderFailed:
    """The provider refused, could not be reached, or answered what no provider should."""

    in_chinese: str


@dataclass(frozen=True)
class TokenRefused:
    """The ID token failed a check: its signature, issuer, audience, expiry or nonce."""

    in_chinese: str


@dataclass(frozen=True)
class ClaimsRefused:
    """The claims make no account (one missing or wrong), or name another's account."""

    in_chinese: str


@dataclass(frozen=True)
class AwaitingApproval:
    """An auditor or admin role waits for a local administrator's approval."""

    role: str


OidcOutcome = (
    SignedIn
    | Disabled
    | StaleSignIn
    | ProviderFailed
    | TokenRefused
    | ClaimsRefused
    | AwaitingApproval
)
UNREACHABLE = ProviderFailed("暂时无法连接统一身份认证，请稍后再试。")


class ProviderError(Exception):
    """The provider's answer cannot be used; `outcome` says so to the person."""

    def __init__(self, message: str, outcome: ProviderFailed = UNREACHABLE):
        super().__init__(message)
        self.outcome = outcome


class TokenCheckFailed(Exception):
    """The ID token failed a check; `in_chinese` completes "统一身份认证的身份令牌…"."""

    def __init__(self, message: str, in_chinese: str):
        super().__init__(message)
        self.in_chinese = in_chinese


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def form_targets(settings: Settings) -> tuple[str, ...]:
    """Where a console form's answer may lead besides the console: the provider's origin, for
    signing out there too (the pages' CSP form-action). Its end-session endpoint is followed
    only on that origin (`end_session_url`)."""
    if settings.console_identity_provider != "oidc" or not settings.oidc_issuer:
        return ()
    return (origin(settings.oidc_issuer),)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@functools.cache
def provider_tls() -> ssl.SSLContext:
    """The TLS context of every request to the identity provider, made once per process: a
    client given none makes its own, loading the certificate authorities (some 35 ms of CPU),
    at each sign-in."""
    return httpx2.create_ssl_context()


class OidcSignIn:
    """The `oidc` identity provider (CREDIT_CONSOLE_IDENTITY_PROVIDER=oidc)."""

    def __init__(
        self,
        engine: Engine,
        administration: Administration,
        config: OidcConfig,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
    ):
        self.engine = engine
        self.administration = administration
        self.config = config
        self.transport = transport  # tests hand in their provider; else the network
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._read_at = float("-inf")

    # The provider's documents ---------------------------------------------------------------
    def _client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=self.transport, timeout=HTTP_TIMEOUT_SECONDS, verify=provider_tls()
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx2.HTTPError, ValueError) as error:
            raise ProviderError(f"{url}: {error}") from None
        if not isinstance(document, dict):
            raise ProviderError(f"{url}: not a JSON object")
        return document

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (OpenID Connect Discovery 1.0 §4), checked."""
        if self._metadata is not None and time.monotonic() - self._read_at < METADATA_SECONDS:
            return self._metadata
        issuer = self.config.issuer
        document = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if document.get("issuer") != issuer:  # §4.3: exactly the issuer configured
            raise ProviderError(f"discovery names issuer {document.get('issuer')!r}")
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(endpoint), str):
                raise ProviderError(f"discovery has no {endpoint}")
        self._metadata, self._keys, self._read_at = document, None, time.monotonic()
        return document

    async def _key_set(self, *, again: bool = False) -> KeySet:
        if self._keys is None or again:
            metadata = await self.metadata()
            try:
                published = await self._get_json(metadata["jwks_uri"])
                self._keys = KeySet.import_key_set(cast(KeySetSerialization, published))
            except (JoseError, ValueError, KeyError, TypeError) as error:
                raise ProviderError(f"the provider's JWKS cannot be read: {error}") from None
        return self._keys

    async def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where the browser signs out at the provider too (RP-Initiated Logout 1.0), if the
        provider says where; None if not, or if it cannot be asked now."""
        try:
            endpoint = (await self.metadata()).get("end_session_endpoint")
        except ProviderError as error:
            log.warning("the OpenID Connect provider is not reachable for sign-out: %s", error)
            return None
        if not isinstance(endpoint, str):
            return None
        if origin(endpoint) != origin(self.config.issuer):  # the pages' CSP would stop it
            log.warning("the end_session_endpoint %s is not on the issuer's origin", endpoint)
            return None
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "post_logout_redirect_uri": post_logout_redirect_uri,
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    # Leaving for the provider ---------------------------------------------------------------
    async def depart(self, redirect_uri: str, now: datetime) -> Departure | ProviderFailed:
        try:
            metadata = await self.metadata()
        except ProviderError as error:
            log.warning("OpenID Connect discovery failed: %s", error)
            return error.outcome
        token = secrets.token_urlsafe(32)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 §4.1 asks 43-128
        await asyncio.to_thread(self._keep, token, state, nonce, verifier, redirect_uri, now)
        async with AsyncOAuth2Client(
            self.config.client_id,
            scope=self.config.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            verify=provider_tls(),
        ) as client:  # only builds the URL: nothing is sent from here
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=verifier,
            )
        return Departure(url, token)

    def _keep(
        self, token: str, state: str, nonce: str, verifier: str, redirect_uri: str, now: datetime
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(oidc_sign_ins).where(oidc_sign_ins.c.started_at <= now - SIGN_IN_TIME)
            )
            conn.execute(
                insert(oidc_sign_ins).values(
                    token_hash=_hash(token),
                    state=state,
                    nonce=nonce,
                    code_verifier=verifier,
                    redirect_uri=redirect_uri,
                    started_at=now,
                )
            )

    def _take(self, token: str, now: datetime) -> Any:
        """The browser's sign-in under way, removed: a return is answered once."""
        if not token or len(token) > 100:
            return None
        with self.engine.begin() as conn:
            where = oidc_sign_ins.c.token_hash == _hash(token)
            row = conn.execute(select(oidc_sign_ins).where(where)).first()
            conn.execute(delete(oidc_sign_ins).where(where))
        if row is None or now - _utc(row.started_at) >= SIGN_IN_TIME:
            return None
        return row

    # Coming back ----------------------------------------------------------------------------
    async def arrive(self, token: str, params: Mapping[str, str], now: datetime) -> OidcOutcome:
        """The provider's answer at the callback (`params`: its query), for the browser whose
        sign-in cookie holds `token`."""
        started = await asyncio.to_thread(self._take, token, now)
        state = params.get("state", "")
        if started is None or not hmac.compare_digest(state.encode(), started.state.encode()):
            return StaleSignIn()
        if "error" in params:  # the person declined, or the provider refused them
            log.warning("the OpenID Connect provider answered %s", params["error"][:100])
            return ProviderFailed(f"统一身份认证未完成登录（{params['error'][:64]}），请重新登录。")
        if "iss" in params and params["iss"] != self.config.issuer:  # RFC 9207 (mix-up)
            return TokenRefused("登录结果并非来自本系统配置的统一身份认证，请重新登录。")
        code = params.get("code")
        if not code:
            return ProviderFailed("统一身份认证未返回授权码，请重新登录。")
        try:
            tokens = await self._exchange(code, started)
            claims = await self._verified(tokens, started.nonce, now)
            fields = account_fields(claims, self.config.claims, self.config.role_map)
            admitted = await asyncio.to_thread(
                self.administration.admit, fields, self.config.provider
            )
        except ProviderError as error:
            log.warning("OpenID Connect sign-in failed: %s", error)
            return error.outcome
        except TokenCheckFailed as error:
            log.warning("OpenID Connect ID token refused: %s", error)
            return TokenRefused(f"统一身份认证的身份令牌{error.in_chinese}，请重新登录。")
        except (ClaimRefused, AccountError) as error:
            log.warning("OpenID Connect claims refused: %s", error)
            return ClaimsRefused(error.in_chinese)
        match admitted:
            case Account():
                return SignedIn(admitted)
            case Pending():
                return AwaitingApproval(fields["role"])
            case Disabled():
                return admitted

    async def _exchange(self, code: str, started: Any) -> dict[str, Any]:
        """The code for the tokens, proving with the verifier that this is the browser that set
        out (PKCE), authenticated with the client secret as the provider accepts it."""
        metadata = await self.metadata()
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = (
            "client_secret_post"
            if "client_secret_basic" not in methods and "client_secret_post" in methods
            else "client_secret_basic"
        )
        client = AsyncOAuth2Client(
            self.config.client_id,
            self.config.client_secret,
            token_endpoint_auth_method=method,
            redirect_uri=started.redirect_uri,
            transport=self.transport,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        try:
            async with client:
                tokens = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=started.code_verifier,
                )
        except OAuthError as error:
            raise ProviderError(
                f"the token endpoint refused the code: {error.error}",
                ProviderFailed("统一身份认证拒绝了本次登录（授权码无效或已使用），请重新登录。"),
            ) from None
        except (httpx2.HTTPError, ValueError) as error:
            raise ProviderError(f"the token endpoint: {error}") from None
        if not isinstance(tokens.get("id_token"), str):
            raise ProviderError(
                "the token endpoint sent no ID token",
                ProviderFailed("统一身份认证未返回身份令牌，请重新登录。"),
            )
        return dict(tokens)

    async def _verified(self, tokens: dict[str, Any], nonce: str, now: datetime) -> dict[str, Any]:
        """The ID token's claims, once its signature verifies with one of the provider's keys
        and its iss, aud, exp, iat, nonce (and at_hash, azp if present) are right."""
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in offered if alg in SIGNATURE_ALGORITHMS]
        id_token = tokens["id_token"]
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:  # a key published since the keys were read
                decoded = jwt.decode(
                    id_token, await self._key_set(again=True), algorithms=algorithms
                )
        except (BadSignatureError, InvalidKeyIdError) as error:
            raise TokenCheckFailed(f"signature: {error}", "签名无效") from None
        except (JoseError, ValueError) as error:
            raise TokenCheckFailed(f"not a usable JWT: {error}", "无法解析") from None
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": self.config.issuer},
                "aud": {"essential": True, "value": self.config.client_id},
            },
            {
                "nonce": nonce,
                "client_id": self.config.client_id,
                "access_token": tokens.get("access_token"),
            },
        )
        try:
            claims.validate(now=int(now.timestamp()), leeway=CLOCK_LEEWAY_SECONDS)
        except ExpiredTokenError:
            raise TokenCheckFailed("expired", CLAIM_CHECKS["exp"]) from None
        except MissingClaimError as error:
            raise TokenCheckFailed(f"missing {error.claim}", f"缺少 {error.claim}") from None
        except InvalidClaimError as error:
            reason = CLAIM_CHECKS.get(error.claim, f"的 {error.claim} 有误")
            raise TokenCheckFailed(f"invalid {error.claim}: {error}", reason) from None
        except JoseError as error:
            raise TokenCheckFailed(f"{type(error).__name__}: {error}", "未通过校验") from None
        return dict(claims)
