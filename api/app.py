"""The FastAPI application: built once per process, services on app.state via the lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import (
    admin,
    cases,
    console,
    docs,
    errors,
    oauth,
    observability,
    operations,
    replay_checks,
    web,
)
from api.commands import imports
from api.commands import subjects as subject_commands
from api.credit_reports import pages as report_pages
from api.credit_reports import routes as reports
from api.deadline import AnswerWithin
from api.deps import ServicesDep
from api.limits import BodySizeLimit
from api.notifications import feed as change_feed
from api.notifications import notices, subscriptions
from api.notifications import webhooks as subscription_webhooks
from api.queries import audit, case_reports, figures, history, integrity, list_reports
from api.queries import subjects as subject_queries
from api.rate_limit import RateLimiter
from api.routers import serve_router
from api.schemas import Health
from api.security_headers import SecurityHeaders
from service.access.oidc import form_targets
from service.bootstrap import Services, build_services
from service.clock import Clock
from service.logs import skip_unlogged_record_fields
from service.metrics import process_stopping
from service.settings import Settings, get_settings

log = logging.getLogger(__name__)
# Uploads are parsed as they arrive and may take minutes by design: no deadline for them. The
# change feed long-polls up to its own bound (service/notifications/feed.py MAX_WAIT_SECONDS),
# each look at the read model bounded as every database wait is. A subscription may name 100,000
# codes (at the API or the console), each checked before one query: seconds of work that grow
# with the list, like an upload's, on a busy machine past the deadline of a single answer.
UNBOUNDED_PREFIXES = ("/v1/imports", "/v1/feeds", "/v1/subscriptions", "/console/subscriptions")


def create_served_app() -> FastAPI:
    """The app as a serving process runs it (`credit serve`, or `uvicorn
    api.app:create_served_app --factory`): log records without the fields no format writes (in
    each worker process uvicorn starts, which configures logging from the dictionary alone),
    and its heap after start-up set aside from the garbage collector's full collections
    (`_set_aside_start_up_heap`)."""
    skip_unlogged_record_fields()
    return create_app(serving=True)


def _set_aside_start_up_heap() -> None:
    """A full collection walks every object the process tracks, and answers nothing meanwhile:
    with the app, its services and their tables some 250,000 objects, 175 ms measured, a
    status read's p99 several times over. What start-up made lives as long as the process:
    collected once now, then frozen (`gc.freeze`), it is left out of every later collection,
    which walks only what was made since. Not for the tests' apps: each would pin its heap."""
    gc.collect()
    gc.freeze()


