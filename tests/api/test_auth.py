"""Authentication and authorisation over HTTP: the token endpoint, the JWTs it issues, every way
a token is refused, key rotation, what each role may call and see, recording permits, the
per-client rate limit and the security headers on API answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from domain.codes import make_uscc
from service.access import tokens as tokens_module
from service.access.tables import signing_keys
from service.access.tokens import InvalidToken
from tests.builders import (
    AUTHORITY_CODE,
    OTHER_AUTHORITY_CODE,
    enterprise,
    individual,
    penalty,
    penalty_file,
    penalty_file_row,
    uscc,
)

pytestmark = pytest.mark.api
FOREIGN_AUTHORITY_CODE = make_uscc("11410100MB0000009")
ROLE_SCOPE = {
    "recorder": "credit:read credit:record",
    "agency": "credit:read",
    "auditor": "credit:audit credit:read",
    "admin": "credit:admin",
}
ANY_SUBJECT = "/v1/subjects/0b6f3c4e-8d3a-4f57-9a8e-2f1d3c4b5a69/status"


# Helpers --------------------------------------------------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_for(settings, client_id: str = "test-agency", **changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": client_id,
        "client_id": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + settings.token_ttl_seconds,
        "jti": uuid.uuid4().hex,
        "scope": "credit:read",
    }
    return {**claims, **changes}


def signed(services, claims: dict, *, kid: str | None = None, key=None) -> str:
    active_kid, active_key = services.keys.active()
    return jwt.encode(
        claims,
        key or active_key,
        algorithm="EdDSA",
        headers={"kid": kid or active_kid, "typ": "at+jwt"},
    )


def hs256(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def flip_middle(segment: str) -> str:
    """Change one character in the middle of a base64url segment (never the last, whose low
    bits may be padding that decodes to the same bytes)."""
    i = len(segment) // 2
    return segment[:i] + ("A" if segment[i] != "A" else "B") + segment[i + 1 :]


async def token_response(http: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await http.post("/oauth/token", data={"grant_type": "client_credentials", **form})


async def register(http, headers, body=None) -> dict:
    response = await http.post("/v1/subjects", json=body or enterprise(), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def record(http, headers, subject_id: str, body: dict) -> dict:
    response = await http.post(f"/v1/subjects/{subject_id}/events", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def assert_unauthorised(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unauthorised")
    assert response.headers["www-authenticate"].startswith("Bearer")


def penalty_csv(*authority_codes: str) -> bytes:
    """A 双公示 penalty file with one row per authority code (rows start on line 2)."""
    return penalty_file(
        [
            penalty_file_row(100 + n, CF_WSH=f"郑交执罚〔2026〕{n:04d}号", CF_CFJGDM=code)
            for n, code in enumerate(authority_codes, start=1)
        ]
    )


# 1. The token endpoint ------------------------------------------------------------------------
async def test_client_credentials_in_the_form_give_a_bearer_token(anonymous, services, settings):
    client, secret = services.clients.create(
        "x-recorder",
        "recorder",
        "某局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport"],
    )
    response = await token_response(anonymous, client_id=client.client_id, client_secret=secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert body["scope"] == "credit:read credit:record"
    assert response.headers["cache-control"] == "no-store"
    # and the token works
    batch = await anonymous.post(
        "/v1/status:batch", json={"codes": [uscc(1)]}, headers=bearer(body["access_token"])
    )
    assert batch.status_code == 200, batch.text


async def test_client_credentials_over_http_basic_give_a_token_with_the_roles_scopes(
    anonymous, services, settings
):
    for role, scope in ROLE_SCOPE.items():
        grants = (
            {"authority_codes": [AUTHORITY_CODE], "sectors": ["road_transport"]}
            if role == "recorder"
            else {}
        )
        client, secret = services.clients.create(
            f"x-{role}", role, "某局", AUTHORITY_CODE, **grants
        )
        response = await anonymous.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, secret),
        )
        assert response.status_code == 200, (role, response.text)
        body = response.json()
        assert (body["token_type"], body["scope"]) == ("Bearer", scope), role
        assert body["expires_in"] == settings.token_ttl_seconds
        assert response.headers["cache-control"] == "no-store"
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["scope"] == scope


async def test_a_wrong_secret_an_unknown_client_and_a_disabled_client_get_the_same_401(
    anonymous, services
):
    client, secret = services.clients.create("x-agency", "agency", "某局", AUTHORITY_CODE)
    gone, gone_secret = services.clients.create("x-gone", "agency", "某局", AUTHORITY_CODE)
    services.clients.disable(gone.client_id)
    answers = [
        await token_response(anonymous, client_id=client.client_id, client_secret=secret + "x"),
        await token_response(anonymous, client_id="x-nobody", client_secret=secret),
        await token_response(anonymous, client_id=gone.client_id, client_secret=gone_secret),
    ]
    for response in answers:
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["www-authenticate"].startswith("Basic")
    # nothing tells a wrong secret from an unknown or a disabled client
    assert answers[0].json() == answers[1].json() == answers[2].json()
    wrong_basic = await anonymous.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, "nope")
    )
    assert wrong_basic.status_code == 401
    assert wrong_basic.json() == answers[0].json()


async def test_a_password_grant_is_an_unsupported_grant_type(anonymous, services):
    client, secret = services.clients.create("x-agency", "agency", "某局", AUTHORITY_CODE)
    response = await anonymous.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": client.client_id,
            "password": secret,
            "client_id": client.client_id,
            "client_secret": secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert "access_token" not in response.json()


async def test_a_token_request_without_a_grant_type_is_an_oauth_invalid_request(anonymous):
    response = await anonymous.post("/oauth/token", data={"client_id": "x-agency"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"  # RFC 6749, not problem+json
    assert response.json()["error"] == "invalid_request"


async def test_an_unknown_client_id_of_any_shape_is_an_invalid_client(anonymous):
    for client_id in ("no-such-client", "NUL\x00id", "x" * 300):
        response = await anonymous.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "s"},
        )
        assert response.status_code == 401, client_id
        assert response.json()["error"] == "invalid_client"


async def test_a_scope_the_role_lacks_is_an_invalid_scope(anonymous, services):
    client, secret = services.clients.create("x-agency", "agency", "某局", AUTHORITY_CODE)
    response = await token_response(
        anonymous, client_id=client.client_id, client_secret=secret, scope="credit:record"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "access_token" not in response.json()
    greedy = await token_response(
        anonymous,
        client_id=client.client_id,
        client_secret=secret,
        scope="credit:read credit:admin",
    )
    assert greedy.status_code == 400
    assert greedy.json()["error"] == "invalid_scope"


async def test_a_narrower_scope_is_granted_and_limits_what_the_token_may_do(anonymous, services):
    client, secret = services.clients.create(
        "x-recorder",
        "recorder",
        "某局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport"],
    )
    response = await token_response(
        anonymous, client_id=client.client_id, client_secret=secret, scope="credit:read"
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "credit:read"
    token = response.json()["access_token"]
    write = await anonymous.post("/v1/subjects", json=enterprise(), headers=bearer(token))
    assert write.status_code == 403, write.text
    assert write.json()["type"].endswith("/insufficient-scope")
    read = await anonymous.post(
        "/v1/status:batch", json={"codes": [uscc(1)]}, headers=bearer(token)
    )
    assert read.status_code == 200, read.text


# 2. The issued JWT ----------------------------------------------------------------------------
async def test_the_access_token_is_an_eddsa_at_jwt_with_rfc_9068_claims(
    anonymous, services, settings
):
    client, secret = services.clients.create("x-agency", "agency", "某局", AUTHORITY_CODE)
    before = int(time.time())
    response = await token_response(anonymous, client_id=client.client_id, client_secret=secret)
    token = response.json()["access_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    jwks = await anonymous.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    keys = jwks.json()["keys"]
    assert header["kid"] in [k["kid"] for k in keys]
    published = next(k for k in keys if k["kid"] == header["kid"])
    assert (published["kty"], published["crv"], published["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert all("d" not in k for k in keys)  # no private key material is published
    assert claims["iss"] == settings.token_issuer
    assert claims["aud"] == settings.token_audience
    assert claims["sub"] == claims["client_id"] == "x-agency"
    assert claims["exp"] - claims["iat"] == settings.token_ttl_seconds
    assert before <= claims["iat"] <= int(time.time())
    assert claims["jti"]
    assert claims["scope"] == "credit:read"
    again = await token_response(anonymous, client_id=client.client_id, client_secret=secret)
    assert (
        jwt.decode(again.json()["access_token"], options={"verify_signature": False})["jti"]
        != claims["jti"]
    )


# 3. Refused tokens ----------------------------------------------------------------------------
def agency_token(services) -> str:
    return services.tokens.issue(services.clients.get("test-agency")).access_token


def _tampered_payload(services, settings) -> str:
    head, payload, signature = agency_token(services).split(".")
    return f"Bearer {head}.{flip_middle(payload)}.{signature}"


def _escalated_payload(services, settings) -> str:
    """The agency's own token with credit:record written into its claims, signature kept."""
    token = agency_token(services)
    head, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["scope"] = "credit:read credit:record credit:audit"
    return f"Bearer {head}.{b64json(claims)}.{signature}"


