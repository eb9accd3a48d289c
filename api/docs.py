"""The API's documentation pages, `/docs` (Swagger UI) and `/redoc`, with their scripts, styles and
icon served by this service from the fastapi-offline package: they work on a network that
reaches no CDN, and load nothing from anywhere else."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.responses import Response

from api.security_headers import docs_content_security_policy

ASSETS_URL = "/docs/assets"
ASSETS = files("fastapi_offline") / "static"
SWAGGER_UI_PARAMETERS = {
    "displayOperationId": True,  # the name a generated client gives each operation
    "validatorUrl": None,  # Swagger UI would send the document to validator.swagger.io
    "tryItOutEnabled": True,
}


DESCRIPTION = """Transport-sector credit files (信用交通) as event streams: recording agencies
append what a subject did, querying agencies read its credit status, auditors replay and verify.

**Authorize** with an API client's id and secret: the service issues a short-lived bearer token
by the OAuth2 client-credentials grant (`POST /oauth/token`); tick only the scopes needed. Every
error is `application/problem+json` (RFC 9457) with a stable `type`; a refusal under a business
rule also names the `rule`. Writes answer with the global log `position`: pass it to a read as
`min_position` to read your own write. Applicants follow their case without an account, with the
case number and query code (查询码), also on a plain web page for applicants (案件进度查询).

The same document as one reference page: [`/redoc`](/redoc); the document itself:
[`/openapi.json`](/openapi.json)."""
TAGS: list[dict[str, Any]] = [
    {
        "name": "authentication",
        "description": "Access tokens by the OAuth2 client-credentials grant (RFC 6749 §4.4), "
        "and the public keys that verify them. Authorize above asks for one.",
    },
    {
        "name": "recording",
        "description": "Recording agencies (`credit:record`) open subjects' credit files, append "
        "records (licences, penalties, ratings, list decisions ...) and import 双公示 files, "
        "for the authorities and sectors their client holds. Retries are safe: "
        "`Idempotency-Key`, one record per type, authority and decision number, and `If-Match` "
        "for optimistic concurrency.",
    },
    {
        "name": "querying",
        "description": "Querying agencies (`credit:read`) read a subject's credit status "
        "(grades, lists, supervision tier, published records), by id, by code or for a batch of "
        "bidders, and its records. Reads come from the read models; each is written to the "
        "subject's access log (查询留痕) with the `X-Purpose` stated.",
    },
    {
        "name": "cases",
        "description": "Credit repair (信用修复) and objections (异议): applicants file and follow "
        "them with a case number and query code, no account needed; the deciding agency "
        "(谁认定、谁修复) takes each step; deadlines count working days.",
    },
    {
        "name": "credit reports",
        "description": "Credit reports (信用报告) and special credit reports (专项信用报告) as PDF "
        "files, computed from the subject's events at a signed checkpoint, each with a number, "
        "a verification code and the service's signature; anyone checks one without an account "
        "at `/reports/verify`, and auditors recompute its contents from the log.",
    },
    {
        "name": "auditing",
        "description": "Auditors (`credit:audit`): a subject's full history (unpublished, "
        "repaired and revoked records too), who read its data, the administrative log, "
        "revealing a full ID number with a stated purpose, and replay checks that rebuild the "
        "read models from the log.",
    },
    {
        "name": "reports",
        "description": "The credit office's figures (三率), for the credit office "
        "(`credit:monitor`) and auditors (`credit:audit`); a recorder (`credit:record`) reads "
        "its own authorities' figures. Each figure comes with the records behind it.",
    },
    {
        "name": "tamper evidence",
        "description": "Signed checkpoints over the Merkle tree of every event (public, like a "
        "transparency log's), inclusion and consistency proofs (RFC 6962), and signed exports to "
        "verify offline with `credit audit verify-export`.",
    },
    {
        "name": "reports",
        "description": "The credit office's figures (`credit:monitor`; auditors with "
        "`credit:audit`; a recording agency with `credit:record` sees its own authorities'), "
        "for a month or a run of days, each with the rows behind it: repair and objection "
        "cases per deciding authority, subjects on the red, black and watch lists by sector and "
        "region, the monthly 联合奖惩成效清单 and 严重违法超限超载运输失信当事人名单. Read from "
        "the read models; a row naming a subject is written to its access log (查询留痕).",
    },
    {
        "name": "notifications",
        "description": "Agencies (`credit:read`) follow subjects, by code or id, for the kinds "
        "of change they choose (`record.published`, `list.entered`, `objection.opened` ...), and "
        "read those changes from a cursor-paginated feed that long-polls when nothing is new. "
        "A client sees and cancels only its own subscriptions; a change carries what a status "
        "answer shows, and each subject in a page is written to its access log (查询留痕).",
    },
    {
        "name": "administration",
        "description": "Administrators (`credit:admin`): API clients, token signing keys, "
        "erasure of personal data and the policy versions. Creating an auditor or admin client, "
        "resetting its secret and erasing personal data wait for a second administrator.",
    },
    {
        "name": "operations",
        "description": "For operators and load balancers: liveness and the read models' lag.",
    },
]


JSON = "application/json"


def answer(
    description: str,
    example: Any,
    *,
    media_type: str = JSON,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One documented answer of an operation (for its `responses`): what it means, an example
    body, and the headers it comes with, by name and meaning."""
    documented: dict[str, Any] = {
        "description": description,
        "content": {media_type: {"example": example}},
    }
    if headers:
        documented["headers"] = header_docs(headers)
    return documented


def header_docs(headers: dict[str, str]) -> dict[str, Any]:
    """Response headers as the OpenAPI document has them, from their names and meanings."""
    return {
        name: {"schema": {"type": "string"}, "description": meaning}
        for name, meaning in headers.items()
    }


class DocsAssets(StaticFiles):
    """Swagger UI's and ReDoc's files, 2.8 MB: revalidated by ETag on each use (a 304 if they
    are unchanged) instead of the `no-store` every other answer gets."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


class DocsPage:
    """A page rendered once, answered with the policy that lets exactly its own scripts run."""

    def __init__(self, page: HTMLResponse):
        self.body = bytes(page.body)
        self.policy = docs_content_security_policy(self.body)

    def response(self) -> HTMLResponse:
        return HTMLResponse(self.body, headers={"Content-Security-Policy": self.policy})


def _models(base: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for model in base.__subclasses__():
        yield model
        yield from _models(model)


def with_examples_as_written(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI builds the document without any null (`exclude_none`), so a model's example
    loses its null fields (`"next_after": null`) and no longer fits its own schema: put the
    examples of this service's models back as written."""
    models = {
        model.__name__: model
        for model in _models(BaseModel)
        if model.__module__.split(".")[0] in ("api", "service")
    }
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if name in models and "examples" in schema:
            schema["examples"] = jsonable_encoder(models[name].model_json_schema()["examples"])
    return document


def install(app: FastAPI) -> None:
    """Serve `/docs`, `/redoc` and their assets; each page is rendered once, here. The OpenAPI
    document keeps its examples as written."""
    assert app.openapi_url is not None
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_examples_as_written(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS_URL, DocsAssets(directory=str(ASSETS)), name="docs-assets")
    swagger_ui = DocsPage(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} · API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            # The client-credentials flow gets its token without a browser redirect.
            oauth2_redirect_url=None,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
    )
    redoc = DocsPage(
        get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} · API reference",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui_page() -> HTMLResponse:
        """Swagger UI: every operation, tried out with a token from Authorize."""
        return swagger_ui.response()

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        """ReDoc: the same document as one reference page."""
        return redoc.response()
