"""The administrator's view of the admin log (管理日志): every administrative act, by whom and
when, page by page, and whether its hash chain holds up to the heads the signed checkpoints
anchored (the check `GET /v1/audit/access-log:verify` and `credit audit verify-access-log` make,
for this log alone). Administrators read the trail of their own acts; nothing in it is credit
data or a secret, and no one can change it from here."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import ADMIN
from api.console.layout import role_name
from api.console.staff import Staff, page_for, render
from api.deps import ServicesDep
from api.templating import chinese_moment
from domain.crypto_suite import HASHES
from service.access.chained_log import ChainCheck
from service.access.tables import admin_log

router = APIRouter(prefix="/console/admin", tags=["staff console"], include_in_schema=False)
Administrator = Annotated[Staff, page_for(ADMIN)]
PAGE_SIZE = 50
ACTIONS = {
    "create-client": "新建 API 客户端",
    "disable-client": "停用 API 客户端",
    "reset-secret": "重置客户端密钥",
    "create-account": "新建工作人员账号",
    "admit-account": "统一身份认证账号写入",
    "disable-account": "停用工作人员账号",
    "reset-password": "重置工作人员密码",
    "rotate-signing-key": "轮换令牌签名密钥",
    "rotate-checkpoint-key": "轮换检查点签名密钥",
    "erase-personal-data": "删除个人信息",
    "request-approval": "提交审批",
    "approve": "批准",
    "refuse": "拒绝",
}
DETAILS = {
    "role": "角色",
    "display_name": "姓名",
    "agency_name": "单位",
    "agency_code": "单位代码",
    "authority_codes": "执法机构代码",
    "sectors": "行业",
    "approval_id": "审批编号",
    "act": "事项",
    "request": "申请内容",
    "requested_by": "申请人",
    "approved_by": "批准人",
    "refused_by": "拒绝人",
    "reason": "理由",
    "subject_id": "主体",
    "sessions": "结束的会话数",
    "four_eyes_waived": "免于四眼原则",
    "provider": "身份来源",
}


def _shown(key: str, value: Any) -> str:
    if key == "act":
        return ACTIONS.get(value, str(value))
    if key == "role":
        return role_name(str(value))
    if isinstance(value, list):
        return "、".join(str(item) for item in value) or "（无）"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _outcome(check: ChainCheck) -> tuple[bool, str]:
    """Whether the log holds, in words a person reads."""
    if check.first_bad_seq is not None:
        return False, (
            f"哈希链在第 {check.first_bad_seq} 条断开：该条记录被修改、删除或调换了顺序。"
            "请立即报告审计人员。"
        )
    if check.cut_after_seq is not None and check.anchored is not None:
        return False, (
            f"日志在第 {check.cut_after_seq} 条之后被截断：签名检查点曾锚定至第 "
            f"{check.anchored.seq} 条。请立即报告审计人员。"
        )
    anchored = (
        f"已由签名检查点锚定至第 {check.anchored.seq} 条"
        if check.anchored and check.anchored.seq
        else "尚无签名检查点锚定"
    )
    hashed = hash_counts(check)
    return True, f"哈希链完整：共 {check.rows} 条{f'（{hashed}）' if hashed else ''}，{anchored}。"


def hash_counts(check: ChainCheck) -> str:
    """How many rows each hash made, e.g. "SHA-256 1200 条、SM3 34 条" (a log that changed
    suites shows both); empty for an empty log."""
    return "、".join(f"{_hash_label(name)} {n} 条" for name, n in check.algorithms.items())


def _hash_label(name: str) -> str:
    known = HASHES.get(name)
    return known.label if known else name


@router.get("/log", response_class=HTMLResponse)
async def admin_log_page(
    request: Request, services: ServicesDep, staff: Administrator, after: str = ""
):
    """Oldest first from `after` (the seq of the last entry seen), as the API pages it."""
    if after and not (after.isascii() and after.isdigit() and len(after) <= 18):
        return render(
            request,
            "console/admin_log.html",
            staff,
            status_code=422,
            message="页码参数无效，请从第一页开始查看。",
            chain_ok=None,
            chain=None,
            entries=[],
            pages={},
        )
    start = int(after) if after else 0
    checks = await run_in_threadpool(services.checkpoints.verify_chains, only=str(admin_log.name))
    check = checks[str(admin_log.name)]
    chain_ok, chain = _outcome(check)
    rows = await run_in_threadpool(services.admin_log.page, after_seq=start, limit=PAGE_SIZE)
    zone = services.clock.zone
    last = check.head.seq
    pages = {
        "first": 0 if start > 0 else None,
        "previous": max(0, start - PAGE_SIZE) if start > 0 else None,
        "next": rows[-1]["seq"] if len(rows) == PAGE_SIZE and rows[-1]["seq"] < last else None,
        "latest": max(0, last - PAGE_SIZE) if start < max(0, last - PAGE_SIZE) else None,
    }
    return render(
        request,
        "console/admin_log.html",
        staff,
        message="",
        chain_ok=chain_ok,
        chain=chain,
        pages=pages,
        entries=[
            {
                "seq": row["seq"],
                "at": chinese_moment(row["at"], zone),
                "actor": row["actor"],
                "action": ACTIONS.get(row["action"], row["action"]),
                "code": row["action"],
                "target": row["target"],
                "details": [
                    (DETAILS.get(key, key), _shown(key, value))
                    for key, value in sorted(row["details"].items())
                ],
                "hash": row["hash"],
                "hash_algorithm": _hash_label(row["hash_algorithm"]),
            }
            for row in rows
        ],
    )
