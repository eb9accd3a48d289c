"""Administration over HTTP (admin role): API clients, signing keys, erasure of personal data.
Every act goes into the admin log under "client:<client_id>"; creating an auditor or admin
client, resetting one's secret and erasing personal data answer 202 with an approval that a
different administrator gives or refuses (four eyes)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import Admin, Caller
from api.deps import ClientId, ServicesDep, SubjectId
from api.errors import (
    AUTHENTICATED,
    WITH_BODY,
    ClientConflict,
    ClientNotFound,
    InvalidClient,
    InvalidRequest,
    NoSealedPersonalData,
    problems,
)
from api.schemas import (
    ApprovalDone,
    ApprovalRefused,
    ApprovalView,
    ClientCreated,
    ClientView,
    KeyRotated,
    PolicyVersion,
    SecretReset,
    example,
)
from service.access.administration import (
    REASON_LENGTH,
    Done,
    NoPersonalData,
    Pending,
    ReasonRequired,
)
from service.access.clients import ClientError
from service.commanding.commands import Input

router = APIRouter(prefix="/v1/admin", tags=["administration"], responses=problems(*AUTHENTICATED))


class NewClient(Input):
    model_config = example(
        {
            "client_id": "zz-zhifa-01",
            "role": "recorder",
            "agency_name": "郑州市交通运输综合执法支队",
            "agency_code": "11410100MB00000018",
            "authority_codes": ["11410100MB00000018"],
            "sectors": ["road_transport"],
        },
        extra="forbid",
    )
    client_id: Annotated[str, Field(min_length=3, max_length=64)] = Field(
        description="the new client's id: 3 to 64 lower-case letters, digits, dots, dashes and "
        "underscores"
    )
    role: str = Field(
        description="recorder (records for its authorities), agency (reads), auditor or admin"
    )
    agency_name: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the agency it belongs to"
    )
    agency_code: str = Field(description="that agency's unified social credit code")
    authority_codes: list[str] = Field(
        default_factory=list,
        description="a recorder's authorities (USCCs): it may record only as these",
    )
    sectors: list[str] = Field(
        default_factory=list, description="a recorder's sectors: it may record only in these"
    )


class StatedReason(Input):
    model_config = example(
        {"reason": "本人撤回同意，申请删除个人信息（个人信息保护法第四十七条第一款第三项）"},
        extra="forbid",
    )
    reason: Annotated[
        str, Field(min_length=REASON_LENGTH.start, max_length=REASON_LENGTH.stop - 1)
    ] = Field(
        description="why: for an erasure its ground (个人信息保护法 art. 47), for a refusal "
        "what is wrong with the request; read by the other administrator, kept in the admin log"
    )


def _view(client) -> dict:
    return {
        "client_id": client.client_id,
        "role": client.role,
        "agency_name": client.agency_name,
        "agency_code": client.agency_code,
        "authority_codes": list(client.authority_codes),
        "sectors": list(client.sectors),
        "scopes": list(client.scopes),
        "disabled": client.disabled,
    }


@router.get(
    "/clients",
    operation_id="listClients",
    summary="Every API client",
    response_model=list[ClientView],
)
async def list_clients(services: ServicesDep, _: Admin) -> list[dict]:
    """Every client with its role, agency, authority codes, sectors, scopes and whether it is
    disabled; never a secret (only its hash is kept)."""
    return [_view(c) for c in await run_in_threadpool(services.clients.all)]


def actor(caller: Caller) -> str:
    """How the admin log names an administrator acting over the API."""
    return f"client:{caller.client_id}"


def _approval(
    approval_id: UUID, action: str, target: str, requested_by: str, request: dict[str, Any]
) -> dict[str, Any]:
    return {
        "approval_id": str(approval_id),
        "state": "pending",
        "action": action,
        "target": target,
        "requested_by": requested_by,
        "reason": request.get("reason"),
        "approve_at": f"/v1/admin/approvals/{approval_id}:approve",
        "refuse_at": f"/v1/admin/approvals/{approval_id}:refuse",
    }


def _pending(pending: Pending) -> JSONResponse:
    return JSONResponse(
        _approval(
            pending.approval_id,
            pending.action,
            pending.target,
            pending.requested_by,
            pending.request,
        ),
        status_code=status.HTTP_202_ACCEPTED,
    )


PENDING: dict[int | str, dict[str, Any]] = {
    202: {"description": "Waits for a different administrator", "model": ApprovalView}
}


@router.post(
    "/clients",
    operation_id="createClient",
    summary="Create an API client",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientCreated,
    responses={**PENDING, **problems(*WITH_BODY)},
)
async def create_client(body: NewClient, services: ServicesDep, caller: Admin):
    """Create a client; the answer carries its secret, which is never shown again. An auditor
    or admin client is not created yet: 202 with the approval a different administrator
    gives (`POST /v1/admin/approvals/{id}:approve`), whose answer carries the secret."""
    try:
        outcome = await run_in_threadpool(
            services.administration.create_client,
            actor(caller),
            body.client_id,
            body.role,
            body.agency_name,
            body.agency_code,
            body.authority_codes,
            body.sectors,
        )
    except ClientError as error:
        raise InvalidClient(str(error)) from None
    if isinstance(outcome, Pending):
        return _pending(outcome)
    return {**_view(outcome.client), "client_secret": outcome.secret}


@router.post(
    "/clients/{client_id}:disable",
    operation_id="disableClient",
    summary="Disable an API client at once",
    response_model=ClientView,
    responses=problems(409, 422),
)
async def disable_client(client_id: ClientId, services: ServicesDep, caller: Admin) -> dict:
    """Its tokens stop working at once (a disabled client is refused on every request, not
    when its token expires), and it gets no new ones. 409 if there is no such client, or it is
    disabled already."""
    try:
        client = await run_in_threadpool(
            services.administration.disable_client, actor(caller), client_id
        )
    except ClientError as error:
        raise ClientConflict(str(error)) from None
    return _view(client)


@router.post(
    "/clients/{client_id}:reset-secret",
    operation_id="resetClientSecret",
    summary="Give a client a new secret",
    response_model=SecretReset,
    responses={**PENDING, **problems(404, 422)},
)
async def reset_secret(client_id: ClientId, services: ServicesDep, caller: Admin):
    """A new secret (shown once); the old one stops working at once. For an auditor or admin
    client: 202, a different administrator approves and receives the secret."""
    try:
        outcome = await run_in_threadpool(
            services.administration.reset_secret, actor(caller), client_id
        )
    except ClientError as error:
        raise ClientNotFound(str(error)) from None
    if isinstance(outcome, Pending):
        return _pending(outcome)
    return {"client_id": client_id, "client_secret": outcome.secret}


@router.post(
    "/keys:rotate",
    operation_id="rotateTokenSigningKey",
    summary="Sign access tokens with a new key",
    response_model=KeyRotated,
)
async def rotate_keys(services: ServicesDep, caller: Admin) -> dict:
    """New access tokens are signed with a new key; the retired one stays published in the JWKS
    for the tokens' lifetime, so tokens already issued keep working until they expire."""
    return {
        "kid": await run_in_threadpool(services.administration.rotate_signing_key, actor(caller))
    }


