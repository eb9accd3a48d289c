"""Who vouches for a person signing in to the staff console: the seam where an external
identity provider (a provincial 统一身份认证, over OpenID Connect) replaces the built-in accounts
by configuration (CREDIT_CONSOLE_IDENTITY_PROVIDER; docs/console.md).

Whatever the provider, a sign-in ends in an `Account` row of `staff_accounts` (an external
provider's accounts are written there from its claims, with no password), and everything after
it, the session, the pages, the permission checks and the access log, reads that account only."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import httpx2

from service.access.accounts import SignInOutcome, StaffAccounts
from service.access.administration import Administration
from service.access.oidc import OidcConfig, OidcSignIn
from service.settings import Settings


class PasswordProvider(Protocol):
    """A provider the sign-in page asks with a name and a password (`builtin`)."""

    def sign_in(self, name: str, password: str, now: datetime) -> SignInOutcome: ...


# An OpenID Connect provider is asked by redirect instead: `OidcSignIn` (docs/console.md).
IdentityProvider = PasswordProvider | OidcSignIn


def identity_provider(
    settings: Settings,
    accounts: StaffAccounts,
    administration: Administration,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> IdentityProvider:
    """The provider CREDIT_CONSOLE_IDENTITY_PROVIDER names (`transport`: how an OpenID Connect
    provider is reached, when not over the network: a test's own provider)."""
    match settings.console_identity_provider:
        case "builtin":
            return accounts
        case "oidc":
            config = OidcConfig.from_settings(settings)
            return OidcSignIn(accounts.engine, administration, config, transport=transport)
