"""Endpoints for the platform that runs the service: liveness, readiness and Prometheus metrics
(docs/operations.md). `/health`, the detailed state of each read model, stays in api/app.py."""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.errors import Unauthorised, problems
from projections.tables import changes
from service.bootstrap import Services
from service.metrics import ReadModelCollector, render
from service.readiness import readiness

router = APIRouter(tags=["operations"])

READY_EXAMPLE = {
    "status": "ready",
    "migrations_at_head": True,
    "log_head": 182_406,
    "projectors": {"credit_file": {"position": 182_406, "lag": 0, "failed": False}},
    "reasons": [],
}
NOT_READY_EXAMPLE = {
    **READY_EXAMPLE,
    "status": "not-ready",
    "projectors": {"credit_file": {"position": 170_001, "lag": 12_405, "failed": False}},
    "reasons": ["credit_file is 12405 events behind the log (at most 1000)"],
}
METRICS_EXAMPLE = (
    "# TYPE credit_http_requests_total counter\n"
    'credit_http_requests_total{method="GET",route="/v1/subjects/{subject_id}/status",'
    'status="200"} 1027.0\n'
    'credit_projection_lag_events{projector="credit_file"} 0.0\n'
)


@router.get(
    "/livez",
    operation_id="getLiveness",
    summary="The process answers (no database asked)",
    responses={
        200: {
            "description": "the process is alive",
            "content": {"application/json": {"example": {"status": "alive"}}},
        }
    },
)
async def livez() -> dict[str, str]:
    """Whether this process answers at all: a supervisor restarts it if not. It asks nothing of
    the database, so an outage there does not restart every API process."""
    return {"status": "alive"}


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Whether this process should be sent traffic",
    responses={
        200: {
            "description": "migrations at head, every projector running and close to the log",
            "content": {"application/json": {"example": READY_EXAMPLE}},
        },
        503: {
            "description": "not ready: the reasons are listed",
            "content": {"application/json": {"example": NOT_READY_EXAMPLE}},
        },
    },
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the database's migrations are at head and every projector is running and at
    most CREDIT_READY_MAX_LAG events behind the log's head; 503 with the reasons otherwise (or
    `database-unavailable` when the database does not answer)."""
    head = await run_in_threadpool(services.ledger.recorder.max_notification_id) or 0
    state = await run_in_threadpool(
        readiness,
        services.write_engine,
        services.runner,
        head,
        services.settings.ready_max_lag,
    )
    return JSONResponse(state.as_json(), status_code=200 if state.ready else 503)


def _read_models(services: Services) -> tuple[int, dict[str, int], int | None]:
    head = services.ledger.recorder.max_notification_id() or 0
    with services.write_engine.connect() as conn:
        newest_change = conn.execute(select(func.max(changes.c.position))).scalar()
    return head, services.runner.positions(), newest_change


def _may_read_metrics(request: Request, services: Services) -> bool:
    settings = services.settings
    token = settings.metrics_token
    given = request.headers.get("authorization", "")
    if token is not None and given.lower().startswith("bearer "):
        return hmac.compare_digest(given[7:].strip(), token.get_secret_value())
    if request.client is None:
        return False
    try:
        address = ip_address(request.client.host)
    except ValueError:  # a test client's or a Unix socket's peer has no address
        return False
    return any(address in network for network in settings.metrics_networks)


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (trusted addresses or the metrics token only)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"example": METRICS_EXAMPLE}},
        },
        **problems(401),
    },
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Requests by route template and status, projection positions and lags, the change
    outbox, access-log batches, database pools in use and import rows."""
    if not _may_read_metrics(request, services):
        raise Unauthorised(
            "metrics are for a caller from CREDIT_METRICS_NETWORKS, or with "
            "Authorization: Bearer <CREDIT_METRICS_TOKEN>",
            error=None,
        )
    body, content_type = await run_in_threadpool(
        render, [ReadModelCollector(lambda: _read_models(services))]
    )
    return Response(body, media_type=content_type)
