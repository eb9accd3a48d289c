"""The credit office's figures (信用工作指标): one page per month for the credit office, auditors
(every authority) and recorders (their own authorities as deciding agency, `api.auth.oversight`),
with the month chosen in a plain GET form, by default the last full month in CREDIT_TIMEZONE;
and the month's 台账 as a workbook.

The page shows each figure of the month (`service.reporting.monthly`) as a table with links to
the rows behind it (`report_details.py`) and a chart, with what it counts and where it comes
from (`service.reporting.definitions`, which the workbook's cover reads too), and the 双公示及时率,
the 信用信息合格率 and the case decided-within-deadline rate over twelve months."""

from __future__ import annotations

import urllib.parse
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import OVERSIGHT_SCOPES, Oversight, oversight
from api.console import report_views as views
from api.console.ledger_workbook import MEDIA_TYPE, ledger_workbook
from api.console.report_ledger import (
    LEDGER_ACTION,
    LEDGER_PURPOSE,
    LEDGER_RECORDS,
    ledger_cover,
    ledger_sheets,
)
from api.console.staff import Staff, page_for, render
from api.deps import ServicesDep
from api.queries.list_reports import log_report_reads
from api.templating import chinese_date
from domain.months import Month
from service.reporting.definitions import FIGURES
from service.reporting.monthly import MonthFigures, MonthlyReports

router = APIRouter(prefix="/console/reports", tags=["staff console"], include_in_schema=False)
Overseer = Annotated[Staff, page_for(*OVERSIGHT_SCOPES)]
MonthAsked = Annotated[str | None, Query()]  # a bad one is said on the page

BAD_MONTH = "月份有误：请按“2026-11”的格式选择年月。"
FUTURE_MONTH = "所选月份尚未开始，请选择本月或以前的月份。"


def reports_of(services: Any) -> MonthlyReports:
    """The figures' queries, built per request as the API's report routes build theirs."""
    return MonthlyReports(
        services.write_engine, services.case_queries, services.policy, services.clock.zone
    )


def overseen_by(staff: Staff) -> Oversight:
    overseen = oversight(staff.caller)
    assert overseen is not None  # page_for let in only the scopes oversight reads
    return overseen


def own_authorities(overseen: Oversight) -> list[str] | None:
    return None if overseen.authority_codes is None else sorted(overseen.authority_codes)


def whose(overseen: Oversight) -> str:
    """How a chart's title names whose figures it shows."""
    return "本单位" if overseen.authority_codes is not None else "各认定机关"


def month_asked(asked: str | None, today: Any) -> tuple[Month | None, str]:
    """The month the form asked for (the last full one if none), or why it cannot be shown."""
    if asked is None or not asked.strip():
        return Month.last_full_before(today), ""
    try:
        chosen = Month.parse(asked)
    except ValueError:
        return None, BAD_MONTH
    if chosen > Month.of(today):
        return None, FUTURE_MONTH
    return chosen, ""


def month_context(services: Any, staff: Staff, asked: str | None) -> dict[str, Any]:
    """What every figures page shows of the month: the month (or why not), whether it has ended,
    and whose figures they are."""
    today = services.clock.today()
    chosen, problem = month_asked(asked, today)
    month = chosen or Month.last_full_before(today)
    return {
        "month": month,
        "chosen": chosen,
        "message": problem,
        "max_month": Month.of(today),
        "today": chinese_date(today),
        "month_ended": month < Month.of(today),
        "own_authorities": own_authorities(overseen_by(staff)),
    }