def _tampered_signature(services, settings) -> str:
    head, payload, signature = agency_token(services).split(".")
    return f"Bearer {head}.{payload}.{flip_middle(signature)}"


def _alg_none(services, settings) -> str:
    kid, _ = services.keys.active()
    header = {"alg": "none", "typ": "at+jwt", "kid": kid}
    return f"Bearer {b64json(header)}.{b64json(claims_for(settings))}."


def _hs256_with(public_format: str) -> Callable:
    def build(services, settings) -> str:
        kid, private = services.keys.active()
        public = private.public_key()
        if public_format == "raw":
            secret = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            secret = public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
        return f"Bearer {hs256(header, claims_for(settings), secret)}"

    return build


def _disabled_after_issue(services, settings) -> str:
    client, _ = services.clients.create("x-leaver", "agency", "某局", AUTHORITY_CODE)
    token = services.tokens.issue(client).access_token
    services.clients.disable(client.client_id)
    return f"Bearer {token}"


REFUSED: dict[str, Callable] = {
    "no-authorization-header": lambda services, settings: None,
    "basic-scheme": lambda services, settings: (
        "Basic " + base64.b64encode(b"test-agency:secret").decode()
    ),
    "bearer-without-token": lambda services, settings: "Bearer ",
    "garbage": lambda services, settings: "Bearer not.a.jwt",
    "expired": lambda services, settings: (
        "Bearer "
        + services.tokens.issue(
            services.clients.get("test-agency"), now=time.time() - 3600
        ).access_token
    ),
    "tampered-payload": _tampered_payload,
    "escalated-scope-in-payload": _escalated_payload,
    "tampered-signature": _tampered_signature,
    "wrong-audience": lambda services, settings: (
        "Bearer " + signed(services, claims_for(settings, aud="another-api"))
    ),
    "wrong-issuer": lambda services, settings: (
        "Bearer " + signed(services, claims_for(settings, iss="urn:somebody-else"))
    ),
    "alg-none": _alg_none,
    "hs256-keyed-with-raw-public-key": _hs256_with("raw"),
    "hs256-keyed-with-pem-public-key": _hs256_with("pem"),
    "sub-differs-from-client-id": lambda services, settings: (
        "Bearer " + signed(services, claims_for(settings, sub="test-recorder"))
    ),
    "missing-jti": lambda services, settings: (
        "Bearer " + signed(services, {k: v for k, v in claims_for(settings).items() if k != "jti"})
    ),
    "unknown-kid": lambda services, settings: (
        "Bearer " + signed(services, claims_for(settings), kid=uuid.uuid4().hex)
    ),
    "client-disabled-after-issue": _disabled_after_issue,
    "foreign-key-claiming-a-known-kid": lambda services, settings: (
        "Bearer " + signed(services, claims_for(settings), key=Ed25519PrivateKey.generate())
    ),
}


