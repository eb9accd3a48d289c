"""Who vouches for a person signing in to the staff console: the seam where an external
identity provider (a provincial 统一身份认证, over OpenID Connect) replaces the built-in accounts
by configuration (CREDIT_CONSOLE_IDENTITY_PROVIDER; docs/console.md).

Whatever the provider, a sign-in ends in an `Account` row of `staff_accounts` (an external
provider's accounts are written there from its claims, with no password), and everything after
it, the session, the pages, the permission checks and the access log, reads that account only."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from service.access.accounts import SignInOutcome, StaffAccounts
from service.settings import Settings


class IdentityProvider(Protocol):
    """A provider the sign-in page asks with a name and a password. An OpenID Connect provider
    is asked by redirect instead: docs/console.md describes its two steps and its claims."""

    def sign_in(self, name: str, password: str, now: datetime) -> SignInOutcome: ...


def identity_provider(settings: Settings, accounts: StaffAccounts) -> IdentityProvider:
    """The provider CREDIT_CONSOLE_IDENTITY_PROVIDER names."""
    match settings.console_identity_provider:
        case "builtin":
            return accounts
