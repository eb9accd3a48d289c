"""Smaller holes an outside attack found, each replayed (issue 12, item 6): X-Forwarded-For from
any loopback peer, unknown client ids at the token endpoint each costing a scrypt, headers and
token claims that answered 500, a new client refused as "disabled". Every refusal is checked
for its exact answer and for leaving the store as it was."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import event, text

from api.app import create_app
from tests.builders import AUTHORITY_CODE, enterprise, penalty
from tests.conftest import ON_POSTGRESQL_ALONE

pytestmark = pytest.mark.api
ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "https://credit-transport.example/problems/"
STORE = ("api_clients", "access_log", "cases", "signing_keys")
UNKNOWN_CASE = {"case_number": "XF20261120999999", "query_code": "ZZZZ9999"}
LOOPBACK = ("127.0.0.1", 40000)


def stored(services) -> dict[str, int]:
    """The log's head and the rows of every other table an attack here could write to (the
    first signing key is made first: it is created on first use, by any token issued)."""
    services.keys.active()
    with services.write_engine.connect() as conn:
        rows = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in STORE}
    return {"log_head": services.ledger.recorder.max_notification_id() or 0, **rows}


class Served:
    """Makes HTTP clients into one app, each from a TCP peer address of its own; `after` holds
    the store as the app left it (read before its lifespan closes the services)."""

    def __init__(self, app):
        self.app = app
        self.opened: list[httpx.AsyncClient] = []
        self.after: dict[str, int] = {}

    def __call__(self, peer: tuple[str, int] = LOOPBACK) -> httpx.AsyncClient:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=peer),
            base_url="http://credit.test",
        )
        self.opened.append(http)
        return http


@asynccontextmanager
async def serving(settings, services, **changes) -> AsyncIterator[Served]:
    """The app with these settings changed (and validated, as from the environment), its
    lifespan running."""
    changed = type(settings).model_validate({**settings.model_dump(), **changes})
    app = create_app(changed, services=services)
    async with app.router.lifespan_context(app):
        served = Served(app)
        try:
            yield served
        finally:
            for http in served.opened:
                await http.aclose()
            served.after = stored(services)


def assert_problem(response: httpx.Response, status: int, problem: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM + problem


# 1. X-Forwarded-For is believed only from a configured proxy -------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def credit_serve(settings, **settings_env: str) -> Iterator[str]:
    """`credit serve` as an operator starts it, on a free port, with a burst of 3 applicant
    requests per address and these CREDIT_* settings; yields its URL."""
    port = _free_port()
    env = {
        **os.environ,
        "CREDIT_ENVIRONMENT": "test",
        "CREDIT_DATABASE_URL": settings.database_url,
        "CREDIT_SUBJECT_ID_KEY": settings.subject_id_key.get_secret_value(),
        "CREDIT_CLIENT_SECRET_SCRYPT_N": "2",
        "CREDIT_APPLICANT_BURST": "3",
        "CREDIT_APPLICANT_RATE_PER_SECOND": "0.001",
    }
    env.pop("CREDIT_TRUSTED_PROXIES", None)
    env.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn's own default (loopback) is what is tested
    env.update(settings_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None  # piped
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"credit serve did not start: {process.stderr.read()!r}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(20)


@pytest.fixture
def served(settings) -> Iterator[str]:
    with credit_serve(settings) as url:
        yield url


@ON_POSTGRESQL_ALONE
def test_credit_serve_ignores_forwarded_for_from_a_loopback_peer(served, services):
    """The attack: a caller on the same host sends a new X-Forwarded-For with every guess of a
    query code, and uvicorn (trusting loopback by default) counted each against a new address."""
    before = stored(services)
    answers = []
    with httpx.Client(base_url=served, timeout=10) as http:
        for n in range(5):
            spoofed = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            answers.append(http.post("/v1/cases:progress", json=UNKNOWN_CASE, headers=spoofed))
        page = http.post(
            "/cases/progress",
            data=UNKNOWN_CASE,
            headers={"X-Forwarded-For": "203.0.113.99"},
        )
    assert [a.status_code for a in answers] == [404, 404, 404, 429, 429]
    assert_problem(answers[0], 404, "case-not-found")
    assert_problem(answers[3], 429, "rate-limited")
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert page.status_code == 429  # the progress page counts against the same address
    assert "操作过于频繁" in page.text
    assert stored(services) == before


@ON_POSTGRESQL_ALONE
def test_credit_serve_behind_a_trusted_proxy_limits_the_forwarded_address(settings, services):
    before = stored(services)
    with (
        credit_serve(settings, CREDIT_TRUSTED_PROXIES='["127.0.0.1", "::1"]') as url,
        httpx.Client(base_url=url, timeout=10) as proxy,
    ):

        def progress(forwarded: str) -> int:
            headers = {"X-Forwarded-For": forwarded}
            return proxy.post("/v1/cases:progress", json=UNKNOWN_CASE, headers=headers).status_code

        one_client = [progress("198.51.100.7") for _ in range(4)]
        others = [progress(f"198.51.100.{n + 10}") for n in range(3)]
    assert one_client == [404, 404, 404, 429]
    assert others == [404, 404, 404]
    assert stored(services) == before


async def test_without_trusted_proxies_the_forwarded_address_is_not_used(settings, services):
    async with serving(settings, services, applicant_burst=3) as from_peer:
        http = from_peer()
        statuses = [
            (
                await http.post(
                    "/v1/cases:progress",
                    json=UNKNOWN_CASE,
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                )
            ).status_code
            for n in range(4)
        ]
    assert statuses == [404, 404, 404, 429]


async def test_a_trusted_proxys_forwarded_address_is_the_one_limited(settings, services):
    before = stored(services)
    async with serving(
        settings, services, applicant_burst=2, trusted_proxies=["127.0.0.0/8"]
    ) as from_peer:
        proxy = from_peer()

        async def progress(forwarded: str) -> httpx.Response:
            return await proxy.post(
                "/v1/cases:progress", json=UNKNOWN_CASE, headers={"X-Forwarded-For": forwarded}
            )

        first = [await progress("198.51.100.7") for _ in range(3)]
        # Prepending addresses does not help: the client is the rightmost untrusted one.
        prepended = await progress("192.0.2.1, 198.51.100.7")
        other = await progress("198.51.100.8")
        # A peer that is no proxy has its X-Forwarded-For ignored: its own address counts.
        direct = from_peer(("192.0.2.50", 5000))
        own = [
            await direct.post(
                "/v1/cases:progress",
                json=UNKNOWN_CASE,
                headers={"X-Forwarded-For": f"198.51.100.{n + 20}"},
            )
            for n in range(3)
        ]
    assert [r.status_code for r in first] == [404, 404, 429]
    assert_problem(first[2], 429, "rate-limited")
    assert prepended.status_code == 429
    assert_problem(other, 404, "case-not-found")
    assert [r.status_code for r in own] == [404, 404, 429]
    assert from_peer.after == before


@pytest.mark.parametrize("value", ["*", "10.0.0.1/8", "proxy.internal"])
def test_a_trusted_proxy_must_be_an_address_or_network(settings, value):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        settings.model_validate({**settings.model_dump(), "trusted_proxies": [value]})
    assert [e["loc"] for e in refused.value.errors()] == [("trusted_proxies", 0)]


# 2. The token endpoint: limits per address and per client id before any hash ----------------
@pytest.fixture
def scrypt_calls(monkeypatch) -> list[int]:
    """Counts the scrypt computations from now on (client secrets are checked with it)."""
    import hashlib

    from service.access import secrets

    calls: list[int] = []
    real = hashlib.scrypt

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(secrets.hashlib, "scrypt", counted)
    return calls


def token_form(client_id: str, secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}


async def test_unknown_client_ids_from_one_address_are_limited_before_any_hash(
    settings, services, scrypt_calls
):
    agency, secret = services.clients.create("t-agency", "agency", "某局", AUTHORITY_CODE)
    before = stored(services)
    scrypt_calls.clear()
    async with serving(
        settings, services, token_address_burst=5, token_address_rate_per_second=0.001
    ) as from_peer:
        attacker = from_peer(("198.51.100.66", 1000))
        answers = [
            await attacker.post(
                "/oauth/token", data=token_form(f"x-{uuid.uuid4().hex[:20]}", "guess")
            )
            for _ in range(40)
        ]
        hashed_by_attacker = len(scrypt_calls)
        legitimate = await from_peer(("192.0.2.10", 2000)).post(
            "/oauth/token", data=token_form(agency.client_id, secret)
        )
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 35
    assert answers[0].json()["error"] == "invalid_client"
    limited = answers[5]
    assert limited.json() == {"error": "slow_down", "error_description": "too many token requests"}
    assert 990 <= int(limited.headers["Retry-After"]) <= 1000
    assert limited.headers["Cache-Control"] == "no-store"
    assert hashed_by_attacker == 5  # one decoy hash per request let through, none after
    assert legitimate.status_code == 200, legitimate.text
    assert legitimate.json()["token_type"] == "Bearer"
    assert from_peer.after == before


async def test_one_client_id_from_many_addresses_is_limited_before_any_hash(
    settings, services, scrypt_calls
):
    agency, secret = services.clients.create("t-agency", "agency", "某局", AUTHORITY_CODE)
    before = stored(services)
    scrypt_calls.clear()
    async with serving(
        settings, services, token_client_burst=3, token_client_rate_per_second=0.001
    ) as from_peer:
        guesses = [
            await from_peer((f"198.51.100.{n + 1}", 1000)).post(
                "/oauth/token", data=token_form(agency.client_id, f"guess-{n}")
            )
            for n in range(8)
        ]
        right_secret_too_late = await from_peer(("192.0.2.10", 2000)).post(
            "/oauth/token", data=token_form(agency.client_id, secret)
        )
    assert [g.status_code for g in guesses] == [401] * 3 + [429] * 5
    assert guesses[3].json()["error"] == "slow_down"
    assert right_secret_too_late.status_code == 429
    assert len(scrypt_calls) == 3
    assert from_peer.after == before


# 3. Headers and claims that answered 500 -----------------------------------------------------
@pytest.fixture
async def subject(client) -> str:
    response = await client.post("/v1/subjects", json=enterprise(801))
    assert response.status_code == 201, response.text
    return response.json()["subject_id"]


IF_MATCH_REFUSED = {
    # RFC 9110 §8.8.3: a well-formed entity-tag (obs-text is allowed) that no version carries:
    # the precondition is false, 412 (§13.1.1).
    "superscript-two": (b'"\xb2"', 412, "version-mismatch"),
    "arabic-indic-digit": ('"٣"'.encode(), 412, "version-mismatch"),
    "fullwidth-digits": ('"１"'.encode(), 412, "version-mismatch"),
    "weak-tag": (b'W/"1"', 412, "version-mismatch"),
    "not-a-number": (b'"abc"', 412, "version-mismatch"),
    "beyond-64-bits": (b'"99999999999999999999"', 412, "version-mismatch"),
    "thirty-digits": (b'"' + b"9" * 30 + b'"', 412, "version-mismatch"),
    # Longer than any version could be written: refused by the header's declared length.
    "thousands-of-digits": (b'"' + b"9" * 5000 + b'"', 422, "validation-error"),
    # Not an entity-tag at all: malformed, 400.
    "unquoted": (b"1", 400, "invalid-if-match"),
    "unterminated": (b'"1', 400, "invalid-if-match"),
    "two-tags": (b'"1", "2"', 400, "invalid-if-match"),
    "control-character": (b'"1\x7f"', 400, "invalid-if-match"),
}


@pytest.mark.parametrize("value, status, problem", IF_MATCH_REFUSED.values(), ids=IF_MATCH_REFUSED)
async def test_if_match_that_names_no_version_is_refused_and_writes_nothing(
    client, services, subject, value, status, problem
):
    before = stored(services)
    response = await client.post(
        f"/v1/subjects/{subject}/events", json=penalty("IFM-1"), headers={"If-Match": value}
    )
    assert_problem(response, status, problem)
    assert stored(services) == before


async def test_if_match_with_the_version_or_a_star_writes(client, subject):
    pinned = await client.post(
        f"/v1/subjects/{subject}/events", json=penalty("IFM-2"), headers={"If-Match": '"1"'}
    )
    assert pinned.status_code == 201, pinned.text
    assert pinned.headers["ETag"] == '"2"'
    star = await client.post(
        f"/v1/subjects/{subject}/events", json=penalty("IFM-3"), headers={"If-Match": "*"}
    )
    assert star.status_code == 201, star.text


def forged(services, settings, **changes) -> str:
    """A token signed with the service's own key, with these claims changed."""
    now = int(time.time())
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": "test-agency",
        "client_id": "test-agency",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "scope": "credit:read",
        **changes,
    }
    kid, key = services.keys.active()
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"})