@router.get("", response_class=HTMLResponse)
async def reports_page(
    request: Request, services: ServicesDep, staff: Overseer, month: MonthAsked = None
) -> HTMLResponse:
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    if chosen is None:
        return render(request, "console/reports.html", staff, status_code=422, **context)
    overseen = overseen_by(staff)
    reports = reports_of(services)
    codes = context["own_authorities"]
    figures = await run_in_threadpool(reports.month, chosen, codes)
    rates = await run_in_threadpool(reports.case_rates, chosen, codes)
    timeliness_rates = await run_in_threadpool(reports.timeliness_rates, chosen, codes)
    completeness_rates, fill_rates = await run_in_threadpool(
        reports.completeness_and_fill_rates, chosen, codes
    )
    return render(
        request,
        "console/reports.html",
        staff,
        **context,
        preceding=chosen.preceding(),
        following=chosen.following() if context["month_ended"] else None,
        definitions=FIGURES,
        **figure_views(figures, whose(overseen)),
        trend=views.trend_chart(rates, whose(overseen)),
        timeliness_trend=views.trend_chart(
            timeliness_rates, whose(overseen), "timeliness-trend", "双公示及时率", "及时率"
        ),
        completeness_trend=views.trend_chart(
            completeness_rates,
            whose(overseen),
            "completeness-trend",
            "信用信息合格率和数据项填报率",
            "合格率",
            ("填报率", fill_rates),
        ),
        counted_on=chinese_date(figures.cases.counted_on),
        ledger=views.link("/ledger.xlsx", chosen),
    )


def figure_views(figures: MonthFigures, whose: str) -> dict[str, Any]:
    """Each section's tables, charts and links."""
    month = figures.month
    by_region, by_sector = views.list_charts(figures.lists, month, whose)
    timeliness, completeness = figures.timeliness, figures.completeness
    return {
        "timeliness": timeliness,
        "timeliness_lines": views.timeliness_lines(timeliness, month),
        "timeliness_deadline": views.deadline_text(
            timeliness.deadline_days, timeliness.working_days
        ),
        "late_chart": views.late_chart(timeliness, month, whose),
        "completeness": completeness,
        "completeness_lines": views.completeness_lines(completeness, month),
        "completeness_threshold": views.share_text(completeness.threshold),
        "incomplete_chart": views.incomplete_chart(completeness, month, whose),
        "missing_chart": views.missing_chart(completeness, month, whose),
        "case_lines": views.case_lines(figures.cases.authorities, figures.cases.total, month),
        "case_chart": views.case_chart(figures.cases.authorities, month, whose),
        "list_lines": views.list_lines(figures.lists, month),
        "region_lines": views.region_lines(figures.lists, month),
        "lists_by_region": by_region,
        "lists_by_sector": by_sector,
        "measures": figures.joint_measures,
        "measures_link": views.link("/joint-measures", month),
        "overload": figures.overload,
        "overload_link": views.link("/overload", month),
    }


@router.get("/ledger.xlsx", response_model=None)
async def ledger_download(
    request: Request, services: ServicesDep, staff: Overseer, month: MonthAsked = None
) -> Response:
    """The month's 台账: the cover and a sheet per figure. It names the subjects of the
    联合奖惩成效清单 and the overload list, so each is written to the access log first."""
    context = month_context(services, staff, month)
    chosen: Month | None = context["chosen"]
    if chosen is None:
        return render(request, "console/reports.html", staff, status_code=422, **context)
    figures = await run_in_threadpool(
        partial(reports_of(services).month, records_per_authority=LEDGER_RECORDS),
        chosen,
        context["own_authorities"],
    )
    overload = figures.overload
    named = [(row.subject.subject_id, row.record_id) for row in figures.joint_measures.rows] + [
        (row.entry.subject.subject_id, row.entry.record_id)
        for part in (overload.entered, overload.exited, overload.on_list_at_end)
        for row in part
    ]
    await log_report_reads(
        services, staff.caller, LEDGER_PURPOSE, LEDGER_ACTION, figures.period, named
    )
    cover = ledger_cover(
        figures, staff.account.agency_name, services.clock.now(), services.clock.zone
    )
    name = f"{chosen.chinese}信用交通工作台账.xlsx"
    fallback = f"credit-ledger-{chosen}.xlsx"
    return Response(
        ledger_workbook(cover, ledger_sheets(figures)),
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''{urllib.parse.quote(name)}"
        },
    )
