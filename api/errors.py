"""Every error as RFC 9457 problem+json with a stable `type`, mapped in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ProblemDetails
from domain import codes
from domain.errors import (
    ApprovalNotFound,
    ApprovalNotPending,
    CaseNotFound,
    CaseNumbersExhausted,
    ChainedLogCut,
    DomainError,
    DuplicateRecordConflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotRecordOwner,
    RecordNotFound,
    RuleViolated,
    SelfApproval,
    SubjectKindMismatch,
    SubjectNotFound,
    VersionMismatch,
)
from service.access.permissions import NotPermitted
from service.commands import MAX_NESTING
from service.credit_files import ConcurrencyConflict
from service.database import DATABASE_ERRORS, database_unavailable

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://credit-transport.example/problems/"
PROBLEM_JSON = "application/problem+json"
TOO_DEEP = f"the request body's JSON is nested deeper than {MAX_NESTING} levels"
# A database restart takes seconds; a client that waits this long before retrying finds it back.
DATABASE_RETRY_AFTER_SECONDS = 5
# Domain errors a client may retry, and when: today's case numbers of a kind ran out (a
# million filings), and tomorrow's series is fresh.
RETRY_AFTER_SECONDS: dict[type[DomainError], int] = {CaseNumbersExhausted: 3600}

DOMAIN_STATUS: dict[type[DomainError], int] = {
    InvalidInput: 422,
    CaseNotFound: 404,
    SubjectNotFound: 404,
    RecordNotFound: 422,
    SubjectKindMismatch: 409,
    RuleViolated: 409,
    DuplicateRecordConflict: 409,
    IdempotencyKeyReused: 422,
    VersionMismatch: 412,
    ConcurrencyConflict: 409,
    NotPermitted: 403,
    ApprovalNotFound: 404,
    SelfApproval: 403,
    ApprovalNotPending: 409,
    ChainedLogCut: 409,
    NotRecordOwner: 403,
    CaseNumbersExhausted: 503,
}
TITLES = {
    400: "Bad request",
    401: "Unauthorised",
    403: "Forbidden",
    429: "Too many requests",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    503: "Service unavailable",
    504: "Gateway timeout",
}


# What each problem status means in the OpenAPI document, and the headers it comes with.
MEANINGS = {
    400: "Malformed request: a body that is not JSON, a bad cursor or If-Match",
    401: "No valid access token (`WWW-Authenticate` says which scheme)",
    403: "The token lacks the scope, or the client the authority, sector or role; or the "
    "record acted on belongs to another authority (`owner_authority_code` names it)",
    404: "No such subject, case, checkpoint or event",
    409: "A business rule forbids it now, or it conflicts with what is recorded",
    410: "The personal data was erased",
    412: "The stream is not at the version `If-Match` named",
    413: "The request body is over the size limit",
    422: "The request does not validate (`errors` lists where and why)",
    429: "Too many requests: wait `Retry-After` seconds",
    503: "The read models have not reached `min_position` yet: retry after `Retry-After`",
}
_SECONDS = {"schema": {"type": "integer", "minimum": 1}, "description": "seconds to wait"}
HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": _SECONDS},
    503: {"Retry-After": _SECONDS},
}
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem+json answers a route may give, for its (or its router's) `responses`."""
    return {
        status: {
            "description": MEANINGS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
            **({"headers": HEADERS[status]} if status in HEADERS else {}),
        }
        for status in statuses
    }


# The answers of every route behind a bearer token, and of every route that reads a body.
AUTHENTICATED = (401, 403, 429)
WITH_BODY = (400, 413, 422)


class Problem(Exception):
    """Raised by routes for failures that are not domain refusals (e.g. a bad cursor)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        # a detail may quote what was sent (a reference, a code): never an ID number in full
        "detail": codes.mask_id_numbers(detail),
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Map every error to problem+json, and put the Problem schema in the OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = app.openapi_schema = FastAPI.openapi(app)  # it caches there too
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = ProblemDetails.model_json_schema()
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, error: DomainError) -> JSONResponse:
        status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(error, cls)), 409)
        extra = {"owner_authority_code": error.owner} if isinstance(error, NotRecordOwner) else {}
        retry_after = RETRY_AFTER_SECONDS.get(type(error))
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return problem_response(request, status, error.code, error.detail, headers, **extra)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            request, error.status, error.code, error.detail, error.headers, **error.extra
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": list(e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in error.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                request, 400, "malformed-json", "the request body is not valid JSON", errors=errors
            )
        if any(e["type"] == "json_too_deep" for e in errors):
            return problem_response(request, 400, "malformed-json", TOO_DEEP, errors=errors)
        first: dict[str, Any] = (
            errors[0] if errors else {"location": [], "message": "invalid request"}
        )
        where = ".".join(str(part) for part in first["location"][1:])
        message = first["message"].removeprefix("Value error, ")
        # a check of the whole body names the field in its message ("facts: contains ...")
        detail = f"{where}: {message}" if where else message
        return problem_response(request, 422, "validation-error", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        detail = str(error.detail)
        if error.status_code == 400 and "parsing the body" in detail:
            # a body that is not UTF-8 fails before JSON parsing: the same problem to a client;
            # so does JSON nested past what the parser's recursion allows
            code, detail = "malformed-json", "the request body is not valid UTF-8 JSON"
            if isinstance(error.__cause__, RecursionError):
                detail = TOO_DEEP
        return problem_response(request, error.status_code, code, detail, dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            500,
            "internal-error",
            "the service failed to handle this request; it was logged",
        )

    async def on_database_error(request: Request, error: Exception) -> JSONResponse:
        if not database_unavailable(error):
            return await on_unexpected(request, error)
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            str(error).strip().splitlines()[0] if str(error).strip() else repr(error),
        )
        return problem_response(
            request,
            503,
            "database-unavailable",
            "the database is unavailable or did not answer in time; retry later (a write "
            "retried with the same Idempotency-Key is recorded once)",
            {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    for error_class in DATABASE_ERRORS:  # the most specific handler wins, by the error's MRO
        app.add_exception_handler(error_class, on_database_error)
