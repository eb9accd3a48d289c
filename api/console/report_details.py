"""The rows behind the credit office's figures, a page each, reached from the figures page: the
late and the incomplete licences and penalties behind one authority's 双公示及时率 and 信用信息
合格率, the cases behind its case figures, the entries behind a list's counts (by region or
sector), the month's 联合奖惩成效清单 and its 严重违法超限超载运输失信当事人名单.

The same roles and authorities as the figures page (`api.auth.oversight`). A page that names
subjects writes one access-log row per subject (查询留痕, `log_report_reads`, as the API's report
routes do) before it is answered; the cases name none."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import AUDIT
from api.console import labels
from api.console import report_views as views
from api.console.reports import MonthAsked, Overseer, month_context, reports_of
from api.console.staff import PageRefused, Staff, render
from api.deps import ServicesDep
from api.queries.list_reports import log_report_reads, subjects_named
from api.templating import chinese_date
from domain.events import LIST_TYPES
from domain.months import Month
from domain.regions import region_label
from domain.report_periods import ReportPeriod
from service.reporting.completeness import IncompleteRecord
from service.reporting.definitions import (
    CASES,
    COMPLETENESS,
    FIGURES,
    JOINT_MEASURES,
    LISTS,
    OVERLOAD,
    TIMELINESS,
)
from service.reporting.lists import JointMeasureRow, ListEntryRow
from service.reporting.monthly import month_period
from service.reporting.subjects import ListedSubject, subjects_of_report_records
from service.reporting.timeliness import LateRecord

router = APIRouter(prefix="/console/reports", tags=["staff console"], include_in_schema=False)
Filter = Annotated[str | None, Query(max_length=40)]

# Why these pages read subjects, as the access log keeps it: the person checks the month's
# figures against the rows behind them.
REPORT_PURPOSE = "核对月度信用工作指标"
NOT_OWN_AUTHORITY = "您只能查看本单位作为认定机关的案件。"
NOT_OWN_RECORDS = "您只能查看本单位作为认定机关作出的行政许可、行政处罚信息。"
# The late or incomplete records a page lists per authority at most, the most late or the
# emptiest first (the figures above them count them all).
RECORDS_SHOWN = 500
# An auditor's page of a subject's history, where the name of a subject on these pages leads.
SUBJECT_HISTORY = "/console/audit/subjects/{subject_id}"
NO_LIST = "请选择名单：红名单、黑名单或重点关注名单。"
BAD_REGION = "地区有误：请填写 6 位行政区划代码，如 410100。"
BAD_SECTOR = "行业有误：请从列表中选择。"
REGION = re.compile(r"\d{6}")
SECTOR = re.compile(r"[a-z_]{1,40}")


def _page(
    request: Request, template: str, staff: Staff, context: dict[str, Any], **shown: Any
) -> HTMLResponse:
    status = 422 if context["message"] else 200
    back = views.link("", context["month"])  # the figures page of the same month
    return render(request, template, staff, status_code=status, **context, back=back, **shown)


async def _logged(
    services: Any,
    staff: Staff,
    action: str,
    period: ReportPeriod,
    rows: Iterable[ListEntryRow | JointMeasureRow],
) -> None:
    named = subjects_named(rows)
    await log_report_reads(services, staff.caller, REPORT_PURPOSE, action, period, named)


def _authorities_asked(codes: list[str] | None, authority: str | None, refusal: str):
    """The authorities a rows page shows: the one asked for (if the person oversees it), or all
    the person oversees (None: every one)."""
    if not authority:
        return codes
    if codes is not None and authority not in codes:
        raise PageRefused(refusal)
    return [authority]


async def _subjects_logged(
    services: Any,
    staff: Staff,
    action: str,
    period: ReportPeriod,
    rows: Sequence[LateRecord | IncompleteRecord],
) -> dict[UUID, ListedSubject]:
    """The subjects of the late or incomplete records a page lists, by record: each written to
    the access log with the records that name it before the page is answered."""
    subjects = await run_in_threadpool(
        subjects_of_report_records, services.write_engine, [row.record_id for row in rows]
    )
    named = [
        (subjects[r.record_id].subject_id, r.record_id) for r in rows if r.record_id in subjects
    ]
    await log_report_reads(services, staff.caller, REPORT_PURPOSE, action, period, named)
    return subjects


def _history_link(staff: Staff) -> str | None:
    return SUBJECT_HISTORY if AUDIT in staff.caller.scopes else None


@router.get("/late", response_class=HTMLResponse)
async def late_rows(
    request: Request,
    services: ServicesDep,
    staff: Overseer,
    month: MonthAsked = None,
    authority: Filter = None,
) -> HTMLResponse:
    """The licences and penalties behind one deciding authority's 双公示及时率 that were recorded
    after their deadline (every authority's without one), each with its subject: logged first."""
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    template = "console/report_late.html"
    shown = {"definition": FIGURES[TIMELINESS], "authority": authority or ""}
    if chosen is None:
        return _page(request, template, staff, context, **shown)
    codes = _authorities_asked(context["own_authorities"], authority, NOT_OWN_RECORDS)
    period = month_period(chosen)
    reports = reports_of(services)
    report = await run_in_threadpool(reports.timeliness, period, codes, RECORDS_SHOWN)
    rows = [row for group in report.groups for row in group.late_records]
    subjects = await _subjects_logged(services, staff, "page_report_late", period, rows)
    named = views.authority_labels((g.key, g.name) for g in report.groups)
    return _page(
        request,
        template,
        staff,
        context,
        **shown,
        authority_name=named.get(authority or "", authority or ""),
        report=report,
        line=views.timeliness_lines(report, chosen)[-1],
        deadline=views.deadline_text(report.deadline_days, report.working_days),
        cut=[named[g.key] for g in report.groups if g.late > len(g.late_records)],
        shown_at_most=RECORDS_SHOWN,
        rows=views.late_views(rows, named, subjects, _history_link(staff)),
    )


@router.get("/incomplete", response_class=HTMLResponse)
async def incomplete_rows(
    request: Request,
    services: ServicesDep,
    staff: Overseer,
    month: MonthAsked = None,
    authority: Filter = None,
) -> HTMLResponse:
    """The licences and penalties behind one deciding authority's 信用信息合格率 that fill less
    than the threshold of the standard's indicator fields (every authority's without one), each
    with its subject and the fields it lacks: logged first."""
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    template = "console/report_incomplete.html"
    shown = {"definition": FIGURES[COMPLETENESS], "authority": authority or ""}
    if chosen is None:
        return _page(request, template, staff, context, **shown)
    codes = _authorities_asked(context["own_authorities"], authority, NOT_OWN_RECORDS)
    period = month_period(chosen)
    reports = reports_of(services)
    report = await run_in_threadpool(reports.completeness, period, codes, RECORDS_SHOWN)
    rows = [row for group in report.groups for row in group.incomplete_records]
    subjects = await _subjects_logged(services, staff, "page_report_incomplete", period, rows)
    named = views.authority_labels((g.key, g.name) for g in report.groups)
    return _page(
        request,
        template,
        staff,
        context,
        **shown,
        authority_name=named.get(authority or "", authority or ""),
        report=report,
        line=views.completeness_lines(report, chosen)[-1],
        threshold=views.share_text(report.threshold),
        cut=[named[g.key] for g in report.groups if g.incomplete > len(g.incomplete_records)],
        shown_at_most=RECORDS_SHOWN,
        rows=views.incomplete_views(rows, named, subjects, _history_link(staff)),
    )


@router.get("/cases", response_class=HTMLResponse)
async def case_rows(
    request: Request,
    services: ServicesDep,
    staff: Overseer,
    month: MonthAsked = None,
    authority: Filter = None,
) -> HTMLResponse:
    """The cases behind one deciding authority's figures (every authority's without one)."""
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    template = "console/report_cases.html"
    shown = {"definition": FIGURES[CASES], "authority": authority or ""}
    if chosen is None:
        return _page(request, template, staff, context, **shown)
    codes = _authorities_asked(context["own_authorities"], authority, NOT_OWN_AUTHORITY)
    figures = await run_in_threadpool(
        reports_of(services).cases.figures, month_period(chosen), codes
    )
    lines = views.case_lines(figures.authorities, figures.total, chosen)
    named = views.authority_labels(
        (a.authority_code, a.authority_name) for a in figures.authorities
    )
    return _page(
        request,
        template,
        staff,
        context,
        **shown,
        authority_name=named.get(authority or "", authority or ""),
        line=lines[-1],  # the total of the authorities shown
        cases=views.case_views(figures.rows, named),
        counted_on=chinese_date(figures.counted_on),
    )


@router.get("/lists", response_class=HTMLResponse)
async def list_rows(
    request: Request,
    services: ServicesDep,
    staff: Overseer,
    month: MonthAsked = None,
    list_type: Annotated[str | None, Query(alias="list", max_length=10)] = None,
    region: Filter = None,
    sector: Filter = None,
) -> HTMLResponse:
    """A list's entries behind its figures: the subjects on it at the month's end, the entries
    and the exits, within a region (rolled up: 410100 holds 410105) or a sector if asked."""
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    form = {"list": list_type or "", "region": region or "", "sector": sector or ""}
    if not context["message"]:
        if list_type not in LIST_TYPES:
            context["message"] = NO_LIST
        elif region and not REGION.fullmatch(region):
            context["message"] = BAD_REGION
        elif sector and not SECTOR.fullmatch(sector):
            context["message"] = BAD_SECTOR
    template = "console/report_lists.html"
    shown = {
        "definition": FIGURES[LISTS],
        "form": form,
        "list_names": views.LIST_NAMES,
        "sectors": labels.SECTORS,
        "list_name": views.LIST_NAMES.get(list_type or "", ""),
        "region_label": region_label(region) if region else "",
    }
    if chosen is None or context["message"]:
        return _page(request, template, staff, context, **shown)
    period = month_period(chosen)
    figures = await run_in_threadpool(
        reports_of(services).lists.figures, period, context["own_authorities"], "city"
    )
    figure = next(f for f in figures.lists if f.list_type == list_type)

    def kept(rows: tuple[ListEntryRow, ...]) -> list[ListEntryRow]:
        return [
            row
            for row in rows
            if (not region or views.in_region(row.subject.region_code, region))
            and (not sector or sector in row.subject.sectors)
        ]

    parts = {
        "members": kept(figure.members),
        "entered": kept(figure.entered),
        "exited": kept(figure.exited),
    }
    await _logged(
        services, staff, "page_report_lists", period, [r for rows in parts.values() for r in rows]
    )
    return _page(
        request,
        template,
        staff,
        context,
        **shown,
        parts={part: views.entry_views(rows) for part, rows in parts.items()},
    )


@router.get("/joint-measures", response_class=HTMLResponse)
async def joint_measure_rows(
    request: Request, services: ServicesDep, staff: Overseer, month: MonthAsked = None
) -> HTMLResponse:
    """联合奖惩成效清单: every joint reward or punishment applied in the month."""
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    template = "console/report_joint_measures.html"
    shown = {"definition": FIGURES[JOINT_MEASURES]}
    if chosen is None:
        return _page(request, template, staff, context, **shown)
    period = month_period(chosen)
    found = await run_in_threadpool(
        reports_of(services).lists.joint_measures, period, context["own_authorities"]
    )
    await _logged(services, staff, "page_report_joint_measures", period, found.rows)
    return _page(
        request,
        template,
        staff,
        context,
        **shown,
        measures=found,
        rows=views.measure_views(found.rows),
    )


@router.get("/overload", response_class=HTMLResponse)
async def overload_rows(
    request: Request, services: ServicesDep, staff: Overseer, month: MonthAsked = None
) -> HTMLResponse:
    """严重违法超限超载运输失信当事人名单: entered, exited and on it at the month's end."""
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    template = "console/report_overload.html"
    shown = {"definition": FIGURES[OVERLOAD]}
    if chosen is None:
        return _page(request, template, staff, context, **shown)
    period = month_period(chosen)
    found = await run_in_threadpool(
        reports_of(services).lists.overload_list, period, context["own_authorities"]
    )
    parts = {
        "entered": found.entered,
        "exited": found.exited,
        "on_list_at_end": found.on_list_at_end,
    }
    await _logged(
        services,
        staff,
        "page_report_overload",
        period,
        [row.entry for rows in parts.values() for row in rows],
    )
    return _page(
        request,
        template,
        staff,
        context,
        **shown,
        parts={part: views.overload_views(rows) for part, rows in parts.items()},
    )
