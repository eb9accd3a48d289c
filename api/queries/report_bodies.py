"""The answers of the case and list reports (`/v1/reports/cases`, `/lists`, `/joint-measures`,
`/overload-dishonest`): the query modules' dataclasses as JSON, each field described and each
body with an example."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import (
    AUTHORITY_CODE,
    AUTHORITY_NAME,
    CASE_NUMBER,
    LIST_ENTRY_ID,
    PENALTY_ID,
    PERIOD_EXAMPLE,
)
from api.schemas import SUBJECT_ID as EXAMPLE_SUBJECT_ID
from api.schemas import ReportPeriodView as Period


def described(*values: dict[str, Any]) -> ConfigDict:
    """Read from a dataclass's attributes, with the examples the OpenAPI document shows."""
    return ConfigDict(from_attributes=True, json_schema_extra={"examples": list(values)})


# Cases ------------------------------------------------------------------------------------------
COUNTS_EXAMPLE = {
    "kind": "repair",
    "filed": 3,
    "decided": 2,
    "decided_within_deadline": 1,
    "overdue_now": 1,
    "median_working_days_to_decision": 6.5,
}


class CaseCounts(BaseModel):
    model_config = described(COUNTS_EXAMPLE)
    kind: Literal["repair", "objection", "all"] = Field(
        description="信用修复, 异议, or both together"
    )
    filed: int = Field(description="cases filed in the period")
    decided: int = Field(
        description="cases decided in the period (a repair approved or denied, an objection "
        "resolved)"
    )
    decided_within_deadline: int = Field(
        description="of those, decided on or before the deadline the policy in force on their "
        "filing day set"
    )
    overdue_now: int = Field(
        description="cases open on `counted_on` and past their deadline, whenever filed"
    )
    median_working_days_to_decision: float | None = Field(
        description="the median of the working days from filing to decision of the cases "
        "decided in the period; null when none was"
    )


class AuthorityCases(BaseModel):
    model_config = described(
        {
            "authority_code": AUTHORITY_CODE,
            "authority_name": AUTHORITY_NAME,
            "counts": [COUNTS_EXAMPLE],
        }
    )
    authority_code: str = Field(description="the deciding authority (谁认定、谁修复)")
    authority_name: str = Field(description="its name, as its records give it")
    counts: list[CaseCounts] = Field(description="repair, objection and all, in that order")


CASE_ROW_EXAMPLE = {
    "case_number": CASE_NUMBER,
    "kind": "repair",
    "status": "approved",
    "authority_code": AUTHORITY_CODE,
    "authority_name": AUTHORITY_NAME,
    "record_id": PENALTY_ID,
    "filed_on": "2026-11-02",
    "decided_on": "2026-11-05",
    "outcome": "approved",
    "due": "2026-11-05",
    "due_provisional": False,
    "within_deadline": True,
    "working_days_to_decision": 3,
    "overdue_days": 0,
    "filed_in_period": True,
    "decided_in_period": True,
}


class CaseRow(BaseModel):
    model_config = described(CASE_ROW_EXAMPLE)
    case_number: str = Field(description="the case number (案件编号)")
    kind: Literal["repair", "objection"] = Field(description="信用修复 or 异议")
    status: str = Field(description="where the case stands now")
    authority_code: str = Field(description="the deciding authority")
    authority_name: str = Field(description="its name")
    record_id: UUID = Field(description="the record the case is about")
    filed_on: date = Field(description="the day it was filed")
    decided_on: date | None = Field(description="the day it was decided; null while open")
    outcome: str | None = Field(
        description="approved or denied (repair; a repair revoked later was approved), "
        "corrected, revoked or upheld (objection)"
    )
    due: date | None = Field(
        description="the deadline its decision was due by (decided), or is due by (open); "
        "null while the materials are with the applicant"
    )
    due_provisional: bool = Field(
        description="the deadline counts a year whose official holiday schedule is not known"
    )
    within_deadline: bool | None = Field(description="decided on or before `due`; null while open")
    working_days_to_decision: int | None = Field(
        description="working days from filing (not counted) to decision (counted)"
    )
    overdue_days: int = Field(
        description="open and past its deadline on `counted_on`: working days over for a "
        "repair, days for an objection; 0 otherwise"
    )
    filed_in_period: bool = Field(description="counted in `filed`")
    decided_in_period: bool = Field(description="counted in `decided`")


