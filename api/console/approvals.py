"""The one list of acts waiting for a second administrator (四眼原则), of every kind: staff
accounts, API clients, erasures of personal data. Each admin page shows its own kinds from it
(`pending`), and this page shows them all; approving and refusing are here, for every kind.

Only a different administrator than the one who asked is offered the buttons, and the service
refuses the requester anyway (`SelfApproval`). What an approval hands out (a password, a client
secret) is shown once, in the answer to the approving form, to that administrator."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ADMIN, log_reads
from api.console.layout import role_name
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.deps import ServicesDep
from api.templating import chinese_moment
from domain.errors import ApprovalNotFound, ApprovalNotPending, SelfApproval
from projections.credit_file.queries import masked_codes
from service.access.administration import (
    ADMIT_ACCOUNT,
    CREATE_ACCOUNT,
    CREATE_CLIENT,
    ERASE,
    RESET_PASSWORD,
    RESET_SECRET,
    Done,
    NoPersonalData,
    Pending,
    ReasonRequired,
)
from service.access.clients import ClientError

router = APIRouter(prefix="/console/admin", tags=["staff console"], include_in_schema=False)
Administrator = Annotated[Staff, page_for(ADMIN)]
PATH = "/console/admin/approvals"
ACT_NAMES = {
    CREATE_ACCOUNT: "新建工作人员账号",
    RESET_PASSWORD: "重置工作人员密码",
    ADMIT_ACCOUNT: "统一身份认证账号",
    CREATE_CLIENT: "新建 API 客户端",
    RESET_SECRET: "重置客户端密钥",
    ERASE: "删除个人信息",
}
ALL_ACTS = frozenset(ACT_NAMES)
# Why the erasure page reads the subjects it shows: the access log names it.
ERASURE_PURPOSE = "个人信息删除审批"
GONE = "该审批不存在或已处理。"


@dataclass(frozen=True)
class Refusing:
    """A refusal sent back for a reason: the row's form opens again with what was typed."""

    approval_id: str
    reason: str


@dataclass(frozen=True)
class ApprovalRow:
    approval_id: str
    act: str
    target: str
    what: list[tuple[str, str]]  # what will be done, as the second administrator reads it
    requested_by: str
    requested_at: str
    own: bool  # the viewer asked: no buttons, the service would refuse them anyway


def waiting(pending: Pending) -> str:
    """What the requester is told: nothing is done yet."""
    return (
        f"{ACT_NAMES[pending.action]}（{pending.target}）须由另一名系统管理员批准后生效，"
        "已提交审批。"
    )


def _what(action: str, request: dict[str, Any]) -> list[tuple[str, str]]:
    if action == ERASE:
        return [("理由", str(request.get("reason") or "（未说明）"))]
    if action in (CREATE_ACCOUNT, ADMIT_ACCOUNT, CREATE_CLIENT):
        what = [("角色", role_name(request["role"])), ("单位", request["agency_name"])]
        if action != CREATE_CLIENT:
            what.insert(0, ("姓名", request["display_name"]))
        if action == ADMIT_ACCOUNT:  # the person signed in there, with this role
            what.append(("身份来源", "统一身份认证"))
        return what
    return [("角色", role_name(request["role"]))]  # a new password or secret for this role


async def pending(services: Any, staff: Staff, acts: Collection[str]) -> list[ApprovalRow]:
    """The pending approvals of these kinds, oldest first. An erasure's subject is shown by its
    masked code, a read of the subject written to the access log under the person."""
    rows = [
        row
        for row in await run_in_threadpool(services.administration.approvals)
        if row["action"] in acts
    ]
    erasures = [UUID(row["target"]) for row in rows if row["action"] == ERASE]
    codes: dict[UUID, str] = {}
    if erasures:
        async with services.read_engine.connect() as conn:
            codes = await masked_codes(conn, erasures)
        await log_reads(
            services,
            staff.caller,
            ERASURE_PURPOSE,
            "page_erasure_request",
            {subject_id: {"code_masked": True} for subject_id in codes},
        )
    zone = services.clock.zone
    return [
        ApprovalRow(
            approval_id=str(row["approval_id"]),
            act=ACT_NAMES[row["action"]],
            target=(
                f"{codes.get(UUID(row['target']), '（未登记主体）')}（主体 {row['target']}）"
                if row["action"] == ERASE
                else row["target"]
            ),
            what=_what(row["action"], row["request"]),
            requested_by=row["requested_by"],
            requested_at=chinese_moment(row["requested_at"], zone),
            own=row["requested_by"] == staff.actor,
        )
        for row in rows
    ]


