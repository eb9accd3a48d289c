"""The defensive headers api/security_headers.py adds, against its former way of adding them."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.security_headers import BASE_HEADERS, STRICT_TRANSPORT_SECURITY, SecurityHeaders


def former(middleware: SecurityHeaders, headers: Any) -> list[tuple[bytes, bytes]]:
    """`_with_defaults` as it was written before it was made cheaper per answer."""
    result = [(bytes(name), bytes(value)) for name, value in headers or []]
    present = {name.lower() for name, _ in result}
    content_type = next((v for n, v in result if n.lower() == b"content-type"), b"")
    wanted = list(BASE_HEADERS)
    if content_type.lower().lstrip().startswith(b"text/html"):
        wanted.append((b"content-security-policy", middleware.page_policy))
    if middleware.hsts:
        wanted.append((b"strict-transport-security", STRICT_TRANSPORT_SECURITY))
    for name, value in wanted:
        if name not in present:
            result.append((name, value))
            present.add(name)
    return result


NAMES = st.sampled_from(
    [name for name, _ in BASE_HEADERS]
    + [b"Content-Type", b"content-type", b"CACHE-CONTROL", b"content-security-policy"]
    + [b"strict-transport-security", b"etag", b"x-request-id"]
)
VALUES = st.sampled_from(
    [b"text/html; charset=utf-8", b"  TEXT/HTML", b"application/json", b"", b"no-cache"]
)


@given(
    headers=st.one_of(st.none(), st.lists(st.tuples(NAMES, VALUES), max_size=8)),
    hsts=st.booleans(),
    targets=st.sampled_from([(), ("https://idp.example",)]),
)
def test_the_headers_added_are_the_former_ones_in_the_same_order(headers, hsts, targets):
    middleware = SecurityHeaders(None, hsts=hsts, form_targets=targets)  # type: ignore[arg-type]
    assert middleware._with_defaults(headers) == former(middleware, headers)
    if headers:  # as a server may hand them: bytearrays
        mutable = [(bytearray(name), bytearray(value)) for name, value in headers]
        assert middleware._with_defaults(mutable) == former(middleware, mutable)