class CaseReport(BaseModel):
    model_config = described(
        {
            "period": PERIOD_EXAMPLE,
            "counted_on": "2026-12-02",
            "total": [COUNTS_EXAMPLE],
            "authorities": [
                {
                    "authority_code": AUTHORITY_CODE,
                    "authority_name": AUTHORITY_NAME,
                    "counts": [COUNTS_EXAMPLE],
                }
            ],
            "rows": [CASE_ROW_EXAMPLE],
        }
    )
    period: Period = Field(description="the period reported on")
    counted_on: date = Field(description="the day `overdue_now` is judged on: today")
    total: list[CaseCounts] = Field(
        description="every authority shown together: repair, objection and all"
    )
    authorities: list[AuthorityCases] = Field(description="each deciding authority's figures")
    rows: list[CaseRow] = Field(
        description="the cases behind the figures: filed or decided in the period, or overdue"
    )


# Lists ------------------------------------------------------------------------------------------
SUBJECT_EXAMPLE = {
    "subject_id": EXAMPLE_SUBJECT_ID,
    "kind": "enterprise",
    "name": "郑州宏达道路运输有限公司",
    "code_masked": "91410105MA00000016",
    "region_code": "410105",
    "sectors": ["road_transport"],
}


class ListedSubject(BaseModel):
    model_config = described(SUBJECT_EXAMPLE)
    subject_id: UUID = Field(description="the subject's id")
    kind: str = Field(description="enterprise, individual, vehicle or public_body")
    name: str = Field(description="the subject's name")
    code_masked: str = Field(description="its code as answers show it (an ID number masked)")
    region_code: str = Field(description="its region (GB/T 2260)")
    sectors: list[str] = Field(description="the sectors it is registered in")


ENTRY_EXAMPLE = {
    "record_id": LIST_ENTRY_ID,
    "list_type": "black",
    "subject": SUBJECT_EXAMPLE,
    "entered_on": "2026-11-10",
    "planned_end": "2029-11-10",
    "left_on": None,
    "how_left": None,
    "basis": "因车辆严重违法超限超载运输，经认定列入严重违法失信超限超载运输当事人名单",
    "authority_code": AUTHORITY_CODE,
    "authority_name": AUTHORITY_NAME,
    "source_ref": "豫交黑〔2026〕0012号",
}


class ListEntryRow(BaseModel):
    model_config = described(ENTRY_EXAMPLE)
    record_id: UUID = Field(description="the list entry's record")
    list_type: Literal["red", "black", "watch"] = Field(
        description="守信激励 (red), 严重失信主体 (black) or 重点关注 (watch)"
    )
    subject: ListedSubject = Field(description="the subject on the list")
    entered_on: date = Field(description="the entry's decision date")
    planned_end: date | None = Field(description="the end it was decided with, if any")
    left_on: date | None = Field(
        description="the first day it no longer held the subject on the list, if that day came "
        "by the period's end"
    )
    how_left: Literal["exited", "expired", "lapsed"] | None = Field(
        description="exited (a ListExited), expired (its planned end) or lapsed (the record it "
        "rests on was repaired)"
    )
    basis: str = Field(description="the basis the entry states")
    authority_code: str = Field(description="the authority that decided the entry")
    authority_name: str = Field(description="its name")
    source_ref: str = Field(description="the entry's decision number")


BREAKDOWN_EXAMPLE = {"key": "410100", "on_list_at_end": 12, "entries": 2, "exits": 1}


class ListBreakdown(BaseModel):
    model_config = described(BREAKDOWN_EXAMPLE)
    key: str = Field(description="a sector, or a region code rolled up to the level asked for")
    on_list_at_end: int = Field(description="subjects on the list on the period's last day")
    entries: int = Field(description="entries decided in the period")
    exits: int = Field(description="entries that stopped holding their subject in the period")


LIST_FIGURE_EXAMPLE = {
    "list_type": "black",
    "on_list_at_end": 12,
    "entries": 2,
    "exits": 1,
    "by_sector": [{**BREAKDOWN_EXAMPLE, "key": "road_transport"}],
    "by_region": [BREAKDOWN_EXAMPLE],
    "members": None,
    "entered": None,
    "exited": None,
}


