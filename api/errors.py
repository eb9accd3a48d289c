"""Every error as RFC 9457 problem+json with a stable `type`, mapped in one place."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from api.observability import route_template
from api.schemas import ProblemDetails
from domain import codes
from domain.errors import (
    ApprovalNotFound,
    ApprovalNotPending,
    CaseNotFound,
    CaseNumbersExhausted,
    ChainedLogCut,
    CheckpointNotFound,
    DomainError,
    DuplicateRecordConflict,
    EventNotSealed,
    IdempotencyKeyReused,
    InvalidInput,
    NotRecordOwner,
    NotYetCheckpointed,
    RecordNotFound,
    RuleViolated,
    SealNoLongerHolds,
    SelfApproval,
    SubjectKindMismatch,
    SubjectNotFound,
    VersionMismatch,
)
from domain.rule_texts import rule_text_zh
from service.access.permissions import NotPermitted
from service.commanding.commands import MAX_NESTING
from service.commanding.credit_files import ConcurrencyConflict
from service.commanding.importing.limits import ImportFileError, ImportTooLarge
from service.integrity.export import ExportRangeError
from service.store.database import DATABASE_ERRORS, database_unavailable

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://credit-transport.example/problems/"
PROBLEM_JSON = "application/problem+json"
TOO_DEEP = f"the request body's JSON is nested deeper than {MAX_NESTING} levels"
# A database restart takes seconds; a client that waits this long before retrying finds it back.
DATABASE_RETRY_AFTER_SECONDS = 5


class HttpProblem(Exception):
    """A failure of the HTTP exchange rather than a refusal by the domain: no valid token or
    scope, too many requests, a body too large, a parameter or header no schema can check, a
    read model not there yet, or what a service answers without a domain error (no such
    client, no replay check). Each subclass is one problem type, with its `code` here and its
    status in STATUS below."""

    code = "http-error"

    def __init__(self, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class InvalidRequest(HttpProblem):
    """A parameter or header fails a check its schema cannot express (X-Purpose, as_of, ...)."""

    code = "validation-error"


class InvalidCursor(HttpProblem):
    code = "invalid-cursor"

    def __init__(self) -> None:
        super().__init__("this cursor was not issued by this service")


class InvalidIfMatch(HttpProblem):
    """If-Match is not one entity-tag (RFC 9110 §8.8.3)."""

    code = "invalid-if-match"


class IfMatchNamesNoVersion(HttpProblem):
    """A well-formed If-Match that no stream version carries: the precondition is false."""

    code = VersionMismatch.code


class Unauthorised(HttpProblem):
    """No valid bearer token; the challenge names the error, if a token was sent (RFC 6750)."""

    code = "unauthorised"

    def __init__(self, detail: str, error: str | None = "invalid_token"):
        challenge = f'Bearer error="{error}"' if error else "Bearer"
        super().__init__(detail, {"WWW-Authenticate": challenge})


class InsufficientScope(HttpProblem):
    """The token lacks a scope: the caller's scopes are its token's (narrowed at issue with
    `scope=`), intersected with its role's; the role alone grants nothing. With `scope`, the
    challenge names the scope wanted (RFC 6750 §3.1)."""

    code = "insufficient-scope"

    def __init__(self, detail: str, scope: str | None = None):
        challenge = f'Bearer error="insufficient_scope", scope="{scope}"'
        super().__init__(detail, {"WWW-Authenticate": challenge} if scope else None)


class NotDecidingAgency(HttpProblem):
    """The access log is for auditors and the subject's deciding agencies."""

    code = "not-deciding-agency"


class TooManyRequests(HttpProblem):
    code = "rate-limited"

    def __init__(self, detail: str, retry_after_seconds: int):
        super().__init__(detail, {"Retry-After": str(retry_after_seconds)})


class PayloadTooLarge(HttpProblem):
    code = "payload-too-large"

    def __init__(self, limit: int):
        super().__init__(f"the request body is larger than {limit} bytes")


class DeadlineExceeded(HttpProblem):
    code = "deadline-exceeded"

    def __init__(self, seconds: float):
        super().__init__(
            f"no answer could be given within {seconds:g} s (the database may be "
            "unavailable or the service overloaded); retry later (a write retried with the same "
            "Idempotency-Key is recorded once)"
        )


class ProjectionBehind(HttpProblem):
    """Read-your-writes: the read models have not reached `min_position` in time."""

    code = "projection-behind"


class ProjectionStopped(HttpProblem):
    """Read-your-writes: a read model stopped on a failure moves on only once resumed."""

    code = "projection-stopped"


class NoSuchAction(HttpProblem):
    """The path names an action there is none of: answered like an unknown path."""

    code = "not-found"


