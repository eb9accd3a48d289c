"""What the console's shared layout shows: each role's name, the nav (each entry behind the
scope its page checks), and the home page's list of what a role's scopes let it do.

A new page adds its `NavItem` here with the scope (or scopes) its route declares through
`page_for`, so that no one is shown a link to a page that would refuse them. Templates only loop
over these lists: which role may do what is decided here and in the scopes, never in a
template."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from api.auth import ADMIN, AUDIT, MONITOR, OVERSIGHT_SCOPES, READ, RECORD

ROLE_NAMES = {
    "recorder": "信用信息记录人员",
    "agency": "信用查询人员",
    "auditor": "审计人员",
    "admin": "系统管理员",
    "credit_office": "信用办工作人员",
}


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role)


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    scope: str | tuple[str, ...] | None  # any one of them; None: every signed-in person

    def shown_to(self, held: frozenset[str]) -> bool:
        if self.scope is None:
            return True
        return not held.isdisjoint((self.scope,) if isinstance(self.scope, str) else self.scope)


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    current: bool


NAV = (
    NavItem("首页", "/console/", None),
    NavItem("信用核查", "/console/check", READ),
    NavItem("批量核查", "/console/check/batch", READ),
    NavItem("变动订阅", "/console/subscriptions", READ),
    NavItem("变动通知", "/console/subscriptions/changes", READ),
    NavItem("停止使用通知", "/console/notices", READ),
    NavItem("账号管理", "/console/admin/accounts", ADMIN),
    NavItem("API 客户端", "/console/admin/clients", ADMIN),
    NavItem("待审批", "/console/admin/approvals", ADMIN),
    NavItem("签名密钥", "/console/admin/keys", ADMIN),
    NavItem("删除个人信息", "/console/admin/erasures", ADMIN),
    NavItem("管理日志", "/console/admin/log", ADMIN),
    NavItem("主体历史", "/console/audit", AUDIT),
    NavItem("回放核对", "/console/audit/replay-checks", AUDIT),
    NavItem("检查点", "/console/audit/checkpoint", AUDIT),
    NavItem("信用工作指标", "/console/reports", OVERSIGHT_SCOPES),
)


def nav_for(scopes: Iterable[str], current_path: str) -> list[NavLink]:
    held = frozenset(scopes)
    return [
        NavLink(item.label, item.path, item.path == current_path)
        for item in NAV
        if item.shown_to(held)
    ]


# What each scope lets a person do, in the words of the home page. The console's own pages for
# these follow; until then the API (docs/api.md) does each of them for the same scopes.
TASKS: dict[str, tuple[str, ...]] = {
    READ: (
        "查询主体当前信用状况：评价等级、名单、已公示记录（逢批必查、逢办必查）",
        "批量核查投标人等多个主体的信用状况",
        "订阅主体的信用变动（本单位共用），查看所订阅主体的最新变动",
        "查看本单位 API 客户端收到的停止使用通知（信用修复、信息撤销），确认已停止使用",
    ),
    RECORD: (
        "记录本单位作出的行政许可、行政处罚、失信行为等信用信息",
        "导入本单位的双公示数据",
        "办理本单位认定记录的信用修复和异议申请",
        "查看本单位作为认定机关的信用工作指标：案件办理时限等",
    ),
    AUDIT: (
        "查阅主体全部历史，含未公示、已修复、已撤销的记录",
        "查阅查询留痕和管理日志",
        "核验数据完整性（签名检查点、回放核对）",
        "查看各单位的信用工作指标",
    ),
    MONITOR: (
        "监测各单位信用修复和异议案件的办理时限，杜绝超期审核",
        "跟踪双公示填报率、合格率、及时率等考核指标",
        "查看每月迟报和不合格记录、红黑名单、联合奖惩成效清单和超限超载失信当事人名单，下载月度工作台账",
    ),
    ADMIN: (
        "管理工作人员账号：新建、停用、重置密码",
        "管理对接系统的 API 客户端：新建、停用、重置密钥",
        "审批或拒绝需第二名管理员同意的操作（四眼原则）",
        "轮换访问令牌和检查点的签名密钥",
        "受理个人信息删除申请",
        "查阅管理日志并核验其哈希链",
    ),
}
SCOPE_ORDER = (READ, RECORD, AUDIT, MONITOR, ADMIN)


def tasks_for(scopes: Iterable[str]) -> list[str]:
    held = frozenset(scopes)
    return [task for scope in SCOPE_ORDER if scope in held for task in TASKS[scope]]
