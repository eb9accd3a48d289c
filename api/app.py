"""The FastAPI application: built once per process, services on app.state via the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import admin, cases, errors, oauth, replay_checks, web
from api.commands import imports
from api.commands import subjects as subject_commands
from api.deps import ServicesDep
from api.limits import BodySizeLimit
from api.queries import audit, history, integrity
from api.queries import subjects as subject_queries
from api.rate_limit import RateLimiter
from api.security_headers import SecurityHeaders
from service.bootstrap import Services, build_services
from service.clock import Clock
from service.settings import Settings, get_settings

log = logging.getLogger(__name__)
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"
)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    services: Services | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = services or await run_in_threadpool(build_services, settings, clock=clock)
        app.state.services = built
        if settings.run_projections_in_api:
            built.start_background_work()
        try:
            yield
        finally:
            await built.aclose()

    app = FastAPI(
        title="Transport credit records (信用交通)",
        version="0.1.0",
        summary="Credit files of transport-sector subjects as event streams: record, import, "
        "and query current credit status.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.state.rate_limiter = RateLimiter(
        rate_per_second=settings.rate_limit_per_second, burst=settings.rate_limit_burst
    )
    app.state.applicant_limiter = RateLimiter(
        rate_per_second=settings.applicant_rate_per_second, burst=settings.applicant_burst
    )
    # Token requests, before any secret is hashed: per address, then per client id.
    app.state.token_address_limiter = RateLimiter(
        rate_per_second=settings.token_address_rate_per_second,
        burst=settings.token_address_burst,
    )
    app.state.token_client_limiter = RateLimiter(
        rate_per_second=settings.token_client_rate_per_second, burst=settings.token_client_burst
    )
    app.include_router(oauth.router)
    app.include_router(subject_commands.router)
    app.include_router(imports.router)
    app.include_router(subject_queries.router)
    app.include_router(cases.router)
    app.include_router(web.router)
    app.include_router(audit.router)
    app.include_router(replay_checks.router)
    app.include_router(history.router)
    app.include_router(integrity.router)
    app.include_router(admin.router)

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        """Swagger UI loads its scripts from a CDN: this page's own policy allows that one."""
        page = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} · API")
        page.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return page

    @app.get(
        "/health",
        tags=["operations"],
        responses={
            503: {
                "description": "The projection runner has stopped (see `failure`)",
                "content": {"application/json": {}},
            }
        },
    )
    async def health(services: ServicesDep) -> JSONResponse:
        """Liveness of the API and of the projection runner (503 if the runner has stopped)."""
        runner = services.runner
        head = await run_in_threadpool(services.ledger.recorder.max_notification_id) or 0
        position = await run_in_threadpool(runner.position)
        failed = runner.failure is not None
        body = {
            "status": "failing" if failed else "ok",
            "projections": {
                "position": position,
                "log_head": head,
                "lag": head - position,
                "running_here": runner.running,
                "failure": repr(runner.failure) if failed else None,
            },
        }
        return JSONResponse(body, status_code=503 if failed else 200)

    if settings.cors_origins:  # off unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Purpose",
                "Idempotency-Key",
                "If-Match",
            ],
        )
    app.add_middleware(SecurityHeaders, hsts=settings.environment == "production")
    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.max_body_bytes,
        limits_by_prefix={"/v1/imports": settings.max_import_bytes},
    )
    if settings.trusted_proxies:
        # The one place X-Forwarded-For is read (`credit serve` turns uvicorn's own reading off,
        # which would trust any loopback peer): only from a trusted proxy, and the client is the
        # rightmost address that is not one of them.
        app.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=[str(network) for network in settings.trusted_proxies],
        )
    return app
