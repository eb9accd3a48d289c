"""Webhooks on the wire: the per-subscription secret, the signed headers (the Standard Webhooks
scheme), where a callback may point (no private, loopback, link-local, multicast or reserved
address: the service must not be turned against its own network), and one POST to it.

The signature is Standard Webhooks' (https://www.standardwebhooks.com/): HMAC-SHA256 with the
subscription's secret over `<webhook-id>.<webhook-timestamp>.<body>`, sent as
`webhook-signature: v1,<base64>`. That is the `timestamp.body` of Stripe's scheme with the id
bound in as well, and it is signed by the specification's own reference library, so that a
receiver verifies with that library in its language, or with the few lines in
docs/notifications.md, and rejects a delivery whose timestamp is older than its tolerance."""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from urllib.parse import urlsplit, urlunsplit

import httpx2
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # as Standard Webhooks writes a secret
MAX_URL_LENGTH = 2000
USER_AGENT = "credit-transport-webhooks/1"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def new_webhook_secret() -> str:
    """A fresh secret: 32 random bytes, base64, with Standard Webhooks' `whsec_` prefix."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def signed_headers(secret: str, webhook_id: str, moment: datetime, body: str) -> dict[str, str]:
    """The headers that let a receiver check who sent `body`, and when."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, body),
    }


class TargetRefused(ValueError):
    """A callback URL the service will not call; the message says why, `rule` names the rule
    it broke (pages word it in Chinese), `host` and `address` are what it was refused on."""

    def __init__(self, message: str, rule: str, host: str = "", address: str = ""):
        super().__init__(message)
        self.rule = rule  # too-long, not-a-url, scheme, no-host, credentials, fragment,
        # unresolvable, not-public
        self.host = host
        self.address = address


@dataclass(frozen=True)
class TargetRules:
    """Where callbacks may point: https only (in production), and public addresses only unless
    `allow_private` (CREDIT_WEBHOOK_ALLOW_PRIVATE_TARGETS, never in production)."""

    require_https: bool
    allow_private: bool
    connect_timeout: float = 5.0
    read_timeout: float = 10.0


@dataclass(frozen=True)
class Target:
    """A callback URL checked, with the one address it resolved to that will be connected to."""

    url: str
    host: str
    port: int
    address: Address


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, rules: TargetRules) -> tuple[str, int]:
    """The URL's host and port, if its form may be called (no address is looked up)."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"a callback URL has at most {MAX_URL_LENGTH} characters", "too-long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("not a URL", "not-a-url") from None
    schemes = ("https",) if rules.require_https else ("https", "http")
    if parts.scheme not in schemes:
        raise TargetRefused(f"the callback URL must be {' or '.join(schemes)}", "scheme")
    if not parts.hostname:
        raise TargetRefused("the callback URL names no host", "no-host")
    if parts.username or parts.password:
        raise TargetRefused("the callback URL may not carry a user name or password", "credentials")
    if parts.fragment:
        raise TargetRefused("the callback URL may not have a fragment", "fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(url: str, rules: TargetRules) -> Target:
    """Check the URL, look its host up once, and check every address it has: one private
    address among public ones refuses it all (a rebinding host would pick that one). The
    caller connects to `address`, not to the name again."""
    host, port = check_url(url, rules)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise TargetRefused(
                f"the callback host {host} cannot be resolved", "unresolvable", host
            ) from None
        addresses = list(
            dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found)
        )
    if not addresses:
        raise TargetRefused(f"the callback host {host} cannot be resolved", "unresolvable", host)
    if not rules.allow_private:
        for address in addresses:
            if not _public(address):
                raise TargetRefused(
                    f"the callback host {host} resolves to {address}, which is not a public "
                    "address (private, loopback, link-local, multicast or reserved)",
                    "not-public",
                    host,
                    str(address),
                )
    return Target(url, host, port, addresses[0])


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the status code, or the error instead; and how long it took."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@cache
def tls_context() -> ssl.SSLContext:
    """The system's trusted roots, loaded once: loading them took 45 ms, most of a POST's time,
    when each POST made its own (docs/benchmarks.md, "Webhook delivery"). A context is safe to
    share between threads; each connection still checks the certificate and the URL's name."""
    return httpx2.create_ssl_context(trust_env=False)


def post(target: Target, body: str, headers: dict[str, str], rules: TargetRules) -> Outcome:
    """POST the body to the checked address, the URL's host in `Host` and in TLS (SNI and the
    certificate's name); no redirect is followed (a 3xx is a failed delivery), and the answer's
    body is not read."""
    parts = urlsplit(target.url)
    ip = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    pinned = urlunsplit((parts.scheme, f"{ip}:{target.port}", parts.path or "/", parts.query, ""))
    default_port = 443 if parts.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    host = host if target.port == default_port else f"{host}:{target.port}"
    timeout = httpx2.Timeout(
        rules.read_timeout, connect=rules.connect_timeout, pool=rules.connect_timeout
    )
    started = time.monotonic()
    try:
        with httpx2.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, verify=tls_context()
        ) as client:
            request = client.build_request(
                "POST",
                pinned,
                content=body.encode(),
                headers={
                    **headers,
                    "Host": host,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                },
                extensions={"sni_hostname": target.host},
            )
            response = client.send(request, stream=True)
            response.close()
    except httpx2.TimeoutException as error:
        return Outcome(None, f"timeout: {type(error).__name__}", _ms(started))
    except httpx2.HTTPError as error:
        return Outcome(None, f"{type(error).__name__}: {error}"[:300], _ms(started))
    return Outcome(response.status_code, None, _ms(started))


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