@router.post(
    "/subjects/{subject_id}:erase-personal-data",
    operation_id="erasePersonalData",
    summary="Erase a subject's personal data (crypto-shredding)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ApprovalView,
    responses=problems(*WITH_BODY, 404),
)
async def erase_personal_data(
    subject_id: SubjectId, body: StatedReason, services: ServicesDep, caller: Admin
):
    """Crypto-shredding: destroy the subject's data key. Its sealed fields (ID number, phone,
    address) become unreadable for good; every event stays, so the history and its integrity
    checks are unaffected. It cannot be undone, so it waits for a different administrator,
    who reads the stated reason: 202 with the approval."""
    try:
        pending = await run_in_threadpool(
            services.administration.erase_personal_data, actor(caller), subject_id, body.reason
        )
    except NoPersonalData:
        raise NoSealedPersonalData() from None
    except ReasonRequired as error:  # only blanks: the schema's length counts them
        raise InvalidRequest(str(error)) from None
    return _pending(pending)


@router.get(
    "/approvals",
    operation_id="listPendingApprovals",
    summary="Acts waiting for a second administrator",
    response_model=list[ApprovalView],
)
async def pending_approvals(services: ServicesDep, _: Admin) -> list[dict]:
    """Acts waiting for a second administrator, oldest first."""
    rows = await run_in_threadpool(services.administration.approvals)
    return [
        _approval(
            row["approval_id"], row["action"], row["target"], row["requested_by"], row["request"]
        )
        for row in rows
    ]