NO_FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    services: Services | None = None,
    serving: bool = False,
) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = services
        if built is None:
            built = await run_in_threadpool(build_services, settings, clock=clock)
        app.state.services = built
        if settings.run_projections_in_api:
            built.start_background_work()
        if serving:
            _set_aside_start_up_heap()
        try:
            yield
        finally:
            await built.aclose()
            process_stopping()

    app = FastAPI(
        title="Transport credit records (信用交通)",
        version="0.1.0",
        summary="Credit files of transport-sector subjects as event streams: record, import, "
        "and query current credit status.",
        description=docs.DESCRIPTION,
        openapi_tags=docs.TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry asks at every request whether a provider was configured
        # (5 µs of looking up three providers and the environment); traces are this service's
        # own, with CREDIT_TRACING (service/tracing.py), and without it no request asks.
        telemetry=None if settings.tracing else NO_FASTAPI_TELEMETRY,
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
    # Console sign-ins, before any password is hashed (the lockout counts per name).
    app.state.sign_in_limiter = RateLimiter(
        rate_per_second=settings.console_sign_in_address_rate_per_second,
        burst=settings.console_sign_in_address_burst,
    )
    serve_router(app, oauth.router)
    serve_router(app, subject_commands.router)
    serve_router(app, imports.router)
    serve_router(app, subject_queries.router)
    serve_router(app, cases.router)
    serve_router(app, web.router)
    serve_router(app, reports.router)
    serve_router(app, report_pages.router)
    serve_router(app, audit.router)
    serve_router(app, replay_checks.router)
    serve_router(app, history.router)
    serve_router(app, integrity.router)
    serve_router(app, figures.router)
    serve_router(app, case_reports.router)
    serve_router(app, list_reports.router)
    serve_router(app, admin.router)
    serve_router(app, subscriptions.router)
    serve_router(app, subscription_webhooks.router)
    serve_router(app, change_feed.router)
    serve_router(app, notices.router)
    serve_router(app, operations.router)
    console.install(app)

    docs.install(app)

    @app.get(
        "/health",
        operation_id="getHealth",
        summary="Liveness of the API and of each read model",
        tags=["operations"],
        responses={
            200: {"description": "ok, or degraded: a projector is stopped", "model": Health},
            503: {
                "description": "The projection runner has stopped, or every projector has (see "
                "`failure`), or the database is unavailable",
                "model": Health,
            },
        },
    )
    async def health(services: ServicesDep) -> JSONResponse:
        """Liveness of the API and of each projector. `degraded` (200): a projector is stopped
        on an event (its position, type and error are shown) while the others serve; 503 if the
        runner here has stopped, or every projector has."""
        runner = services.runner
        head = await run_in_threadpool(services.ledger.recorder.max_notification_id) or 0
        states, skips = await run_in_threadpool(runner.report)
        depends = {p.name: getattr(p, "depends_on", ()) for p in runner.projectors}
        projectors: dict[str, dict[str, Any]] = {}
        for name, state in states.items():
            failure = state.failure
            waiting = [d for d in depends[name] if d in states and states[d].failure is not None]
            projectors[name] = {
                "status": "failed" if failure else ("waiting" if waiting else "ok"),
                "position": state.position,
                "lag": head - state.position,
                "waiting_for": waiting,
                "failure": None
                if failure is None
                else {
                    "position": failure.position,
                    "event_type": failure.event_type,
                    "error": failure.error,
                    "at": failure.at.isoformat() if failure.at else None,
                },
                # Events operators skipped (`credit projections status` shows who and why).
                "skipped": [
                    {"position": s.position, "event_type": s.event_type, "at": s.at.isoformat()}
                    for s in skips
                    if s.projector == name
                ],
            }
        failed = [name for name, state in states.items() if state.failure is not None]
        position = min((state.position for state in states.values()), default=0)
        stopped = runner.crash is not None or (bool(states) and len(failed) == len(states))
        replica = services.read_replica
        if replica is not None:
            await replica.check()  # measured now, not as of the last request's check
        # A replica behind its bound (or away) is degraded service: reads go to the primary.
        lagging = replica is not None and not replica.state.serves_reads
        body: dict[str, Any] = {
            "status": "failing" if stopped else ("degraded" if failed or lagging else "ok"),
            "projections": {
                # The lowest position: every read model has reached it.
                "position": position,
                "log_head": head,
                "lag": head - position,
                "running_here": runner.running,
                "failure": repr(runner.crash)
                if runner.crash is not None
                else "; ".join(
                    f"{n} failed on position {f['position']} ({f['event_type']}): {f['error']}"
                    for n in failed
                    if (f := projectors[n]["failure"]) is not None
                )
                or None,
                "projectors": projectors,
            },
            "read_replica": None if replica is None else replica.report(),
        }
        return JSONResponse(body, status_code=503 if stopped else 200)

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
    app.add_middleware(
        AnswerWithin,
        seconds=settings.request_deadline_seconds,
        exempt_prefixes=UNBOUNDED_PREFIXES,
    )
    app.add_middleware(
        SecurityHeaders,
        hsts=settings.environment == "production",
        form_targets=form_targets(settings),
    )
    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.max_body_bytes,
        limits_by_prefix={
            "/v1/imports": settings.max_import_bytes,
            "/v1/subscriptions": settings.max_subscription_bytes,
            "/console/subscriptions": settings.max_subscription_bytes,
        },
    )
    if settings.trusted_proxies:
        # The one place X-Forwarded-For is read (`credit serve` turns uvicorn's own reading off,
        # which would trust any loopback peer): only from a trusted proxy, and the client is the
        # rightmost address that is not one of them.
        app.add_middleware(
            ProxyHeadersMiddleware,
            trusted_hosts=[str(network) for network in settings.trusted_proxies],
        )
    observability.install(app)
    if settings.tracing:
        from service.tracing import trace_app

        trace_app(app)
    return app
