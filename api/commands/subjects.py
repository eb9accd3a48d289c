"""Register subjects and append events to their streams."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Body, Header, Request, Response, status
from starlette.concurrency import run_in_threadpool

from api.auth import RECORD, Purpose, Recorder, access_entry, authenticated, require, with_scope
from api.deps import ServicesDep, SubjectId, get_services
from api.docs import header_docs
from api.errors import (
    AUTHENTICATED,
    WITH_BODY,
    IfMatchNamesNoVersion,
    InvalidIfMatch,
    problems,
)
from api.fast_path import FastPathRoute, fast_path
from api.schemas import Acknowledged, RecordAcknowledged
from service.commanding.commands import RECORD_COMMANDS, AnyRecordCommand, RegisterSubject

router = APIRouter(
    prefix="/v1",
    tags=["recording"],
    responses=problems(*AUTHENTICATED, *WITH_BODY, 409),
    route_class=FastPathRoute,
)

LOCATION = {"Location": "the subject's status: /v1/subjects/{subject_id}"}
ETAG = {"ETag": 'the stream version after the write, e.g. "3": send it as If-Match to append next'}
# One example body per record type, by its own command's example: Swagger UI offers them all.
RECORD_EXAMPLES = {
    record_type: {"summary": model.__doc__ or record_type, "value": example}
    for record_type, model in RECORD_COMMANDS.items()
    for example in model.model_json_schema()["examples"][:1]
}
IDEMPOTENCY_KEY = Header(
    alias="Idempotency-Key",
    min_length=1,
    max_length=200,
    description="Makes a retried POST return the first answer instead of writing again.",
)
IF_MATCH = Header(
    alias="If-Match",
    max_length=40,
    description="The stream version the write expects (optimistic concurrency, 412 if not).",
)


@router.post(
    "/subjects",
    operation_id="registerSubject",
    summary="Register a subject: open its credit file",
    status_code=status.HTTP_201_CREATED,
    response_model=Acknowledged,
    responses={
        201: {"description": "Registered", "headers": header_docs(LOCATION)},
        200: {
            "description": "The code was registered before; that subject is returned",
            "model": Acknowledged,
            "headers": header_docs(LOCATION),
        },
    },
)
def register_subject(
    command: RegisterSubject,
    services: ServicesDep,
    caller: Recorder,
    response: Response,
    why: Purpose,
) -> Acknowledged:
    """Open a subject's credit file. Registering a known code returns the existing subject,
    which tells the caller that the code is registered and its subject id: that answer is a
    read, logged in the access log (`register_known`) before it leaves."""
    ack = services.files.register(command, recorded_by=caller.client_id, permit=caller.permit())
    if not ack.created:
        services.access_log.append(
            [access_entry(caller, ack.subject_id, "register_known", why, {"version": ack.version})]
        )
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/subjects/{ack.subject_id}"
    return Acknowledged(
        subject_id=ack.subject_id, version=ack.version, position=ack.position, created=ack.created
    )


async def _plain_append(request: Request) -> Response | None:
    """The usual append (a JSON body of one record, the id and headers well formed) without
    FastAPI's dependency solving. Its id, headers and body are validated first, on the route's
    own fields (the parameters as FastAPI reads them: `PlainParams`), and anything that would
    fail is declined, for FastAPI to solve and answer its validation error as before (these
    checks change nothing; the body, once read, stays on the request for FastAPI). Then the
    dependencies, in the order FastAPI solves them: the services, the token (`authenticated`),
    the scope (credit:record); then the endpoint in a worker thread, as FastAPI runs a plain
    `def`, and its answer serialised by the route's response model, with the status and
    headers it set."""
    if request.headers.get("content-type") != "application/json":
        return None
    route = request.scope["route"]
    path, path_errors = route.read_path_params(request.path_params)
    headers, header_errors = route.read_header_params(request.headers)
    if path_errors or header_errors:
        return None
    try:
        body = await request.json()
    except Exception:  # cut short, over the size limit, not JSON: FastAPI reads and answers
        return None
    command, body_errors = route.body_field.validate(body, {}, loc=("body",))
    if body_errors:
        return None
    services = await get_services(request)
    caller = with_scope(await authenticated(request), RECORD)
    # The response FastAPI gives an endpoint to set its status and headers on.
    answered = Response()
    del answered.headers["content-length"]
    answered.status_code = None  # type: ignore[assignment]
    ack = await run_in_threadpool(
        append_event,
        **path,
        **headers,
        command=command,
        services=services,
        caller=caller,
        response=answered,
    )
    response = Response(
        route.response_field.serialize_json(ack),
        status_code=answered.status_code or route.status_code,
        media_type="application/json",
    )
    response.headers.raw.extend(answered.headers.raw)
    return response


@router.post(
    "/subjects/{subject_id}/events",
    operation_id="appendRecord",
    summary="Record an event in a subject's credit file",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordAcknowledged,
    responses={
        201: {"description": "Recorded", "headers": header_docs(ETAG)},
        200: {
            "description": "The same record (type, authority, decision number) is "
            "already in the stream; nothing was written",
            "model": RecordAcknowledged,
            "headers": header_docs(ETAG),
        },
        **problems(404, 412),
    },
)
@fast_path(_plain_append, checks=(get_services, require(RECORD), authenticated))
def append_event(
    subject_id: SubjectId,
    command: Annotated[AnyRecordCommand, Body(openapi_examples=RECORD_EXAMPLES)],
    services: ServicesDep,
    caller: Recorder,
    response: Response,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
    if_match: Annotated[str | None, IF_MATCH] = None,
) -> RecordAcknowledged:
    """Append one event of the catalogue (the `type` field chooses which) to a subject's stream."""
    ack = services.files.append(
        subject_id,
        command,
        recorded_by=caller.client_id,
        permit=caller.permit(),
        request_key=idempotency_key,
        expected_version=_expected_version(if_match),
    )
    if not ack.created and not ack.replayed:
        response.status_code = status.HTTP_200_OK
    response.headers["ETag"] = f'"{ack.version}"'
    assert ack.record_id is not None
    return RecordAcknowledged(
        subject_id=ack.subject_id,
        record_id=ack.record_id,
        event_id=ack.record_id,
        version=ack.version,
        position=ack.position,
        created=ack.created or ack.replayed,
    )


# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E /
# obs-text (header values arrive decoded as Latin-1, so obs-text is U+0080-U+00FF here).
ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
# The ETags this service gives: the stream version in ASCII digits ("²" is a digit to
# str.isdigit() and not to int()); 18 of them stay below 2**63.
VERSION_TAG = re.compile(r"[0-9]{1,18}")


def _expected_version(if_match: str | None) -> int | None:
    """The version If-Match pins, None for `*` (any: the subject must exist). A value that is
    not one entity-tag is malformed (400); a well-formed tag no version of a stream carries
    (weak, not a number, or too long a one) makes the precondition false (412), as RFC 9110
    §13.1.1 says, and nothing is written."""
    if if_match is None:
        return None
    value = if_match.strip()
    if value == "*":
        return None
    tag = ENTITY_TAG.fullmatch(value)
    if tag is None:
        raise InvalidIfMatch(
            'If-Match must be one entity-tag, the stream version: e.g. If-Match: "3"'
        )
    weak, opaque = tag.groups()
    if weak or not VERSION_TAG.fullmatch(opaque):
        # If-Match compares strongly: a weak tag never matches, nor a tag that is no version.
        raise IfMatchNamesNoVersion(
            f"If-Match {value[:50]!r} names no version of a stream: send the stream version, "
            'e.g. If-Match: "3"',
        )
    return int(opaque)