WRONG_CLAIMS = {
    "scope-a-list": {"scope": ["credit:read", "credit:audit"]},
    "scope-a-number": {"scope": 7},
    "client-id-a-list": {"client_id": ["test-agency"], "sub": ["test-agency"]},
    "client-id-an-object": {"client_id": {"id": "test-agency"}, "sub": {"id": "test-agency"}},
    "jti-a-number": {"jti": 12345},
    "exp-a-string": {"exp": str(int(time.time()) + 600)},
    "exp-a-float": {"exp": time.time() + 600.5},
}


@pytest.mark.parametrize("changes", WRONG_CLAIMS.values(), ids=WRONG_CLAIMS)
async def test_a_signed_token_with_claims_of_the_wrong_type_is_401_invalid_token(
    anonymous, services, settings, role_headers, subject, changes
):
    before = stored(services)
    headers = {"Authorization": f"Bearer {forged(services, settings, **changes)}"}
    for _ in range(2):  # the second time, from the verified-token memory if it were kept
        response = await anonymous.get(f"/v1/subjects/{subject}/status", headers=headers)
        assert_problem(response, 401, "unauthorised")
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["detail"].startswith("the access token is not valid")
    assert stored(services) == before


MALFORMED_CREDENTIALS = {
    "basic-superscript": b"Basic \xb2",
    "basic-not-base64": b"Basic ***",
    "basic-not-utf8": b"Basic //79",
}


