"""The administrator's accounts page: create a staff account, disable one, reset a password,
and see what waits for a second administrator (四眼原则: an auditor or admin account, or such
an account's new password, waits as such a client does; approving is `approvals.py`'s).

Every act goes through `Administration`, into the admin log under "account:<name>". A new
password is shown once, in the answer to the form that made it, and never stored in clear."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ADMIN
from api.console.approvals import pending, waiting
from api.console.layout import ROLE_NAMES, role_name
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.deps import ServicesDep
from service.access.accounts import Account
from service.access.administration import (
    ADMIT_ACCOUNT,
    CREATE_ACCOUNT,
    RESET_PASSWORD,
    Done,
    Pending,
)
from service.access.clients import ClientError

router = APIRouter(prefix="/console/admin", tags=["staff console"], include_in_schema=False)
Administrator = Annotated[Staff, page_for(ADMIN)]
ACCOUNT_ACTS = (CREATE_ACCOUNT, RESET_PASSWORD, ADMIT_ACCOUNT)
EMPTY_FORM = {
    "name": "",
    "display_name": "",
    "role": "",
    "agency_name": "",
    "agency_code": "",
    "authority_codes": "",
    "sectors": "",
}


def one_per_line(text: str) -> list[str]:
    """One entry per line or comma (全角逗号 too), blanks dropped."""
    parts = text.replace("，", ",").replace(",", "\n").splitlines()
    return [part.strip() for part in parts if part.strip()]


def _row(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "display_name": account.display_name,
        "agency_name": account.agency_name,
        "role": role_name(account.role),
        "disabled": account.disabled,
        "builtin": account.provider == "builtin",
    }


async def _page(
    request: Request,
    services: Any,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    result: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    accounts = await run_in_threadpool(services.accounts.all)
    return render(
        request,
        "console/accounts.html",
        staff,
        status_code=status_code,
        message=message,
        result=result,
        form=form or EMPTY_FORM,
        roles=list(ROLE_NAMES.items()),
        accounts=[_row(account) for account in accounts],
        approvals=await pending(services, staff, ACCOUNT_ACTS),
    )


def _handed_over(done: Done) -> dict[str, str]:
    """What the administrator hands to the person: the name and the password, once."""
    assert done.account is not None and done.secret is not None
    return {
        "name": done.account.name,
        "display_name": done.account.display_name,
        "password": done.secret,
    }


@router.get("/accounts", response_class=HTMLResponse)
async def accounts_page(request: Request, services: ServicesDep, staff: Administrator):
    return await _page(request, services, staff)


@router.post("/accounts", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def create_account(
    request: Request,
    services: ServicesDep,
    staff: Administrator,
    name: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    agency_name: Annotated[str, Form()] = "",
    agency_code: Annotated[str, Form()] = "",
    authority_codes: Annotated[str, Form()] = "",
    sectors: Annotated[str, Form()] = "",
):
    form = {
        "name": name,
        "display_name": display_name,
        "role": role,
        "agency_name": agency_name,
        "agency_code": agency_code,
        "authority_codes": authority_codes,
        "sectors": sectors,
    }
    try:
        outcome = await run_in_threadpool(
            services.administration.create_account,
            staff.actor,
            name.strip(),
            display_name,
            role,
            agency_name,
            agency_code.strip(),
            one_per_line(authority_codes),
            one_per_line(sectors),
        )
    except ClientError as error:  # an AccountError, worded for this page
        return await _page(request, services, staff, status_code=422, message=str(error), form=form)
    if isinstance(outcome, Pending):
        return await _page(request, services, staff, status_code=202, message=waiting(outcome))
    return await _page(request, services, staff, status_code=201, result=_handed_over(outcome))


@router.post("/accounts/{name}/disable", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def disable_account(name: str, request: Request, services: ServicesDep, staff: Administrator):
    if name == staff.account.name:
        return await _page(
            request, services, staff, status_code=409, message="不能停用自己正在使用的账号。"
        )
    try:
        account = await run_in_threadpool(
            services.administration.disable_account, staff.actor, name
        )
    except ClientError as error:
        return await _page(request, services, staff, status_code=409, message=str(error))
    return await _page(
        request, services, staff, message=f"已停用账号 {account.name}，其登录会话已全部结束。"
    )


@router.post(
    "/accounts/{name}/reset-password", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
async def reset_password(name: str, request: Request, services: ServicesDep, staff: Administrator):
    try:
        outcome = await run_in_threadpool(services.administration.reset_password, staff.actor, name)
    except ClientError as error:
        return await _page(request, services, staff, status_code=404, message=str(error))
    if isinstance(outcome, Pending):
        return await _page(request, services, staff, status_code=202, message=waiting(outcome))
    return await _page(request, services, staff, result=_handed_over(outcome))