class InvalidClient(HttpProblem):
    """A client cannot be created as asked."""

    code = "invalid-client"


class ClientConflict(HttpProblem):
    """A client cannot be changed as asked, given what it is now."""

    code = "invalid-client"


class ClientNotFound(HttpProblem):
    code = "client-not-found"


class NoSealedPersonalData(HttpProblem):
    code = "no-personal-data"

    def __init__(self) -> None:
        super().__init__("this subject has no sealed personal data (or it was erased before)")


class ErasedPersonalData(HttpProblem):
    code = "personal-data-erased"

    def __init__(self) -> None:
        super().__init__("this subject's personal data was erased (its key was destroyed)")


class ReplayCheckNotFound(HttpProblem):
    code = "replay-check-not-found"


class ReportNotFound(HttpProblem):
    """No credit report has this number (or it is not the caller's to read)."""

    code = "report-not-found"


class SubscriptionNotFound(HttpProblem):
    """No subscription has this id, or it is another client's (not told apart)."""

    code = "subscription-not-found"


class WebhookTargetRefused(HttpProblem):
    """A callback URL the service will not call: not https in production, or resolving to a
    private, loopback, link-local, multicast or reserved address."""

    code = "webhook-target-refused"


class NoWebhook(HttpProblem):
    """The subscription has no webhook, so there is nothing to resume."""

    code = "no-webhook"


class NoticeNotFound(HttpProblem):
    """No notice has this id, or it is another client's (not told apart)."""

    code = "notice-not-found"


class NoticeAlreadyAcknowledged(HttpProblem):
    """The notice was acknowledged before; the first acknowledgement stands."""

    code = "notice-already-acknowledged"


class ReplayCheckRunning(HttpProblem):
    """One replay check runs at a time; the answer names the running one, if it is known."""

    code = "replay-check-running"