class ListFigure(BaseModel):
    model_config = described(LIST_FIGURE_EXAMPLE)
    list_type: Literal["red", "black", "watch"] = Field(description="the list")
    on_list_at_end: int = Field(
        description="subjects (not entries) on it on the period's last day; a subject on the "
        "black list is not counted on the red one (its red membership is suspended)"
    )
    entries: int = Field(description="entries decided in the period")
    exits: int = Field(
        description="entries that stopped holding their subject in the period: exited, expired "
        "or lapsed with the record they rest on"
    )
    by_sector: list[ListBreakdown] = Field(
        description="by sector; a subject counts in each sector it is registered in"
    )
    by_region: list[ListBreakdown] = Field(description="by region, at `region_level`")
    members: list[ListEntryRow] | None = Field(
        description="with rows=true: the entry holding each subject on the list at the end"
    )
    entered: list[ListEntryRow] | None = Field(
        description="with rows=true: the entries decided in the period"
    )
    exited: list[ListEntryRow] | None = Field(
        description="with rows=true: the entries that stopped holding their subject in it"
    )


class ListReport(BaseModel):
    model_config = described(
        {"period": PERIOD_EXAMPLE, "region_level": "city", "lists": [LIST_FIGURE_EXAMPLE]}
    )
    period: Period = Field(description="the period reported on")
    region_level: Literal["province", "city", "county"] = Field(
        description="the level regions are rolled up to"
    )
    lists: list[ListFigure] = Field(description="red, black and watch, in that order")


# 联合奖惩成效清单 ---------------------------------------------------------------------------------
MEASURE_EXAMPLE = {
    "record_id": PENALTY_ID,
    "subject": SUBJECT_EXAMPLE,
    "measure_type": "punishment",
    "measure": "限制参与公路工程招标投标",
    "applying_agency": "河南省公共资源交易中心",
    "applied_on": "2026-11-12",
    "matter": "依据严重失信主体名单限制其投标资格",
    "authority_code": AUTHORITY_CODE,
    "authority_name": AUTHORITY_NAME,
    "source_ref": "豫交联〔2026〕0031号",
}


class JointMeasureRow(BaseModel):
    model_config = described(MEASURE_EXAMPLE)
    record_id: UUID = Field(description="the JointMeasureApplied record")
    subject: ListedSubject = Field(description="被执行主体: the subject the measure applied to")
    measure_type: Literal["reward", "punishment"] = Field(description="联合激励 or 联合惩戒")
    measure: str = Field(description="执行措施: the measure")
    applying_agency: str = Field(description="执行部门: the agency that applied it")
    applied_on: date = Field(description="执行时间: the day it was applied (its decision date)")
    matter: str = Field(description="具体事项: the matter it was applied in")
    authority_code: str = Field(description="the authority that recorded the feedback")
    authority_name: str = Field(description="its name")
    source_ref: str = Field(description="the feedback's reference number")


class JointMeasureList(BaseModel):
    model_config = described(
        {"period": PERIOD_EXAMPLE, "rewards": 0, "punishments": 1, "rows": [MEASURE_EXAMPLE]}
    )
    period: Period = Field(description="the month reported on")
    rewards: int = Field(description="joint rewards applied in it")
    punishments: int = Field(description="joint punishments applied in it")
    rows: list[JointMeasureRow] = Field(
        description="every joint reward or punishment applied in it, by day"
    )


# 超限超载严重失信 ---------------------------------------------------------------------------------
OVERLOAD_EXAMPLE = {
    "entry": ENTRY_EXAMPLE,
    "identified_by": "list_name",
    "basis_conduct": None,
}


class OverloadRow(BaseModel):
    model_config = described(OVERLOAD_EXAMPLE)
    entry: ListEntryRow = Field(description="the black-list entry")
    identified_by: Literal["basis_conduct", "list_name"] = Field(
        description="why it is on this list: the conduct of the record it rests on "
        "(basis_conduct), or the list its stated basis names (list_name), as the policy's "
        "`lists.overload` gives them"
    )
    basis_conduct: str | None = Field(
        description="the conduct (or a penalty's violation) type of the record it rests on"
    )


class OverloadList(BaseModel):
    model_config = described(
        {
            "period": PERIOD_EXAMPLE,
            "entered": [OVERLOAD_EXAMPLE],
            "exited": [],
            "on_list_at_end": [OVERLOAD_EXAMPLE],
        }
    )
    period: Period = Field(description="the month reported on")
    entered: list[OverloadRow] = Field(description="entries decided in the month")
    exited: list[OverloadRow] = Field(
        description="entries that stopped holding their subject in the month"
    )
    on_list_at_end: list[OverloadRow] = Field(
        description="every entry holding its subject on the list on the month's last day"
    )