@router.post(
    "/approvals/{approval_id}:approve",
    operation_id="approveAction",
    summary="Approve another administrator's act (four eyes)",
    response_model=ApprovalDone,
    responses=problems(403, 404, 409, 422),
)
async def approve(
    approval_id: Annotated[
        UUID, Path(description="The approval's id, from the 202 answer that asked for it")
    ],
    services: ServicesDep,
    caller: Admin,
) -> dict:
    """A different administrator approves: the act is carried out now (403 `self-approval`
    for the one who asked). A created client's or reset secret is in this answer only."""
    try:
        done: Done = await run_in_threadpool(
            services.administration.approve, actor(caller), approval_id
        )
    except ClientError as error:
        raise ClientConflict(str(error)) from None
    except NoPersonalData:
        raise NoSealedPersonalData() from None
    answer: dict = {
        "approval_id": str(approval_id),
        "state": "approved",
        "action": done.action,
        "target": done.target,
        "requested_by": done.requested_by,
        "approved_by": done.approved_by,
        "result": done.result,
    }
    if done.client is not None:
        answer["result"] = {**_view(done.client), "client_secret": done.secret}
    if done.account is not None:  # a staff account asked for in the console
        answer["result"] = {"account": done.account.name, "role": done.account.role}
        if done.secret is not None:  # an identity provider's account has no password here
            answer["result"]["password"] = done.secret
        else:
            answer["result"]["provider"] = done.account.provider
    return answer


@router.post(
    "/approvals/{approval_id}:refuse",
    operation_id="refuseAction",
    summary="Refuse another administrator's act (four eyes)",
    response_model=ApprovalRefused,
    responses=problems(*WITH_BODY, 403, 404, 409),
)
async def refuse(
    approval_id: Annotated[
        UUID, Path(description="The approval's id, from the 202 answer that asked for it")
    ],
    body: StatedReason,
    services: ServicesDep,
    caller: Admin,
) -> dict:
    """A different administrator refuses, saying why: the act is never carried out and the
    request leaves the pending list (403 `self-approval` for the one who asked: deciding is
    the second administrator's either way)."""
    try:
        refused = await run_in_threadpool(
            services.administration.refuse, actor(caller), approval_id, body.reason
        )
    except ReasonRequired as error:
        raise InvalidRequest(str(error)) from None
    return {
        "approval_id": str(approval_id),
        "state": "refused",
        "action": refused.action,
        "target": refused.target,
        "requested_by": refused.requested_by,
        "refused_by": refused.refused_by,
        "reason": refused.reason,
    }


@router.get(
    "/policy",
    operation_id="listPolicyVersions",
    summary="The credit policy versions in force",
    response_model=list[PolicyVersion],
)
async def policy_versions(services: ServicesDep, _: Admin) -> list[dict]:
    """The policy versions in force, in order. They are managed as the versioned policy file
    (reviewed like code, each value with its source): add a version there with its
    effective date and restart; a faulty file stops the start with the exact place."""
    return [
        {
            "id": v.id,
            "effective_from": v.effective_from,
            "title": v.title,
            "schemes": sorted(v.schemes),
            "supervision": [
                {"tier": t.name, "sampling_ratio": str(t.sampling_ratio)} for t in v.supervision
            ],
        }
        for v in services.policy.versions
    ]
