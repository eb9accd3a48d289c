"""The credit office's list figures and the two monthly lists: 联合奖惩成效清单 and
严重违法超限超载运输失信当事人名单. Every answer that names subjects is written to their access
logs (查询留痕) first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.auth import Authenticated, Caller, Purpose, authorities_seen, log_reads
from api.deps import ReadYourWrites, ServicesDep
from api.errors import AUTHENTICATED, problems
from api.queries.report_bodies import JointMeasureList, ListReport, OverloadList
from api.queries.report_period import MonthPeriod, Period
from domain.report_periods import ReportPeriod
from service.reporting.lists import JointMeasureRow, ListEntryRow, ListReports

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=problems(*AUTHENTICATED, 422))


def _reports(services: Any) -> ListReports:
    return ListReports(services.write_engine, services.policy, services.clock.zone)


async def log_report_reads(
    services: Any,
    caller: Caller,
    purpose: str,
    action: str,
    period: ReportPeriod,
    named: Iterable[tuple[UUID, UUID]],
) -> None:
    """查询留痕: one entry per subject the answer names, with the period and the records it names
    it by. The console's figures pages and the monthly 台账 log their reads with it too."""
    by_subject: dict[UUID, list[str]] = {}
    for subject_id, record_id in named:
        by_subject.setdefault(subject_id, []).append(str(record_id))
    summary = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    await log_reads(
        services,
        caller,
        purpose,
        action,
        {sid: {**summary, "records": sorted(set(ids))} for sid, ids in by_subject.items()},
    )


def subjects_named(
    rows: Iterable[ListEntryRow | JointMeasureRow],
) -> Iterable[tuple[UUID, UUID]]:
    """Each row's subject and the record that names it, as `log_report_reads` takes them."""
    return ((row.subject.subject_id, row.record_id) for row in rows)


@router.get(
    "/lists",
    operation_id="getListReport",
    summary="Subjects on the red, black and watch lists, by sector and region",
    response_model=ListReport,
    responses=problems(503),
    dependencies=[ReadYourWrites],
)
async def list_report(
    services: ServicesDep,
    caller: Authenticated,
    period: Period,
    why: Purpose,
    region_level: Annotated[
        Literal["province", "city", "county"],
        Query(description="roll regions up to the province, the city or keep the county"),
    ] = "city",
    rows: Annotated[
        bool,
        Query(description="also the entries behind each figure, naming their subjects (logged)"),
    ] = False,
) -> ListReport:
    """Per list (守信激励 red, 严重失信主体 black, 重点关注 watch): the subjects on it on the
    period's last day, the entries decided and the entries that stopped holding their subject
    in the period (exited, expired, or lapsed with the record they rest on), by sector and by
    region. Counts list decisions: the watch-list membership the status rules derive from
    conduct is no entry and is not counted. A recording agency sees the entries its own
    authorities decided."""
    codes = authorities_seen(caller, "list figures")
    figures = await run_in_threadpool(_reports(services).figures, period, codes, region_level)
    if not rows:
        figures_body = ListReport.model_validate(figures)
        for figure in figures_body.lists:
            figure.members = figure.entered = figure.exited = None
        return figures_body
    named = subjects_named(
        row
        for figure in figures.lists
        for part in (figure.members, figure.entered, figure.exited)
        for row in part
    )
    await log_report_reads(services, caller, why, "report_lists", period, named)
    return ListReport.model_validate(figures)


@router.get(
    "/joint-measures",
    operation_id="getJointMeasureList",
    summary="The month's 联合奖惩成效清单: every joint reward or punishment applied",
    response_model=JointMeasureList,
    responses=problems(503),
    dependencies=[ReadYourWrites],
)
async def joint_measure_list(
    services: ServicesDep, caller: Authenticated, period: MonthPeriod, why: Purpose
) -> JointMeasureList:
    """Every joint reward or punishment applied in the month (联合奖惩反馈, by the measure's
    decision date), with what the monthly list sent to the provincial and municipal systems
    holds: 被执行主体 (the subject), 执行措施, 执行部门, 执行时间, 具体事项. A recording agency
    sees the feedback its own authorities recorded."""
    codes = authorities_seen(caller, "joint measure lists")
    found = await run_in_threadpool(_reports(services).joint_measures, period, codes)
    named = subjects_named(found.rows)
    await log_report_reads(services, caller, why, "report_joint_measures", period, named)
    return JointMeasureList.model_validate(found)


@router.get(
    "/overload-dishonest",
    operation_id="getOverloadDishonestList",
    summary="The month's 严重违法超限超载运输失信当事人名单",
    response_model=OverloadList,
    responses=problems(503),
    dependencies=[ReadYourWrites],
)
async def overload_dishonest_list(
    services: ServicesDep, caller: Authenticated, period: MonthPeriod, why: Purpose
) -> OverloadList:
    """The black-list entries on the list of seriously dishonest subjects in overload control
    that the notices ask to report each month: those entered and those that stopped holding
    their subject in the month, and every one holding its subject at the month's end. Which
    entries are on it is the policy's (`lists.overload`, the version in force on the entry's
    decision date): the conduct of the record it rests on, or the list its basis names."""
    codes = authorities_seen(caller, "overload lists")
    found = await run_in_threadpool(_reports(services).overload_list, period, codes)
    named = subjects_named(
        row.entry for part in (found.entered, found.exited, found.on_list_at_end) for row in part
    )
    await log_report_reads(services, caller, why, "report_overload_dishonest", period, named)
    return OverloadList.model_validate(found)