# The status of every error a route lets through, by class (a subclass by its nearest listed
# class); an error of the domain listed nowhere is a conflict (409).
STATUS: dict[type[Exception], int] = {
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
    SealNoLongerHolds: 409,
    NotRecordOwner: 403,
    CaseNumbersExhausted: 503,
    CheckpointNotFound: 404,
    EventNotSealed: 404,
    NotYetCheckpointed: 409,
    InvalidRequest: 422,
    InvalidCursor: 400,
    InvalidIfMatch: 400,
    IfMatchNamesNoVersion: 412,
    Unauthorised: 401,
    InsufficientScope: 403,
    NotDecidingAgency: 403,
    TooManyRequests: 429,
    PayloadTooLarge: 413,
    DeadlineExceeded: 503,
    ProjectionBehind: 503,
    ProjectionStopped: 503,
    NoSuchAction: 404,
    InvalidClient: 422,
    ClientConflict: 409,
    ClientNotFound: 404,
    NoSealedPersonalData: 404,
    ErasedPersonalData: 410,
    ReplayCheckNotFound: 404,
    ReplayCheckRunning: 409,
    ReportNotFound: 404,
    SubscriptionNotFound: 404,
    WebhookTargetRefused: 422,
    NoWebhook: 409,
    NoticeNotFound: 404,
    NoticeAlreadyAcknowledged: 409,
    ImportTooLarge: 413,
    ImportFileError: 422,
    ExportRangeError: 422,
}
# The type of a service's error that carries no `code` of its own; its message is the detail.
SERVICE_TYPES: dict[type[Exception], str] = {
    ImportTooLarge: "import-too-large",
    ImportFileError: "import-file-invalid",
    ExportRangeError: "validation-error",
}
# Errors a client may retry, and when: today's case numbers of a kind ran out (a million
# filings), and tomorrow's series is fresh; a request found no answer in time, or a read
# model not there yet (one stopped on a failure waits for an operator: minutes, not a second).
RETRY_AFTER_SECONDS: dict[type[Exception], int] = {
    CaseNumbersExhausted: 3600,
    DeadlineExceeded: 5,
    ProjectionBehind: 1,
    ProjectionStopped: 30,
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
# The titles for a client that asks for Chinese (Accept-Language: zh-CN).
TITLES_ZH = {
    400: "请求有误",
    401: "未认证",
    403: "无权操作",
    404: "未找到",
    405: "不支持该方法",
    409: "与现有状态冲突",
    410: "已删除",
    412: "前提条件不成立",
    413: "请求体过大",
    415: "不支持的媒体类型",
    422: "请求内容无法处理",
    429: "请求过于频繁",
    500: "服务内部错误",
    503: "服务暂不可用",
    504: "网关超时",
}
ENGLISH, CHINESE = "en", "zh-CN"
# What a problem can be told in. The Chinese texts are Simplified Chinese, the only ones there
# are: a client asking for any Chinese (zh, zh-Hans-CN, zh-TW ...) is given them.
LANGUAGES = (ENGLISH, CHINESE, "zh")


def language_of(accept_language: str | None) -> str:
    """ENGLISH or CHINESE, by the request's Accept-Language (RFC 9110 §12.5.4: quality values
    weigh, q=0 refuses); English when it names neither."""
    if not accept_language:
        return ENGLISH
    accepted = parse_accept_header(accept_language, LanguageAccept)
    chosen = accepted.best_match(LANGUAGES, default=ENGLISH)
    return ENGLISH if chosen == ENGLISH else CHINESE


# What each problem status means in the OpenAPI document, and the headers it comes with.
MEANINGS = {
    400: "Malformed request: a body that is not JSON, a bad cursor or If-Match",
    401: "No valid access token (`WWW-Authenticate` says which scheme)",
    403: "The token lacks the scope, or the client the authority, sector or role; or the "
    "record acted on belongs to another authority (`owner_authority_code` names it)",
    404: "No such subject, case, checkpoint, event, credit report or subscription",
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


def status_of(error: Exception) -> int:
    return next((STATUS[cls] for cls in type(error).__mro__ if cls in STATUS), 409)


def _service_type(error: Exception) -> str:
    return next(SERVICE_TYPES[cls] for cls in type(error).__mro__ if cls in SERVICE_TYPES)


def problem_document(
    instance: str, status: int, code: str, detail: str, language: str = ENGLISH, **extra: Any
) -> dict[str, Any]:
    """The problem, in `language`: a refusal under a rule with a Chinese text is told in it,
    its English detail kept beside it (it may name the values at fault); any other keeps its
    English detail under a Chinese title. The `type` is the same in every language."""
    # a detail may quote what was sent (a reference, a code): never an ID number in full
    detail = codes.mask_id_numbers(detail)
    if language == ENGLISH:
        return {
            "type": PROBLEM_BASE + code,
            "title": TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "instance": instance,
            **extra,
        }
    told = rule_text_zh(extra.get("rule"))
    return {
        "type": PROBLEM_BASE + code,
        "title": TITLES_ZH.get(status, "错误"),
        "status": status,
        "detail": told or detail,
        "instance": instance,
        **({"detail_en": detail} if told else {}),
        **extra,
    }


def _negotiated(document: dict[str, Any]) -> dict[str, str]:
    """The answer varies with Accept-Language; it says when its detail is in Chinese."""
    said_in = {"Content-Language": CHINESE} if "detail_en" in document else {}
    return {"Vary": "Accept-Language", **said_in}


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    language = language_of(request.headers.get("accept-language"))
    body = problem_document(request.url.path, status, code, detail, language, **extra)
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={**(headers or {}), **_negotiated(body)},
    )


def _headers(error: Exception, own: dict[str, str] | None = None) -> dict[str, str] | None:
    retry_after = RETRY_AFTER_SECONDS.get(type(error))
    if retry_after is None:
        return own or None
    return {**(own or {}), "Retry-After": str(retry_after)}


async def send_problem(scope: dict, send: Any, error: HttpProblem) -> None:
    """Answer from ASGI middleware, which sits outside the application's handlers (a body over
    the limit, no answer in time)."""
    status = status_of(error)
    accept_language = next(
        (value.decode("latin-1") for name, value in scope["headers"] if name == b"accept-language"),
        None,
    )
    document = problem_document(
        scope["path"], status, error.code, error.detail, language_of(accept_language), **error.extra
    )
    body = json.dumps(document).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    own = {**(_headers(error, error.headers) or {}), **_negotiated(document)}
    headers += [(k.lower().encode(), v.encode()) for k, v in own.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        extra: dict[str, Any] = {}
        if isinstance(error, NotRecordOwner):
            extra["owner_authority_code"] = error.owner
        if error.rule is not None:
            extra["rule"] = str(error.rule)
        return problem_response(
            request, status_of(error), error.code, error.detail, _headers(error), **extra
        )

    @app.exception_handler(HttpProblem)
    async def on_http_problem(request: Request, error: HttpProblem) -> JSONResponse:
        return problem_response(
            request,
            status_of(error),
            error.code,
            error.detail,
            _headers(error, error.headers),
            **error.extra,
        )

    async def on_service_error(request: Request, error: Exception) -> JSONResponse:
        return problem_response(request, status_of(error), _service_type(error), str(error))

    for error_class in SERVICE_TYPES:
        app.add_exception_handler(error_class, on_service_error)

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
        # the route's template, not the path: paths hold ids (the request id joins the lines)
        log.exception("unhandled error on %s %s", request.method, route_template(request.scope))
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
            route_template(request.scope),
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
