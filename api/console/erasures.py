"""The administrator's erasure page (删除个人信息): ask to erase a subject's personal data, stating
the ground (个人信息保护法 art. 47), and see the requests waiting for a second administrator, each
subject by its masked code, with who asked and why; approving or refusing is `approvals.py`'s.

An erasure is crypto-shredding (`Administration.erase_personal_data`, as `POST
/v1/admin/subjects/{id}:erase-personal-data`): the subject's data key is destroyed once a
different administrator approves, and cannot be undone, so it always waits for one."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ADMIN
from api.console.approvals import pending, waiting
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.deps import ServicesDep
from service.access.administration import ERASE, NoPersonalData, ReasonRequired

router = APIRouter(prefix="/console/admin", tags=["staff console"], include_in_schema=False)
Administrator = Annotated[Staff, page_for(ADMIN)]
NOT_AN_ID = "主体标识格式不正确：应为 36 位的主体标识（如 1bf34057-079e-8ec3-9b57-11287f766007）。"
NOTHING_TO_ERASE = "该主体没有可删除的个人信息（不是个人主体、主体不存在，或已删除）。"


async def _page(
    request: Request,
    services: Any,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    notice: str = "",
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "console/erasures.html",
        staff,
        status_code=status_code,
        message=message,
        notice=notice,
        form=form or {"subject_id": "", "reason": ""},
        approvals=await pending(services, staff, (ERASE,)),
    )


@router.get("/erasures", response_class=HTMLResponse)
async def erasures_page(request: Request, services: ServicesDep, staff: Administrator):
    return await _page(request, services, staff)


@router.post("/erasures", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def request_erasure(
    request: Request,
    services: ServicesDep,
    staff: Administrator,
    subject_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
):
    form = {"subject_id": subject_id, "reason": reason}
    try:
        subject = UUID(subject_id.strip())
    except ValueError:
        return await _page(request, services, staff, status_code=422, message=NOT_AN_ID, form=form)
    try:
        asked = await run_in_threadpool(
            services.administration.erase_personal_data, staff.actor, subject, reason
        )
    except ReasonRequired as error:
        return await _page(
            request, services, staff, status_code=422, message=error.in_chinese, form=form
        )
    except NoPersonalData:
        return await _page(
            request, services, staff, status_code=404, message=NOTHING_TO_ERASE, form=form
        )
    return await _page(request, services, staff, status_code=202, notice=waiting(asked))