@pytest.mark.parametrize("value", MALFORMED_CREDENTIALS.values(), ids=MALFORMED_CREDENTIALS)
async def test_malformed_basic_credentials_are_invalid_client(anonymous, services, value):
    before = stored(services)
    response = await anonymous.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": value},
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"] == "Basic"
    assert stored(services) == before


async def test_a_bearer_token_of_non_ascii_bytes_is_401(anonymous, services, subject):
    before = stored(services)
    response = await anonymous.get(
        f"/v1/subjects/{subject}/status", headers={"Authorization": b"Bearer \xb2\xb3.\xb9"}
    )
    assert_problem(response, 401, "unauthorised")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert stored(services) == before


async def _raw_post(app, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple:
    """One request straight into the ASGI app, with headers exactly as given (httpx would set
    its own Content-Length)."""
    sent: list[dict] = []
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": LOOPBACK,
        "server": ("credit.test", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body_out)


async def test_a_content_length_of_thousands_of_digits_is_413(settings, services, role_headers):
    before = stored(services)
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        status, problem = await _raw_post(
            app,
            "/v1/subjects",
            [
                (b"content-type", b"application/json"),
                (b"content-length", b"9" * 5000),
                (b"authorization", role_headers["recorder"]["Authorization"].encode()),
            ],
            json.dumps(enterprise(802)).encode(),
        )
        after = stored(services)
    assert status == 413
    assert problem["type"] == PROBLEM + "payload-too-large"
    assert after == before


# 4. A client created after the directory was read is found at once -------------------------
@pytest.fixture
def caching(settings, clock) -> Iterator[tuple]:
    """Settings and services whose client directory keeps its copy for 60 s."""
    from service.bootstrap import build_services

    cached = type(settings).model_validate({**settings.model_dump(), "client_cache_seconds": 60})
    built = build_services(cached, clock=clock, migrate=False)
    yield cached, built
    built.close_sync()


BATCH = {"codes": [enterprise(1)["code"]]}


async def test_a_new_client_is_served_at_once_with_a_client_cache(caching, role_headers):
    settings, services = caching
    async with serving(settings, services) as from_peer:
        http = from_peer()
        warm = await http.post("/v1/status:batch", json=BATCH, headers=role_headers["agency"])
        assert warm.status_code == 200, warm.text  # the directory now holds every client
        newcomer, _ = services.clients.create("t-newcomer", "agency", "某局", AUTHORITY_CODE)
        token = services.tokens.issue(newcomer).access_token
        at_once = await http.post(
            "/v1/status:batch", json=BATCH, headers={"Authorization": f"Bearer {token}"}
        )
    assert at_once.status_code == 200, at_once.text


async def test_a_disabled_client_is_told_so_not_unknown(anonymous, services, role_headers, caplog):
    before = stored(services)
    services.clients.disable("test-agency")
    with caplog.at_level(logging.WARNING, logger="api.auth"):
        refused = await anonymous.post(
            "/v1/status:batch", json=BATCH, headers=role_headers["agency"]
        )
    assert_problem(refused, 401, "unauthorised")
    assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert refused.json()["detail"] == "this client is disabled"
    assert "client 'test-agency' is disabled" in caplog.text
    assert stored(services) == before


async def test_tokens_naming_an_unknown_client_cost_one_query_per_interval(caching, caplog):
    """A token of a client that is in no row (signed by the service's key: a leaked key, or a
    client deleted by hand) is looked up once, then remembered as unknown for a while."""
    settings, services = caching
    queries: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "api_clients" in statement:
            queries.append(statement)

    before = stored(services)
    token = forged(services, settings, sub="t-ghost", client_id="t-ghost")
    engine = services.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with serving(settings, services) as from_peer:
            http = from_peer()
            with caplog.at_level(logging.WARNING, logger="api.auth"):
                answers = [
                    await http.get(
                        f"/v1/subjects/{uuid.uuid4()}/status",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for _ in range(20)
                ]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    for answer in answers:
        assert_problem(answer, 401, "unauthorised")
        assert answer.json()["detail"] == "this token's client is unknown"
    assert len(queries) == 2  # the whole table once, then the one row; not 20 times
    assert "client 't-ghost' is unknown" in caplog.text
    assert from_peer.after == before


async def test_the_log_tells_unknown_wrong_secret_and_disabled_apart(anonymous, services, caplog):
    """The token endpoint answers the three alike (an outsider learns nothing); the server's
    log says which it was."""
    client, secret = services.clients.create("t-agency", "agency", "某局", AUTHORITY_CODE)
    leaver, leaver_secret = services.clients.create("t-leaver", "agency", "某局", AUTHORITY_CODE)
    services.clients.disable(leaver.client_id)
    before = stored(services)
    attempts = {
        "unknown client 't-nobody'": token_form("t-nobody", "x"),
        "wrong secret for client 't-agency'": token_form(client.client_id, secret + "x"),
        "client 't-leaver' is disabled": token_form(leaver.client_id, leaver_secret),
    }
    bodies = []
    for logged, form in attempts.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="service.access.clients"):
            response = await anonymous.post("/oauth/token", data=form)
        assert response.status_code == 401
        bodies.append(response.json())
        assert [r.getMessage() for r in caplog.records] == [f"token refused: {logged}"]
    assert bodies == [bodies[0]] * 3
    assert bodies[0]["error"] == "invalid_client"
    assert stored(services) == before
