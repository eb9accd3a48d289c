"""The administrator's API clients page: every client with its role, agency and grants; create
one (its secret shown once), disable one, give one a new secret. The same `Administration`
calls as `/v1/admin/clients` and `credit clients`, logged under "account:<name>": an auditor or
admin client, and such a client's new secret, wait for a second administrator (四眼原则)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ADMIN
from api.console.accounts import one_per_line
from api.console.approvals import pending, waiting
from api.console.layout import ROLE_NAMES, role_name
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.deps import ServicesDep
from service.access.administration import CREATE_CLIENT, RESET_SECRET, Done, Pending
from service.access.clients import Client, ClientError

router = APIRouter(prefix="/console/admin", tags=["staff console"], include_in_schema=False)
Administrator = Annotated[Staff, page_for(ADMIN)]
CLIENT_ACTS = (CREATE_CLIENT, RESET_SECRET)
FIELDS = ("client_id", "role", "agency_name", "agency_code", "authority_codes", "sectors")


def _row(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "role": role_name(client.role),
        "agency_name": client.agency_name,
        "agency_code": client.agency_code,
        "authority_codes": "、".join(client.authority_codes),
        "sectors": "、".join(client.sectors),
        "disabled": client.disabled,
    }


async def _page(
    request: Request,
    services: Any,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    notice: str = "",
    result: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    clients = await run_in_threadpool(services.clients.all)
    return render(
        request,
        "console/clients.html",
        staff,
        status_code=status_code,
        message=message,
        notice=notice,
        result=result,
        form=form or dict.fromkeys(FIELDS, ""),
        roles=list(ROLE_NAMES.items()),
        clients=[_row(client) for client in clients],
        approvals=await pending(services, staff, CLIENT_ACTS),
    )


def _handed_over(done: Done) -> dict[str, str]:
    """What the administrator hands to the agency's system: the id and the secret, once."""
    assert done.client is not None and done.secret is not None
    return {"client_id": done.client.client_id, "secret": done.secret}


@router.get("/clients", response_class=HTMLResponse)
async def clients_page(request: Request, services: ServicesDep, staff: Administrator):
    return await _page(request, services, staff)


@router.post("/clients", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def create_client(
    request: Request,
    services: ServicesDep,
    staff: Administrator,
    client_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    agency_name: Annotated[str, Form()] = "",
    agency_code: Annotated[str, Form()] = "",
    authority_codes: Annotated[str, Form()] = "",
    sectors: Annotated[str, Form()] = "",
):
    form = {
        "client_id": client_id,
        "role": role,
        "agency_name": agency_name,
        "agency_code": agency_code,
        "authority_codes": authority_codes,
        "sectors": sectors,
    }
    try:
        outcome = await run_in_threadpool(
            services.administration.create_client,
            staff.actor,
            client_id.strip(),
            role,
            agency_name,
            agency_code.strip(),
            one_per_line(authority_codes),
            one_per_line(sectors),
        )
    except ClientError as error:
        return await _page(
            request, services, staff, status_code=422, message=error.in_chinese, form=form
        )
    if isinstance(outcome, Pending):
        return await _page(request, services, staff, status_code=202, notice=waiting(outcome))
    return await _page(request, services, staff, status_code=201, result=_handed_over(outcome))


@router.post(
    "/clients/{client_id}/disable", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
async def disable_client(
    client_id: str, request: Request, services: ServicesDep, staff: Administrator
):
    """At once: its tokens are refused from the next request on (within the client cache's
    few seconds), and it gets no new ones. A disabled client is never enabled again."""
    try:
        client = await run_in_threadpool(
            services.administration.disable_client, staff.actor, client_id
        )
    except ClientError as error:
        return await _page(request, services, staff, status_code=409, message=error.in_chinese)
    notice = f"已停用客户端 {client.client_id}，其访问令牌立即失效。"
    return await _page(request, services, staff, notice=notice)


@router.post(
    "/clients/{client_id}/reset-secret", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
async def reset_secret(
    client_id: str, request: Request, services: ServicesDep, staff: Administrator
):
    """A new secret, shown once; the old one stops working at once."""
    try:
        outcome = await run_in_threadpool(
            services.administration.reset_secret, staff.actor, client_id
        )
    except ClientError as error:
        return await _page(request, services, staff, status_code=404, message=error.in_chinese)
    if isinstance(outcome, Pending):
        return await _page(request, services, staff, status_code=202, notice=waiting(outcome))
    return await _page(request, services, staff, result=_handed_over(outcome))