async def _page(
    request: Request,
    services: Any,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    notice: str = "",
    result: dict[str, str] | None = None,
    refusing: Refusing | None = None,
) -> HTMLResponse:
    return render(
        request,
        "console/approvals.html",
        staff,
        status_code=status_code,
        message=message,
        notice=notice,
        result=result,
        refusing=refusing,
        approvals=await pending(services, staff, ALL_ACTS),
    )


def _result(done: Done) -> dict[str, str]:
    """What the approval produced, for the approving administrator: a password or a secret
    to hand over (once), or the erasure done."""
    if done.account is not None and done.secret is not None:
        return {
            "kind": "account",
            "name": done.account.name,
            "display_name": done.account.display_name,
            "password": done.secret,
        }
    if done.account is not None:  # vouched for by the identity provider: no password here
        return {"kind": "admitted", "name": done.account.name}
    if done.client is not None and done.secret is not None:
        return {"kind": "client", "client_id": done.client.client_id, "secret": done.secret}
    return {"kind": "erasure", "subject_id": done.target}


@router.get("/approvals", response_class=HTMLResponse)
async def approvals_page(request: Request, services: ServicesDep, staff: Administrator):
    return await _page(request, services, staff)


@router.post(
    "/approvals/{approval_id}/approve", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
async def approve(approval_id: UUID, request: Request, services: ServicesDep, staff: Administrator):
    """A second administrator approves: the act is carried out now."""
    try:
        done = await run_in_threadpool(services.administration.approve, staff.actor, approval_id)
    except SelfApproval:
        message = "这是您本人提交的申请，须由另一名系统管理员审批。"
        return await _page(request, services, staff, status_code=403, message=message)
    except (ApprovalNotFound, ApprovalNotPending):
        return await _page(request, services, staff, status_code=409, message=GONE)
    except ClientError as error:  # the name or id was taken meanwhile, say
        message = error.in_chinese
        return await _page(request, services, staff, status_code=409, message=message)
    except NoPersonalData:
        message = "该主体已没有可删除的个人信息（可能已被删除）。"
        return await _page(request, services, staff, status_code=409, message=message)
    notice = f"已批准：{ACT_NAMES[done.action]}（{done.target}），已执行。"
    return await _page(request, services, staff, notice=notice, result=_result(done))


@router.post(
    "/approvals/{approval_id}/refuse", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
async def refuse(
    approval_id: UUID,
    request: Request,
    services: ServicesDep,
    staff: Administrator,
    reason: Annotated[str, Form()] = "",
):
    """A second administrator refuses, saying why: the act is never carried out."""
    try:
        refused = await run_in_threadpool(
            services.administration.refuse, staff.actor, approval_id, reason
        )
    except ReasonRequired as error:
        return await _page(
            request,
            services,
            staff,
            status_code=422,
            message=error.in_chinese,
            refusing=Refusing(str(approval_id), reason),
        )
    except SelfApproval:
        message = "这是您本人提交的申请，须由另一名系统管理员审批。"
        return await _page(request, services, staff, status_code=403, message=message)
    except (ApprovalNotFound, ApprovalNotPending):
        return await _page(request, services, staff, status_code=409, message=GONE)
    notice = f"已拒绝：{ACT_NAMES[refused.action]}（{refused.target}），不会执行。"
    return await _page(request, services, staff, notice=notice)
