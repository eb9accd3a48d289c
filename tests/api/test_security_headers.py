"""Security headers on every response: set when missing, never over the app's own."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from api.security_headers import SecurityHeaders

pytestmark = pytest.mark.api
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "geolocation=(), camera=(), microphone=()",
}


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/json")
    async def json_route() -> dict:
        return {"ok": True}

    @app.get("/html", response_class=HTMLResponse)
    async def html_route() -> str:
        return "<!doctype html><title>t</title><p>hello</p>"

    @app.get("/cached")
    async def cached_route() -> JSONResponse:
        return JSONResponse({"ok": True}, headers={"Cache-Control": "public, max-age=60"})

    @app.get("/framed")
    async def framed_route() -> JSONResponse:
        return JSONResponse({"ok": True}, headers={"X-Frame-Options": "SAMEORIGIN"})

    return app


async def get(path: str, *, hsts: bool = False) -> httpx.Response:
    app = SecurityHeaders(build_app(), hsts=hsts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_a_json_response_gets_every_base_header_and_no_store():
    response = await get("/json")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    for name, value in ALWAYS.items():
        assert response.headers.get_list(name) == [value], name
    assert response.headers.get_list("cache-control") == ["no-store"]


async def test_csp_is_only_on_html_responses():
    html = await get("/html")
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers.get_list("content-security-policy") == [CSP]
    json = await get("/json")
    assert "content-security-policy" not in json.headers


async def test_an_html_response_also_gets_the_base_headers():
    response = await get("/html")
    assert response.text == "<!doctype html><title>t</title><p>hello</p>"
    for name, value in ALWAYS.items():
        assert response.headers.get_list(name) == [value], name
    assert response.headers.get_list("cache-control") == ["no-store"]


async def test_the_apps_own_cache_control_is_kept():
    response = await get("/cached")
    assert response.headers.get_list("cache-control") == ["public, max-age=60"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_header_the_app_set_is_not_overwritten():
    response = await get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_error_responses_get_the_headers_too():
    response = await get("/missing")
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers.get_list("cache-control") == ["no-store"]


async def test_hsts_is_off_by_default():
    for path in ("/json", "/html"):
        response = await get(path)
        assert "strict-transport-security" not in response.headers, path


async def test_hsts_when_enabled():
    for path in ("/json", "/html", "/cached"):
        response = await get(path, hsts=True)
        assert response.headers.get_list("strict-transport-security") == [HSTS], path
