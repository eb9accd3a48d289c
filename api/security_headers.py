"""Defensive HTTP response headers added to every response without overriding the app's own."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
    (b"cache-control", b"no-store"),
)
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
    b"form-action 'self'"
)
# The API docs pages (Swagger UI, ReDoc): scripts, styles, the icon and the OpenAPI document from
# this service only, and of inline scripts only the page's own, by hash. Both libraries style
# their elements inline, Swagger UI's stylesheet draws icons as data: images, and ReDoc builds
# its search index in a worker made from a blob.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src {script_src}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
STRICT_TRANSPORT_SECURITY = b"max-age=31536000; includeSubDomains"


def docs_content_security_policy(page: bytes) -> str:
    """The docs pages' policy for `page`, allowing the inline scripts it has and no other."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(page)
    ]
    return DOCS_CONTENT_SECURITY_POLICY.format(script_src=" ".join(["'self'", *hashes]))


def content_security_policy(form_targets: tuple[str, ...] = ()) -> bytes:
    """The pages' policy; `form_targets`: origins besides this one where a form's answer may
    lead (an OpenID Connect provider, where signing out ends at its end-session endpoint)."""
    if not form_targets:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY + b" " + " ".join(form_targets).encode()


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool = False, form_targets: tuple[str, ...] = ()):
        self.app = app
        self.hsts = hsts
        self.page_policy = content_security_policy(form_targets)
        # What an answer gets unless it set the header itself, for a page and for anything else.
        tail = ((b"strict-transport-security", STRICT_TRANSPORT_SECURITY),) if hsts else ()
        self._wanted = (*BASE_HEADERS, *tail)
        self._wanted_on_pages = (
            *BASE_HEADERS,
            (b"content-security-policy", self.page_policy),
            *tail,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": self._with_defaults(message.get("headers"))}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _with_defaults(self, headers: Any) -> list[tuple[bytes, bytes]]:
        """The answer's headers (as bytes), then each wanted one it did not set, in order: a
        page (text/html, by the first Content-Type) also gets the Content-Security-Policy."""
        result = [(bytes(name), bytes(value)) for name, value in headers or ()]
        present = set()
        content_type = None
        for name, value in result:
            lower = name.lower()
            present.add(lower)
            if content_type is None and lower == b"content-type":
                content_type = value
        page = content_type is not None and content_type.lower().lstrip().startswith(b"text/html")
        result += [
            header
            for header in (self._wanted_on_pages if page else self._wanted)
            if header[0] not in present
        ]
        return result