@pytest.mark.parametrize("build", REFUSED.values(), ids=REFUSED.keys())
async def test_refused_tokens_get_401_with_a_bearer_challenge(
    anonymous, services, settings, role_headers, build
):
    authorization = build(services, settings)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await anonymous.get(ANY_SUBJECT, headers=headers)
    assert_unauthorised(response)


async def test_the_hand_built_tokens_are_accepted_when_nothing_is_wrong_with_them(
    anonymous, services, settings, role_headers
):
    """The control for the refusals above: the same construction with the right claims and
    the active key passes authentication (and the lookup then finds no such subject)."""
    for token in (agency_token(services), signed(services, claims_for(settings))):
        response = await anonymous.get(ANY_SUBJECT, headers=bearer(token))
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("/subject-not-found")


# 4. Key rotation ------------------------------------------------------------------------------
async def test_rotation_keeps_earlier_tokens_valid_and_signs_new_ones_with_a_new_key(
    anonymous, services, role_headers
):
    agency = services.clients.get("test-agency")
    before = services.tokens.issue(agency).access_token
    new_kid = services.keys.rotate()
    after = services.tokens.issue(agency).access_token
    old_kid = jwt.get_unverified_header(before)["kid"]
    assert jwt.get_unverified_header(after)["kid"] == new_kid != old_kid
    for token in (before, after):
        response = await anonymous.post(
            "/v1/status:batch", json={"codes": [uscc(1)]}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
    kids = [k["kid"] for k in (await anonymous.get("/.well-known/jwks.json")).json()["keys"]]
    assert set(kids) >= {old_kid, new_kid}


def _retire_long_ago(services, settings, kid: str) -> None:
    """Simulate the passing of time: the key was retired more than a token lifetime ago."""
    long_ago = datetime.now(UTC) - timedelta(seconds=2 * settings.token_ttl_seconds)
    with services.keys.engine.begin() as conn:
        conn.execute(
            update(signing_keys).where(signing_keys.c.kid == kid).values(retired_at=long_ago)
        )


async def test_a_key_retired_longer_than_a_token_lifetime_is_unpublished_and_refused(
    anonymous, services, settings, role_headers
):
    old_kid, old_key = services.keys.active()
    services.keys.rotate()
    _retire_long_ago(services, settings, old_kid)
    kids = [k["kid"] for k in (await anonymous.get("/.well-known/jwks.json")).json()["keys"]]
    assert old_kid not in kids
    leaked = signed(services, claims_for(settings), kid=old_kid, key=old_key)
    assert_unauthorised(await anonymous.get(ANY_SUBJECT, headers=bearer(leaked)))


async def test_a_cached_key_retired_longer_than_a_token_lifetime_is_refused(
    anonymous, services, settings, role_headers
):
    old_kid, old_key = services.keys.active()
    warm = await anonymous.post(  # this process verifies (and caches) the old key
        "/v1/status:batch", json={"codes": [uscc(1)]}, headers=role_headers["agency"]
    )
    assert warm.status_code == 200, warm.text
    services.keys.rotate()
    _retire_long_ago(services, settings, old_kid)
    kids = [k["kid"] for k in (await anonymous.get("/.well-known/jwks.json")).json()["keys"]]
    assert old_kid not in kids
    leaked = signed(services, claims_for(settings), kid=old_kid, key=old_key)
    assert_unauthorised(await anonymous.get(ANY_SUBJECT, headers=bearer(leaked)))


async def test_a_token_answered_from_memory_is_refused_once_its_key_is_retired(
    anonymous, services, settings, role_headers
):
    headers = role_headers["agency"]
    kid = jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"]
    for _ in range(2):  # verified, then answered from memory
        assert (await anonymous.get(ANY_SUBJECT, headers=headers)).status_code == 404
    services.keys.rotate()
    _retire_long_ago(services, settings, kid)
    assert_unauthorised(await anonymous.get(ANY_SUBJECT, headers=headers))


def test_a_remembered_token_is_refused_once_it_expires(services, settings, role_headers):
    client = services.clients.get("test-agency")
    # A few seconds of life, so a busy machine still verifies it before it lapses.
    token = services.tokens.issue(client, now=time.time() - settings.token_ttl_seconds + 4)
    verified = services.tokens.verify(token.access_token)
    assert services.tokens.verify(token.access_token) is verified  # from memory
    time.sleep(max(0.0, verified.expires_at - time.time()) + 0.05)
    with pytest.raises(InvalidToken, match="expired"):
        services.tokens.verify(token.access_token)


def test_the_memory_of_verified_tokens_is_bounded(services, role_headers, monkeypatch):
    monkeypatch.setattr(tokens_module, "VERIFIED_CACHE_SIZE", 2)
    client = services.clients.get("test-agency")
    issued = [services.tokens.issue(client).access_token for _ in range(3)]
    for token in issued:
        services.tokens.verify(token)
    assert list(services.tokens._verified) == issued[1:]


# 5. Role x endpoint matrix --------------------------------------------------------------------
ROLES = ("recorder", "agency", "auditor", "admin", "credit_office", None)
NO_ROLE: dict[str | None, int] = {"agency": 403, "auditor": 403, "admin": 403, "credit_office": 403}


def _write(recorder_201: int = 201) -> dict:
    return {**NO_ROLE, "recorder": recorder_201, None: 401}


READ = {**NO_ROLE, "recorder": 200, "agency": 200, "auditor": 200, None: 401}
EVERYONE = dict.fromkeys(ROLES, 200)
MATRIX = [
    ("POST", "/v1/subjects", lambda s: {"json": enterprise(2)}, _write()),
    ("POST", "/v1/subjects/{id}/events", lambda s: {"json": penalty("M-2")}, _write()),
    (
        "POST",
        "/v1/imports",
        lambda s: {"files": {"file": ("batch.csv", penalty_csv(AUTHORITY_CODE), "text/csv")}},
        _write(200),
    ),
    ("GET", "/v1/subjects/{id}/status", lambda s: {"params": s["read"]}, READ),
    (
        "POST",
        "/v1/subjects:lookup",
        lambda s: {"json": {"code": uscc(1)}, "params": s["read"]},
        READ,
    ),
    (
        "POST",
        "/v1/status:batch",
        lambda s: {"json": {"codes": [uscc(1)]}, "params": s["read"]},
        READ,
    ),
    ("GET", "/v1/subjects/{id}/records", lambda s: {"params": s["read"]}, READ),
    (
        "GET",
        "/v1/subjects/{id}/records?include=all",
        lambda s: {"params": {**s["read"], "include": "all"}},
        {**NO_ROLE, "recorder": 403, "auditor": 200, None: 401},
    ),
    # The credit office watches every agency's deadlines; an agency that decides no case has none.
    (
        "GET",
        "/v1/cases?overdue=true",
        lambda s: {"params": {"overdue": "true"}},
        {**NO_ROLE, "recorder": 200, "auditor": 200, "credit_office": 200, None: 401},
    ),
    ("GET", "/health", lambda s: {}, EVERYONE),
    ("GET", "/.well-known/jwks.json", lambda s: {}, EVERYONE),
]


@pytest.mark.parametrize(
    ("method", "path", "request_options", "expected"),
    MATRIX,
    ids=[f"{m} {p}" for m, p, _, _ in MATRIX],
)
async def test_what_each_role_may_call(
    anonymous, role_headers, method, path, request_options, expected
):
    recorder = role_headers["recorder"]
    subject = await register(anonymous, recorder, enterprise(1))
    written = await record(anonymous, recorder, subject["subject_id"], penalty("M-1"))
    setup = {"read": {"min_position": written["position"]}}
    url = path.split("?")[0].replace("{id}", subject["subject_id"])
    got = {}
    for role in ROLES:
        headers = role_headers[role] if role else {}
        response = await anonymous.request(method, url, headers=headers, **request_options(setup))
        got[role] = response.status_code
        if response.status_code == 401:
            assert response.json()["type"].endswith("/unauthorised")
        elif response.status_code == 403:
            assert response.json()["type"].endswith("/insufficient-scope"), response.text
    assert got == expected


# 6. What each role sees -----------------------------------------------------------------------
async def test_each_role_sees_the_id_number_masked_and_agencies_only_published_records(
    anonymous, role_headers
):
    recorder = role_headers["recorder"]
    body = individual(5)
    code = body["code"]
    masked = code[:6] + "********" + code[-4:]
    subject = await register(anonymous, recorder, body)
    sid = subject["subject_id"]
    shown = await record(anonymous, recorder, sid, penalty("P-GENERAL", severity="general"))
    hidden = await record(anonymous, recorder, sid, penalty("P-MINOR", severity="minor"))
    wait = {"min_position": hidden["position"]}
    for role in ("recorder", "agency", "auditor"):
        headers = role_headers[role]
        status = await anonymous.get(f"/v1/subjects/{sid}/status", params=wait, headers=headers)
        lookup = await anonymous.post(
            "/v1/subjects:lookup", json={"code": code}, params=wait, headers=headers
        )
        batch = await anonymous.post(
            "/v1/status:batch", json={"codes": [code]}, params=wait, headers=headers
        )
        records = await anonymous.get(f"/v1/subjects/{sid}/records", params=wait, headers=headers)
        for response in (status, lookup, batch, records):
            assert response.status_code == 200, (role, response.text)
            assert code not in response.text, role
        assert status.json()["code_masked"] == masked, role
        assert lookup.json()["code_masked"] == masked, role
        assert batch.json()["results"][0]["code_masked"] == masked, role
        assert batch.json()["results"][0]["status"]["code_masked"] == masked, role
        assert masked in status.text
        ids = {r["record_id"] for r in records.json()["records"]}
        assert shown["record_id"] in ids, role
        assert hidden["record_id"] not in ids, role  # a minor penalty is never published
    audit = await anonymous.get(
        f"/v1/subjects/{sid}/records",
        params={**wait, "include": "all"},
        headers=role_headers["auditor"],
    )
    assert audit.status_code == 200, audit.text
    assert code not in audit.text
    states = {r["record_id"]: r["publication"]["state"] for r in audit.json()["records"]}
    assert states == {shown["record_id"]: "published", hidden["record_id"]: "not_published"}


# 7. Recording permits -------------------------------------------------------------------------
async def test_a_penalty_for_an_authority_the_recorder_does_not_hold_is_forbidden(
    anonymous, role_headers, services
):
    recorder = role_headers["recorder"]
    subject = await register(anonymous, recorder)
    sid = subject["subject_id"]
    version = services.ledger.repository.get(UUID(sid)).version
    response = await anonymous.post(
        f"/v1/subjects/{sid}/events",
        json=penalty("F-1", authority_code=FOREIGN_AUTHORITY_CODE),
        headers=recorder,
    )
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("/forbidden")
    assert services.ledger.repository.get(UUID(sid)).version == version
    # its other authority code is one it holds
    await record(anonymous, recorder, sid, penalty("F-2", authority_code=OTHER_AUTHORITY_CODE))


async def test_registering_a_subject_outside_the_recorders_sectors_is_forbidden(
    anonymous, role_headers, services
):
    head = services.ledger.recorder.max_notification_id()
    response = await anonymous.post(
        "/v1/subjects",
        json=enterprise(3, sectors=["waterway_transport"]),
        headers=role_headers["recorder"],
    )
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("/forbidden")
    assert services.ledger.recorder.max_notification_id() == head


async def test_appending_to_a_subject_in_another_sector_is_forbidden(
    anonymous, role_headers, services
):
    waterway, _ = services.clients.create(
        "x-waterway",
        "recorder",
        "某港航局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["waterway_transport"],
    )
    other = bearer(services.tokens.issue(waterway).access_token)
    subject = await register(anonymous, other, enterprise(4, sectors=["waterway_transport"]))
    sid = subject["subject_id"]
    version = services.ledger.repository.get(UUID(sid)).version
    response = await anonymous.post(
        f"/v1/subjects/{sid}/events", json=penalty("W-1"), headers=role_headers["recorder"]
    )
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("/forbidden")
    assert services.ledger.repository.get(UUID(sid)).version == version
    await record(anonymous, other, sid, penalty("W-2"))  # its own recorder may


async def test_an_import_row_for_another_authority_is_rejected_and_the_others_accepted(
    anonymous, role_headers
):
    data = penalty_csv(AUTHORITY_CODE, FOREIGN_AUTHORITY_CODE, OTHER_AUTHORITY_CODE)
    response = await anonymous.post(
        "/v1/imports",
        files={"file": ("batch.csv", data, "text/csv")},
        headers=role_headers["recorder"],
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows_read"], report["accepted"]) == (3, 2)
    assert [r["line"] for r in report["rejected"]] == [3]
    assert "CF_CFJGDM" in report["rejected"][0]["reason"]  # the authority column, named
    assert "无权为该机关记录" in report["rejected"][0]["reason"]
    found = await anonymous.post(
        "/v1/subjects:lookup", json={"code": uscc(102)}, headers=role_headers["agency"]
    )
    assert found.status_code == 404  # the rejected row's subject was not registered


# 8. Rate limiting -----------------------------------------------------------------------------
async def test_a_client_over_its_rate_gets_429_and_other_clients_are_unaffected(
    settings, services, role_headers
):
    from api.app import create_app

    limited = settings.model_copy(update={"rate_limit_burst": 2, "rate_limit_per_second": 0.01})
    app = create_app(limited, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as http:
            agency, auditor = role_headers["agency"], role_headers["auditor"]
            batch = {"codes": [uscc(1)]}
            for _ in range(2):
                ok = await http.post("/v1/status:batch", json=batch, headers=agency)
                assert ok.status_code == 200, ok.text
            refused = await http.post("/v1/status:batch", json=batch, headers=agency)
            assert refused.status_code == 429, refused.text
            assert refused.json()["type"].endswith("/rate-limited")
            assert int(refused.headers["retry-after"]) >= 1
            other = await http.post("/v1/status:batch", json=batch, headers=auditor)
            assert other.status_code == 200, other.text
            still = await http.get(ANY_SUBJECT, headers=agency)
            assert still.status_code == 429


# 9. Security headers --------------------------------------------------------------------------
async def test_api_answers_carry_the_security_headers(anonymous, role_headers):
    recorder = role_headers["recorder"]
    subject = await register(anonymous, recorder)
    response = await anonymous.get(
        f"/v1/subjects/{subject['subject_id']}/status",
        params={"min_position": subject["position"]},
        headers=role_headers["agency"],
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    refused = await anonymous.get(ANY_SUBJECT)
    assert refused.status_code == 401
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert refused.headers["cache-control"] == "no-store"


async def test_a_missing_scope_says_which_in_www_authenticate(anonymous, role_headers):
    response = await anonymous.post(
        "/v1/subjects", json=enterprise(), headers=role_headers["agency"]
    )
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="credit:record"'
    )


async def test_cors_is_off_unless_origins_are_configured(anonymous, settings, services):
    from api.app import create_app

    preflight = {"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"}
    closed = await anonymous.options("/v1/subjects:lookup", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    app = create_app(
        settings.model_copy(update={"cors_origins": ["https://portal.example"]}),
        services=services,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            opened = await http.options("/v1/subjects:lookup", headers=preflight)
    assert opened.headers["access-control-allow-origin"] == "https://portal.example"


async def test_admins_read_the_policy_versions_and_others_may_not(anonymous, role_headers):
    versions = await anonymous.get("/v1/admin/policy", headers=role_headers["admin"])
    assert [v["id"] for v in versions.json()] == ["2019-527", "2023-58", "2026-36"]
    assert versions.json()[1]["supervision"][-1] == {
        "tier": "seriously_dishonest",
        "sampling_ratio": "0.8",
    }
    denied = await anonymous.get("/v1/admin/policy", headers=role_headers["auditor"])
    assert denied.status_code == 403
