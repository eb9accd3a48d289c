"""Access tokens under the 国密 suite: signed with SM2 (JWS `SM2SM3`), the key published as an
EC/SM2 JWK that gmalg alone verifies the signature with; EdDSA tokens issued before the switch
verify while their key is published and no longer; `none`, HS256 and a token whose `alg` is not
its key's never do."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import gmalg
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from domain.crypto_suite import SM2, SM2_DEFAULT_ID
from service.access.keys import SigningKeys
from service.access.secrets import SM4_WRAPPED
from service.access.tables import signing_keys
from service.access.token_algorithms import SM2PrivateKey
from service.access.tokens import InvalidToken, SlowToVerify, Tokens
from tests.api.test_auth import (
    ANY_SUBJECT,
    _retire_long_ago,
    assert_unauthorised,
    b64json,
    bearer,
    claims_for,
    flip_middle,
    hs256,
    token_response,
)
from tests.builders import AUTHORITY_CODE, enterprise, uscc

pytestmark = pytest.mark.api


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"crypto_suite": "gm"})


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sm2_point(jwk: dict) -> bytes:
    return b"\x04" + unb64(jwk["x"]) + unb64(jwk["y"])


async def published_keys(anonymous) -> dict[str, dict]:
    response = await anonymous.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    return {jwk["kid"]: jwk for jwk in response.json()["keys"]}


async def test_a_gm_token_is_sm2sm3_and_its_signature_verifies_with_the_published_key(
    anonymous, services
):
    client, secret = services.clients.create("x-agency", "agency", "某局", AUTHORITY_CODE)
    response = await token_response(anonymous, client_id=client.client_id, client_secret=secret)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["typ"]) == ("SM2SM3", "at+jwt")
    published = (await published_keys(anonymous))[header["kid"]]
    assert {k: published[k] for k in ("kty", "crv", "alg", "use")} == {
        "kty": "EC",
        "crv": "SM2",
        "alg": "SM2SM3",
        "use": "sig",
    }
    assert "d" not in published
    # The check an agency's own system makes, with gmalg and nothing of the service: SM2 with
    # the default ID over the JWS signing input, the signature r || s.
    signing_input, _, signature = token.rpartition(".")
    raw = unb64(signature)
    assert len(raw) == 64
    verifier = gmalg.SM2(uid=SM2_DEFAULT_ID, pk=sm2_point(published))
    assert verifier.verify(signing_input.encode(), raw[:32], raw[32:])
    assert not verifier.verify(signing_input.encode() + b" ", raw[:32], raw[32:])
    status = await anonymous.post(
        "/v1/status:batch", json={"codes": [uscc(1)]}, headers=bearer(token)
    )
    assert status.status_code == 200, status.text


async def test_the_api_records_and_answers_with_gm_tokens(anonymous, role_headers):
    registered = await anonymous.post(
        "/v1/subjects", json=enterprise(7), headers=role_headers["recorder"]
    )
    assert registered.status_code == 201, registered.text
    subject_id = registered.json()["subject_id"]
    status = await anonymous.get(
        f"/v1/subjects/{subject_id}/status",
        params={"min_position": registered.json()["position"]},
        headers=role_headers["agency"],
    )
    assert status.status_code == 200, status.text
    for headers in role_headers.values():
        token = headers["Authorization"].split()[1]
        assert jwt.get_unverified_header(token)["alg"] == "SM2SM3"


async def test_a_token_key_is_sm2_and_wrapped_with_sm4_at_rest(services):
    kid, key = services.keys.active()
    assert isinstance(key, SM2PrivateKey)
    with services.keys.engine.connect() as conn:
        stored = conn.execute(
            select(signing_keys.c.private_key).where(signing_keys.c.kid == kid)
        ).scalar_one()
    assert stored.startswith(SM4_WRAPPED)
    assert key.private not in stored


# Refused under gm -----------------------------------------------------------------------------
def gm_token(services) -> str:
    return services.tokens.issue(services.clients.get("test-agency")).access_token


def _tampered_payload(services, settings) -> str:
    head, payload, signature = gm_token(services).split(".")
    return f"{head}.{flip_middle(payload)}.{signature}"


def _escalated_scope(services, settings) -> str:
    token = gm_token(services)
    head, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["scope"] = "credit:read credit:record credit:audit"
    return f"{head}.{b64json(claims)}.{signature}"


def _tampered_signature(services, settings) -> str:
    head, payload, signature = gm_token(services).split(".")
    return f"{head}.{payload}.{flip_middle(signature)}"


def _alg_none(services, settings) -> str:
    kid, _ = services.keys.active()
    header = {"alg": "none", "typ": "at+jwt", "kid": kid}
    return f"{b64json(header)}.{b64json(claims_for(settings))}."


def _hs256_keyed_with(public_form: str) -> Callable:
    def build(services, settings) -> str:
        kid, private = services.keys.active()
        jwk = (services.keys.jwks()["keys"])[0]
        assert jwk["kid"] == kid
        secret = private.public if public_form == "point" else json.dumps(jwk).encode()
        return hs256({"alg": "HS256", "typ": "at+jwt", "kid": kid}, claims_for(settings), secret)

    return build


def _eddsa_naming_the_sm2_key(services, settings) -> str:
    kid, _ = services.keys.active()
    return jwt.encode(
        claims_for(settings),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": kid, "typ": "at+jwt"},
    )


def _foreign_sm2_key_claiming_the_kid(services, settings) -> str:
    kid, _ = services.keys.active()
    foreign = SM2PrivateKey(*SM2.generate())
    return jwt.encode(
        claims_for(settings),
        foreign,  # type: ignore[arg-type]
        algorithm="SM2SM3",
        headers={"kid": kid, "typ": "at+jwt"},
    )


def _expired(services, settings) -> str:
    agency = services.clients.get("test-agency")
    return services.tokens.issue(agency, now=time.time() - 3600).access_token


REFUSED: dict[str, Callable] = {
    "tampered-payload": _tampered_payload,
    "escalated-scope-in-payload": _escalated_scope,
    "tampered-signature": _tampered_signature,
    "expired": _expired,
    "alg-none": _alg_none,
    "hs256-keyed-with-the-sm2-public-point": _hs256_keyed_with("point"),
    "hs256-keyed-with-the-published-jwk": _hs256_keyed_with("jwk"),
    "eddsa-naming-the-sm2-key": _eddsa_naming_the_sm2_key,
    "foreign-sm2-key-claiming-the-kid": _foreign_sm2_key_claiming_the_kid,
}


@pytest.mark.parametrize("build", REFUSED.values(), ids=REFUSED.keys())
async def test_refused_gm_tokens_get_401(anonymous, services, settings, role_headers, build):
    assert_unauthorised(await anonymous.get(ANY_SUBJECT, headers=bearer(build(services, settings))))


async def test_the_untampered_gm_token_is_accepted(anonymous, services, role_headers):
    """The control for the refusals above."""
    response = await anonymous.get(ANY_SUBJECT, headers=bearer(gm_token(services)))
    assert response.status_code == 404, response.text
    assert response.json()["type"].endswith("/subject-not-found")


# Switching from the standard suite ------------------------------------------------------------
async def test_eddsa_tokens_from_before_the_switch_verify_while_their_key_is_published(
    anonymous, services, settings
):
    agency, _ = services.clients.create("x-agency", "agency", "某局", AUTHORITY_CODE)
    # The store ran with the standard suite before: its key signed this token.
    standard_keys = SigningKeys(
        services.keys.engine,
        services.keys.wrapper,
        token_ttl_seconds=settings.token_ttl_seconds,
        cache_seconds=0,
    )
    standard = Tokens(
        standard_keys,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_seconds=settings.token_ttl_seconds,
    )
    before = standard.issue(agency).access_token
    ed_kid, ed_key = standard_keys.active()
    assert jwt.get_unverified_header(before) == {"alg": "EdDSA", "kid": ed_kid, "typ": "at+jwt"}

    after = services.tokens.issue(agency).access_token  # the first token under gm
    sm2_kid = jwt.get_unverified_header(after)["kid"]
    assert jwt.get_unverified_header(after)["alg"] == "SM2SM3" and sm2_kid != ed_kid
    listed = {key.key_id: key.state for key in services.keys.listing()}
    assert listed == {sm2_kid: "signing", ed_kid: "published"}
    published = await published_keys(anonymous)
    assert (published[ed_kid]["kty"], published[ed_kid]["alg"]) == ("OKP", "EdDSA")
    assert (published[sm2_kid]["kty"], published[sm2_kid]["alg"]) == ("EC", "SM2SM3")
    for token in (before, after):
        response = await anonymous.get(ANY_SUBJECT, headers=bearer(token))
        assert response.status_code == 404, response.text

    # Each key verifies its own algorithm only.
    sm2_header_on_the_ed25519_key = jwt.encode(
        claims_for(settings, client_id="x-agency"),
        services.keys.active()[1],
        algorithm="SM2SM3",
        headers={"kid": ed_kid, "typ": "at+jwt"},
    )
    eddsa_header_on_the_sm2_key = jwt.encode(
        claims_for(settings, client_id="x-agency"),
        ed_key,  # type: ignore[arg-type]
        algorithm="EdDSA",
        headers={"kid": sm2_kid, "typ": "at+jwt"},
    )
    for token in (sm2_header_on_the_ed25519_key, eddsa_header_on_the_sm2_key):
        assert_unauthorised(await anonymous.get(ANY_SUBJECT, headers=bearer(token)))

    # One token lifetime after the switch the Ed25519 key is gone, and its tokens with it.
    _retire_long_ago(services, settings, ed_kid)
    assert ed_kid not in await published_keys(anonymous)
    assert_unauthorised(await anonymous.get(ANY_SUBJECT, headers=bearer(before)))
    response = await anonymous.get(ANY_SUBJECT, headers=bearer(after))
    assert response.status_code == 404, response.text


# Off the event loop ---------------------------------------------------------------------------
def test_an_sm2_token_is_checked_off_the_loop_once_then_answered_from_memory(
    services, settings, role_headers
):
    services.keys.cache_seconds = 60  # the published keys are in memory, as in service
    token = gm_token(services)
    services.keys.public_key(jwt.get_unverified_header(token)["kid"], may_refresh=True)
    with pytest.raises(SlowToVerify):  # what the request path sends to a worker thread
        services.tokens.verify(token, may_refresh=False, may_be_slow=False)
    verified = services.tokens.verify(token)  # the worker's check
    assert services.tokens.verify(token, may_refresh=False, may_be_slow=False) is verified
    forged = _foreign_sm2_key_claiming_the_kid(services, settings)
    with pytest.raises(SlowToVerify):  # header and key pass; only the signature is wrong
        services.tokens.verify(forged, may_refresh=False, may_be_slow=False)
    with pytest.raises(InvalidToken):
        services.tokens.verify(forged)
    with pytest.raises(InvalidToken):  # an alg that is not the key's is refused on the loop
        services.tokens.verify(
            _eddsa_naming_the_sm2_key(services, settings), may_refresh=False, may_be_slow=False
        )
