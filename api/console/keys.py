"""The administrator's signing keys page: the token signing keys (Ed25519, published as the
JWKS) and the checkpoint signing keys (Ed25519, published for good), each with its id, age and
state, and rotating either after the administrator confirms what it does.

Rotating is `Administration.rotate_signing_key` (as `POST /v1/admin/keys:rotate` and `credit
keys rotate`) or `rotate_checkpoint_key` (as `credit audit rotate-key`), logged under
"account:<name>". Neither destroys a key: a retired token key still verifies the tokens it
signed until they expire, a retired checkpoint key what it signed for ever."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ADMIN
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.deps import ServicesDep
from api.templating import chinese_moment
from service.access.keys import KeyInUse

router = APIRouter(prefix="/console/admin", tags=["staff console"], include_in_schema=False)
Administrator = Annotated[Staff, page_for(ADMIN)]
CONFIRMED = "yes"
UNCONFIRMED = "请先勾选确认，再轮换密钥。密钥未轮换。"


def _lifetime(seconds: int) -> str:
    return f"{seconds // 60} 分钟" if seconds % 60 == 0 else f"{seconds} 秒"


def _age(key: KeyInUse) -> str:
    return "不足 1 天" if key.age.days < 1 else f"{key.age.days} 天"


def _state(key: KeyInUse, zone: Any) -> str:
    if key.state == "signing":
        return "当前签名密钥"
    if key.state == "unpublished":
        return "已停用，不再公布（其签发的令牌均已过期）"
    if key.published_until is None:
        return "已停用，永久公布（其签名的检查点仍可验证）"
    return f"已停用，{chinese_moment(key.published_until, zone)} 前仍公布（其签发的令牌仍可验证）"


async def _page(
    request: Request,
    services: Any,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    notice: str = "",
) -> HTMLResponse:
    keys = await run_in_threadpool(services.administration.signing_keys)
    zone = services.clock.zone
    rows = [
        {
            "signs": key.signs,
            "key_id": key.key_id,
            "created_at": chinese_moment(key.created_at, zone),
            "age": _age(key),
            "state": _state(key, zone),
            "signing": key.retired_at is None,
        }
        for key in keys
    ]
    return render(
        request,
        "console/keys.html",
        staff,
        status_code=status_code,
        message=message,
        notice=notice,
        token_keys=[row for row in rows if row["signs"] == "token"],
        checkpoint_keys=[row for row in rows if row["signs"] == "checkpoint"],
        token_lifetime=_lifetime(services.settings.token_ttl_seconds),
    )


@router.get("/keys", response_class=HTMLResponse)
async def keys_page(request: Request, services: ServicesDep, staff: Administrator):
    return await _page(request, services, staff)


@router.post("/keys/token/rotate", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def rotate_token_key(
    request: Request,
    services: ServicesDep,
    staff: Administrator,
    confirm: Annotated[str, Form()] = "",
):
    """New tokens are signed with a new key; tokens already issued verify until they expire."""
    if confirm != CONFIRMED:
        return await _page(request, services, staff, status_code=422, message=UNCONFIRMED)
    kid = await run_in_threadpool(services.administration.rotate_signing_key, staff.actor)
    notice = f"已轮换访问令牌签名密钥，新密钥 {kid}。此前签发的令牌在有效期内仍可使用。"
    return await _page(request, services, staff, notice=notice)


@router.post("/keys/checkpoint/rotate", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def rotate_checkpoint_key(
    request: Request,
    services: ServicesDep,
    staff: Administrator,
    confirm: Annotated[str, Form()] = "",
):
    """The next checkpoint is signed with a new key; checkpoints signed before keep verifying."""
    if confirm != CONFIRMED:
        return await _page(request, services, staff, status_code=422, message=UNCONFIRMED)
    key_id = await run_in_threadpool(services.administration.rotate_checkpoint_key, staff.actor)
    notice = f"已轮换检查点签名密钥，新密钥 {key_id}。此前签名的检查点仍可验证。"
    return await _page(request, services, staff, notice=notice)
