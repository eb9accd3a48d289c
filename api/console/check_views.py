"""A status answer laid out for a person: the rows the check pages, the check sheet and the
batch spreadsheet show, every code put into words by `api.console.labels`. Nothing is decided
here: grades, lists, tiers and publication come as the status query computed them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.console import labels
from api.console.staff import Staff
from api.templating import chinese_date, chinese_moment
from domain.policy import PolicyBook
from domain.regions import region_label
from service.querying.evidence import Evidence
from service.querying.status import CodeAnswer


def _number(value: Any) -> str:
    return "" if value is None else f"{Decimal(value).normalize():f}"


def _period(start: Any, end: Any) -> str:
    """2026年3月1日至2027年2月28日; an open end is 起."""
    if end is None:
        return f"{chinese_date(start)}起"
    return f"{chinese_date(start)}至{chinese_date(end)}"


def grade_rows(status: dict[str, Any], policy: PolicyBook) -> list[dict[str, Any]]:
    """Each grade with its basis: the rating it starts from, each adjustment, a cap or force."""
    version = policy.by_id(status["policy_version"])
    rows = []
    for grade in status["grades"]:
        scheme = version.schemes.get(grade["scheme"])
        measure = scheme.measure if scheme else "score"
        basis = [
            labels.adjustment(a["rule"], Decimal(a["amount"]), measure)
            for a in grade["adjustments"]
        ]
        for limit in (grade["capped_by"], grade["forced_by"]):
            if limit:
                basis.append(labels.grade_limit(limit))
        base = grade["base_grade"]
        if grade["base_score"] is not None:
            unit = "分" if measure == "score" else "分（扣分）"
            base = f"{base}（{_number(grade['base_score'])} {unit}）"
        rows.append(
            {
                "scheme": labels.label(labels.SCHEMES, grade["scheme"]),
                "grade": grade["grade"],
                "score": _number(grade["score"]),
                "base": base,
                "valid": _period(grade["valid_from"], grade["valid_until"]),
                "authority": grade["authority_name"],
                "basis": basis,
            }
        )
    return rows


def list_rows(status: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "list": labels.label(labels.LISTS, entry["list_type"]),
            "entered_on": chinese_date(entry["entered_on"]),
            "planned_end": chinese_date(entry["planned_end"]),
            "basis": labels.list_basis(entry["basis"], entry["derived"]),
            "authority": entry["authority_name"] or "依规则认定",
        }
        for entry in status["lists"]
    ]


def record_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "decided_on": chinese_date(record["decision_date"]),
            "family": labels.label(labels.FAMILIES, record["family"]),
            "severity": labels.label(labels.SEVERITIES, record["severity"]),
            "summary": labels.summary(record["summary"]),
            "authority": record["authority"]["name"],
            "source_ref": record["source_ref"],
            "publication": labels.label(labels.PUBLICATION_STATES, record["publication"]["state"]),
            "window": _period(record["publication"]["from"], record["publication"]["until"]),
            "objection": record["objection"]["label"] if record["objection"] else "",
            "corrected": record["corrected"],
        }
        for record in records
    ]


def subject_view(
    status: dict[str, Any], records: list[dict[str, Any]], more_records: bool, policy: PolicyBook
) -> dict[str, Any]:
    """The whole of one subject's status for the lookup page and the check sheet."""
    counts = status["published_records"]
    return {
        "subject_id": str(status["subject_id"]),
        "name": status["name"],
        "code": status["code_masked"],
        "kind": labels.label(labels.KINDS, status["kind"]),
        "region": region_label(status["region_code"]),
        "sectors": "、".join(labels.label(labels.SECTORS, s) for s in status["sectors"]),
        # The special report's sector choice: the subject's own sectors.
        "sector_choices": [(s, labels.label(labels.SECTORS, s)) for s in status["sectors"]],
        "grades": grade_rows(status, policy),
        "lists": list_rows(status),
        "tier": labels.tier(status["supervision"]["tier"], status["supervision"]["sampling_ratio"]),
        "warnings": [
            {
                "kind": labels.label(labels.WARNINGS, w["kind"]),
                "detail": labels.warning_detail(w["kind"], w["detail"]),
            }
            for w in status["warnings"]
        ],
        "published_total": counts["total"],
        "published_by_family": [
            {"family": labels.label(labels.FAMILIES, family), "count": count}
            for family, count in sorted(counts["by_family"].items())
        ],
        "records": record_rows(records),
        "more_records": more_records,
        "evaluated_on": chinese_date(status["evaluated_on"]),
        "policy_version": status["policy_version"],
        "version": status["version"],
        "last_position": status["last_position"],
        "position": status["position"],
    }


def checkpoint_view(evidence: Evidence, zone: Any) -> dict[str, Any]:
    """The signed checkpoint an answer can be proved against, in words."""
    checkpoint = evidence.checkpoint
    if checkpoint is None:
        state = "尚无签名检查点：该答复暂不能以检查点证明。"
    elif evidence.covered:
        state = f"该主体最新事件（日志位置 {evidence.position}）已纳入此检查点。"
    else:
        state = (
            f"该主体最新事件（日志位置 {evidence.position}）晚于此检查点，"
            "将纳入下一次定时签名的检查点。"
        )
    return {
        "state": state,
        "covered": evidence.covered,
        "tree_size": checkpoint.tree_size if checkpoint else None,
        "root": checkpoint.root.hex() if checkpoint else "",
        "issued_at": chinese_moment(checkpoint.issued_at, zone) if checkpoint else "",
        "key_id": checkpoint.key_id if checkpoint else "",
    }


def checker_view(staff: Staff, purpose: str, moment: Any, zone: Any) -> dict[str, str]:
    """Who checked, for what, when: the head of a check sheet."""
    account = staff.account
    return {
        "checked_at": chinese_moment(moment, zone),
        "person": f"{account.display_name}（{account.name}）",
        "agency": account.agency_name,
        "agency_code": account.agency_code,
        "purpose": purpose,
    }


@dataclass(frozen=True)
class BidderRow:
    """One line of a batch check: a subject found, or why not."""

    line: int
    code: str  # masked where it is an ID number
    name: str
    grades: str
    lists: str
    serious_published: int | None
    black_listed: bool
    serious_records: bool
    problem: str  # "未找到" or "代码有误"; "" when found
    repeats: int | None  # the earlier line with the same code


NOT_FOUND, INVALID = "未找到", "代码有误"


def bidder_rows(
    lines: list[int], answers: list[CodeAnswer], serious: dict[Any, int]
) -> list[BidderRow]:
    rows: list[BidderRow] = []
    first_line: dict[Any, int] = {}
    for line, answer in zip(lines, answers, strict=True):
        status = answer.status
        if status is None:
            problem = INVALID if answer.problem == "invalid" else NOT_FOUND
            rows.append(
                BidderRow(line, answer.code_masked, "", "", "", None, False, False, problem, None)
            )
            continue
        count = serious.get(answer.subject_id, 0)
        rows.append(
            BidderRow(
                line,
                status["code_masked"],
                status["name"],
                "；".join(
                    f"{labels.label(labels.SCHEMES, g['scheme'])} {g['grade']}"
                    for g in status["grades"]
                )
                or "无有效评价",
                "、".join(labels.label(labels.LISTS, m["list_type"]) for m in status["lists"]),
                count,
                any(m["list_type"] == "black" for m in status["lists"]),
                count > 0,
                "",
                first_line.get(answer.subject_id),
            )
        )
        first_line.setdefault(answer.subject_id, line)
    return rows
