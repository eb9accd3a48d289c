"""Valid codes and request bodies for tests: one place that knows what a good record looks like."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import DomainEvent
from stdnum.cn import ric

from domain.codes import make_uscc
from domain.subject import Subject

AUTHORITY_CODE = make_uscc("11410100MB0000001")
OTHER_AUTHORITY_CODE = make_uscc("11410100MB0000002")
AUTHORITY_NAME = "郑州市交通运输综合执法支队"
# The deciding authority as a record's fields name it.
AUTHORITY = {"authority_name": AUTHORITY_NAME, "authority_code": AUTHORITY_CODE}


EventT = TypeVar("EventT", bound=DomainEvent)


def stored_event(event_class: type[EventT], **fields: Any) -> EventT:
    """An event built from its fields, as the event store builds one it reads. eventsourcing's
    metaclass makes each event class a dataclass at run time, which mypy cannot see: to mypy the
    class takes only the three fields every DomainEvent has."""
    build: Callable[..., EventT] = event_class
    return build(**fields)


def uscc(serial: int, region: str = "410105") -> str:
    return make_uscc(f"91{region}MA{serial:07d}"[:17])


def resident_id(serial: int, region: str = "410105", birth: str = "19850314") -> str:
    first17 = f"{region}{birth}{serial % 1000:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")  # it expects a placeholder check digit


def enterprise(serial: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "enterprise",
        "code": uscc(serial),
        "name": f"郑州宏达道路运输有限公司{serial}",
        "region_code": "410105",
        "sectors": ["road_transport"],
        **overrides,
    }


def individual(serial: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "individual",
        "code": resident_id(serial),
        "name": "王建国",
        "region_code": "410105",
        "sectors": ["road_transport"],
        **overrides,
    }


def _common(source_ref: str, decision_date: str, authority_code: str) -> dict[str, Any]:
    return {
        "decision_date": decision_date,
        "authority_name": AUTHORITY_NAME,
        "authority_code": authority_code,
        "source_ref": source_ref,
    }


def penalty(
    source_ref: str = "郑交执罚〔2026〕0001号",
    *,
    severity: str = "general",
    decision_date: str = "2026-10-15",
    authority_code: str = AUTHORITY_CODE,
    **overrides: Any,
) -> dict[str, Any]:
    return {
        "type": "PenaltyDecided",
        **_common(source_ref, decision_date, authority_code),
        "severity": severity,
        "procedure": "general",
        "violation_type": "超限运输",
        "facts": "车辆超限 30% 行驶高速公路",
        "legal_basis": "《公路安全保护条例》第六十四条",
        "penalty_categories": ["罚款"],
        "content": "罚款人民币贰万元",
        "fine_amount": "2.0",
        **overrides,
    }


def licence(
    source_ref: str = "豫交许〔2025〕0001号",
    *,
    decision_date: str = "2025-03-01",
    valid_until: str | None = "2029-03-01",
    **overrides: Any,
) -> dict[str, Any]:
    return {
        "type": "LicenceGranted",
        **_common(source_ref, decision_date, AUTHORITY_CODE),
        "licence_type": "普通",
        "document_name": "道路运输经营许可证",
        "content": "道路普通货物运输",
        "valid_from": decision_date,
        "valid_until": valid_until,
        **overrides,
    }


def rating(
    source_ref: str = "豫交评〔2026〕0001号",
    *,
    scheme: str = "highway_construction",
    grade: str = "A",
    score: str | None = "88",
    decision_date: str = "2026-03-01",
    valid_from: str = "2026-03-01",
    valid_until: str = "2027-03-01",
) -> dict[str, Any]:
    return {
        "type": "RatingIssued",
        **_common(source_ref, decision_date, AUTHORITY_CODE),
        "scheme": scheme,
        "grade": grade,
        "score": score,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }


def list_entry(
    source_ref: str = "豫交黑〔2026〕0001号",
    *,
    list_type: str = "black",
    decision_date: str = "2026-06-01",
    planned_end: str | None = "2029-06-01",
) -> dict[str, Any]:
    return {
        "type": "ListEntered",
        **_common(source_ref, decision_date, AUTHORITY_CODE),
        "list_type": list_type,
        "basis": "严重超限超载",
        "planned_end": planned_end,
    }


# What each of the further kinds of administrative information says beyond the common fields.
ADMINISTRATIVE_CONTENT: dict[str, dict[str, Any]] = {
    "AdministrativeCoercionApplied": {
        "coercion_kind": "measure",
        "measure": "扣押财物",
        "legal_basis": "《中华人民共和国行政强制法》第九条；《公路安全保护条例》第七十二条",
        "content": "扣押超限运输车辆一辆（豫A12345），期限三十日",
    },
    "AdministrativeConfirmationMade": {
        "confirmation_type": "道路运输车辆技术等级评定",
        "content": "豫A12345 评定为一级车",
        "legal_basis": "《道路运输车辆技术管理规定》",
    },
    "AdministrativeAdjudicationMade": {
        "adjudication_type": "路产损坏赔偿纠纷裁决",
        "content": "当事人赔偿护栏损失人民币三千元",
    },
    "AdministrativeRewardGranted": {
        "reward_name": "道路运输安全生产先进单位",
        "content": "全年无责任事故，予以通报表扬并奖励",
        "data_source_name": "郑州市交通运输局",
        "data_source_code": make_uscc("11410100MB0000003"),
    },
    "AdministrativeInspectionConducted": {
        "inspection_type": "双随机抽查",
        "matter": "道路运输企业安全生产主体责任落实情况",
        "result": "未发现问题",
    },
}


def administrative_record(
    record_type: str,
    source_ref: str,
    *,
    decision_date: str = "2026-10-09",
    authority_code: str = AUTHORITY_CODE,
    **overrides: Any,
) -> dict[str, Any]:
    """A body of one of the further kinds of administrative information (行政强制, 行政确认,
    行政裁决, 行政奖励, 行政监督检查)."""
    return {
        "type": record_type,
        **_common(source_ref, decision_date, authority_code),
        **ADMINISTRATIVE_CONTENT[record_type],
        **overrides,
    }


def follow_up(
    record_type: str, source_ref: str, decision_date: str = "2026-11-01", **fields: Any
) -> dict[str, Any]:
    return {"type": record_type, **_common(source_ref, decision_date, AUTHORITY_CODE), **fields}


# The national 双公示 penalty columns (CF_*) that import files carry, and rows of them.
PENALTY_FILE_HEADER = [
    "CF_XDR_MC",
    "CF_XDR_LB",
    "CF_XDR_SHXYM",
    "CF_WSH",
    "CF_WFXW",
    "CF_SY",
    "CF_YJ",
    "CF_CFLB",
    "CF_NR",
    "CF_NR_FK",
    "CF_JDRQ",
    "CF_CFJG",
    "CF_CFJGDM",
]


def penalty_file_row(n: int, **changes: str) -> list[str]:
    cells = dict(
        zip(
            PENALTY_FILE_HEADER,
            [
                f"郑州顺达货运有限公司{n}",
                "法人及非法人组织",
                uscc(n),
                f"郑交执罚〔2026〕{n:04d}号",
                "超限运输",
                "车辆超限运输",
                "《公路安全保护条例》第六十四条",
                "罚款",
                "罚款0.5万元",
                "0.5",
                "2026-11-02",
                AUTHORITY_NAME,
                AUTHORITY_CODE,
            ],
            strict=True,
        )
    )
    cells.update(changes)
    return list(cells.values())


def penalty_file(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PENALTY_FILE_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def policy_version_data(data: dict[str, Any], version_id: str) -> dict[str, Any]:
    """The table of one version (by its id, e.g. "2026-36") in the policy file's data."""
    [version] = [version for version in data["version"] if version["id"] == version_id]
    return cast(dict[str, Any], version)


def policy_data_without_scheme(
    data: dict[str, Any], version_id: str, scheme: str
) -> dict[str, Any]:
    """A copy of the policy file's data in which version `version_id` has no rating scheme
    `scheme`: its rules, its supervision thresholds and its warning margin taken out."""
    changed = copy.deepcopy(data)
    rules = policy_version_data(changed, version_id)
    del rules["schemes"][scheme]
    del rules["warnings"]["grade_margin_points"][scheme]
    for tier in rules["supervision"]["tiers"]:
        tier.get("when", {}).get("grade_at_or_below", {}).pop(scheme, None)
    return changed


def registered_enterprise(subject_id: UUID, *, recorded_at: datetime) -> Subject:
    """A freshly registered enterprise aggregate (宏达运输), its registration not yet collected."""
    return Subject.register(
        subject_id=subject_id,
        kind="enterprise",
        code="91410105MA00000016",
        code_masked="91410105MA00000016",
        name="宏达运输",
        region_code="410105",
        sectors=["road_transport"],
        recorded_by="t",
        recorded_at=recorded_at,
    )
