"""The OpenID Connect settings are checked when the settings are read, so that a console no one
could sign in to stops the service at start-up with a line that names what is missing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from service.settings import Settings, describe

OIDC: dict[str, Any] = {
    "console_identity_provider": "oidc",
    "oidc_issuer": "https://tyrz.example.gov.cn",
    "oidc_client_id": "xyjt-console",
    "oidc_client_secret": "a-secret-canary",
    "oidc_role_map": {"XYJT_CX": "agency"},
}


def refusal(**changed: object) -> str:
    with pytest.raises(ValidationError) as raised:
        Settings.model_validate({**OIDC, **changed})
    return describe(raised.value)


def test_a_complete_provider_is_accepted():
    settings = Settings.model_validate(OIDC)
    assert settings.oidc_issuer == "https://tyrz.example.gov.cn"
    assert settings.oidc_claim_account == "preferred_username"


def test_oidc_without_its_provider_names_each_missing_setting():
    assert refusal(oidc_issuer=None, oidc_client_secret=" ", oidc_role_map={}) == (
        "CREDIT_CONSOLE_IDENTITY_PROVIDER=oidc needs CREDIT_OIDC_ISSUER, "
        "CREDIT_OIDC_CLIENT_SECRET, CREDIT_OIDC_ROLE_MAP"
    )


def test_the_builtin_accounts_need_none_of_it():
    assert Settings(console_identity_provider="builtin").oidc_issuer is None


@pytest.mark.parametrize(
    ("issuer", "environment"),
    [
        ("http://tyrz.example.gov.cn", "test"),
        ("http://127.0.0.1:8443", "production"),
        ("https://tyrz.example.gov.cn/?realm=xyjt", "test"),
        ("tyrz.example.gov.cn", "test"),
    ],
)
def test_an_issuer_must_be_https_except_on_this_machine_outside_production(issuer, environment):
    assert refusal(oidc_issuer=issuer, environment=environment).startswith("CREDIT_OIDC_ISSUER: ")


def test_a_loopback_provider_is_accepted_outside_production():
    assert Settings.model_validate({**OIDC, "oidc_issuer": "http://127.0.0.1:8443"}).oidc_issuer


def test_a_role_map_names_console_roles_only():
    assert refusal(oidc_role_map={"XYJT_CX": "agency", "XYJT_BOSS": "superuser"}) == (
        "CREDIT_OIDC_ROLE_MAP: maps to superuser, not a console role "
        "(recorder, agency, auditor, admin, credit_office)"
    )


def test_scopes_must_ask_for_openid():
    assert refusal(oidc_scopes="profile email") == "CREDIT_OIDC_SCOPES: must include openid"
