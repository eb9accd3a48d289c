"""The console's Chinese words for the service's codes: record families, severities, publication
states, lists, supervision tiers, rating schemes, subject kinds, sectors, warnings, and the
policy entries that adjust, cap or force a grade. The one place a page or a spreadsheet looks a
label up; templates only show what these give. A code without a label is shown as it is, so a
new one is never hidden (and tests/api/test_console_check.py names every code still missing)."""

from __future__ import annotations

import re
from decimal import Decimal

from api.templating import chinese_date

FAMILIES = {
    "licence": "行政许可",
    "penalty": "行政处罚",
    "conduct": "失信行为",
    "commitment": "信用承诺",
    "commitment_outcome": "承诺履行",
    "rating": "信用评价",
    "list": "名单认定",
    "list_exit": "移出名单",
    "interview": "约谈",
    "commendation": "诚信典型",
    "joint_measure": "联合奖惩",
    "coercion": "行政强制",
    "confirmation": "行政确认",
    "adjudication": "行政裁决",
    "reward": "行政奖励",
    "inspection": "行政检查",
    "correction": "信息更正",
    "revocation": "撤销记录",
}
SEVERITIES = {"minor": "轻微", "general": "一般", "serious": "严重"}
PUBLICATION_STATES = {
    "published": "公示中",
    "scheduled": "待公示",
    "expired": "公示期满",
    "not_published": "不予公示",
    "revoked": "已撤销",
    "repaired": "已信用修复",
    "lapsed": "已失效（所依据的记录已修复或撤销）",
}
LISTS = {
    "red": "守信激励名单（红名单）",
    "black": "严重失信主体名单（黑名单）",
    "watch": "重点关注名单",
}
TIERS = {
    "trustworthy": "守信",
    "warned": "警示",
    "dishonest": "失信",
    "seriously_dishonest": "严重失信",
}
SCHEMES = {
    "highway_construction": "公路建设市场信用评价",
    "road_transport_quality": "道路运输企业质量信誉考核",
    "driver_integrity": "驾驶员诚信考核",
    "sector_default": "行业信用评价",
}
KINDS = {
    "enterprise": "法人及非法人组织",
    "individual": "自然人（从业人员）",
    "vehicle": "车辆",
    "public_body": "公共机构",
}
SECTORS = {
    "road_transport": "道路运输",
    "taxi": "出租汽车",
    "vehicle_repair": "机动车维修",
    "driver_training": "驾驶员培训",
    "highway_construction": "公路建设",
    "waterway_transport": "水路运输",
    "water_construction": "水运工程建设",
    "work_safety": "安全生产",
    "overload_control": "治理超限超载",
}
WARNINGS = {
    "close_to_lower_grade": "接近下一较低等级",
    "repeated_conduct": "一定期间内多次失信",
    "commitment_due": "信用承诺即将到期",
    "commitment_overdue": "信用承诺逾期未履行",
}

# What the status query says in words of its own (domain/credit_status.py writes them), put
# into Chinese: a warning's detail, the basis of a watch-list membership a rule derived.
_WARNING_DETAILS = {
    "close_to_lower_grade": re.compile(
        r"^(?P<scheme>\w+): (?P<value>[\d.]+) is within (?P<margin>[\d.]+) of the next lower grade$"
    ),
    "repeated_conduct": re.compile(r"^(?P<count>\d+) conducts within (?P<months>\d+) months$"),
    "commitment_due": re.compile(r"^due (?P<day>[\d-]+), in (?P<days>\d+) days$"),
    "commitment_overdue": re.compile(r"^due (?P<day>[\d-]+), (?P<days>\d+) days ago$"),
}
_DERIVED_MINOR = re.compile(
    r"^(?P<policy>[^:]+): (?P<count>\d+) minor conducts within (?P<months>\d+) months$"
)
_DERIVED_GRAVER = re.compile(
    r"^(?P<policy>[^:]+): (?P<severity>\w+) conduct within (?P<months>\d+) months$"
)
# Codes a record's one-line summary may hold (a list entry's list, a rating's scheme).
_SUMMARY_CODES = LISTS | SCHEMES

# The policy entries a grade names (domain/credit_status.py writes them): a deduction for a
# conduct of a severity, the rise cap, the black list forcing the lowest grade.
_DEDUCTION = re.compile(r"^(?P<scheme>\w+)\.adjustments\.deduction\.(?P<severity>\w+)$")
_RISE_CAP = re.compile(r"^(?P<scheme>\w+)\.rise_cap\.grades_per_cycle = (?P<grades>\d+)$")
_BLACK_LIST = re.compile(r"^(?P<scheme>\w+)\.adjustments\.black_list_forces_lowest_grade$")


def label(labels: dict[str, str], code: str | None) -> str:
    """The label of `code`, or the code itself where there is none."""
    if code is None:
        return ""
    return labels.get(code, code)


def adjustment(rule: str, amount: Decimal, measure: str) -> str:
    """A deduction in words: 一般失信行为扣 5 分 (a score scheme), 记 5 分 (deducted points)."""
    found = _DEDUCTION.match(rule)
    if found is None:
        return f"{rule}：{amount}"
    severity = label(SEVERITIES, found["severity"])
    verb = "扣" if measure == "score" else "记"
    return f"{severity}失信行为{verb} {amount.normalize():f} 分"


def grade_limit(rule: str) -> str:
    """Why a grade is not the one the score gives: the rise cap or the black list."""
    if found := _RISE_CAP.match(rule):
        return f"逐级上升：每个评价周期至多上升 {found['grades']} 个等级"
    if _BLACK_LIST.match(rule):
        return "列入严重失信主体名单，等级降为最低"
    return rule


def tier(code: str, sampling_ratio: Decimal) -> str:
    """守信（双随机抽查比例 1%）"""
    percent = (Decimal(sampling_ratio) * 100).normalize()
    return f"{label(TIERS, code)}（双随机抽查比例 {percent:f}%）"


def warning_detail(kind: str, detail: str) -> str:
    """A warning's detail in Chinese; as it is where its wording is not known here."""
    pattern = _WARNING_DETAILS.get(kind)
    found = pattern.match(detail) if pattern else None
    if found is None:
        return detail
    if kind == "close_to_lower_grade":
        scheme = label(SCHEMES, found["scheme"])
        return f"{scheme}：分值 {found['value']}，距下一较低等级不足 {found['margin']}"
    if kind == "repeated_conduct":
        return f"{found['months']} 个月内 {found['count']} 次失信行为"
    day = chinese_date(found["day"])
    if kind == "commitment_due":
        return f"{day}到期，还有 {found['days']} 天"
    return f"已于{day}到期，逾期 {found['days']} 天"


def list_basis(basis: str, derived: bool) -> str:
    """Why a subject is listed: the decision's own words, or the rule that derived it."""
    if not derived:
        return basis
    if found := _DERIVED_MINOR.match(basis):
        return f"依政策 {found['policy']}：{found['months']} 个月内 {found['count']} 次轻微失信行为"
    if found := _DERIVED_GRAVER.match(basis):
        severity = label(SEVERITIES, found["severity"])
        return f"依政策 {found['policy']}：{found['months']} 个月内有{severity}失信行为"
    return basis


def summary(text: str) -> str:
    """A record's one-line summary, with the codes it holds put into words."""
    return " · ".join(_SUMMARY_CODES.get(part, part) for part in text.split(" · "))
