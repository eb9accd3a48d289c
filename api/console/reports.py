"""The credit office's figures (信用工作指标): one page per month for the credit office, auditors
(every authority) and recorders (their own authorities as deciding agency), with the month
chosen in a plain GET form, by default the last full month in CREDIT_TIMEZONE.

The page has a section for each figure the credit office is graded on; each says so while its
figure is not yet computed. The repair and objection cases open and overdue today, by deciding
authority, are shown already: the credit office's overdue listing (`CaseQueries.listing`, the
one `GET /v1/cases` reads), drawn with `api.console.charts`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.auth import OVERSIGHT_SCOPES, Oversight, oversight
from api.console.charts import Chart, Series, bar_chart
from api.console.staff import Staff, page_for, render
from api.deps import ServicesDep
from api.templating import chinese_date
from domain.months import Month

router = APIRouter(prefix="/console/reports", tags=["staff console"], include_in_schema=False)
Overseer = Annotated[Staff, page_for(*OVERSIGHT_SCOPES)]

BAD_MONTH = "月份有误：请按“2026-11”的格式选择年月。"
FUTURE_MONTH = "所选月份尚未开始，请选择本月或以前的月份。"
# More open cases than this and the chart counts the earliest filed only, and says so.
CASE_LIMIT = 5000


@dataclass(frozen=True)
class CaseCounts:
    """Open repair and objection cases today, by deciding authority."""

    chart: Chart
    open_cases: int
    overdue_cases: int
    truncated: bool


@router.get("", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    services: ServicesDep,
    staff: Overseer,
    month: Annotated[str | None, Query()] = None,  # a bad one is said on the page
) -> HTMLResponse:
    overseen = oversight(staff.caller)
    assert overseen is not None  # page_for let in only the scopes oversight reads
    today = services.clock.today()
    latest = Month.last_full_before(today)
    chosen, problem = _month_asked(month, latest, Month.of(today))
    context: dict[str, Any] = {
        "month": chosen or latest,
        "max_month": Month.of(today),
        "message": problem,
        "today": chinese_date(today),
        "own_authorities": (
            None if overseen.authority_codes is None else sorted(overseen.authority_codes)
        ),
    }
    if chosen is None:
        return render(request, "console/reports.html", staff, status_code=422, **context)
    views = await run_in_threadpool(
        services.case_queries.listing,
        overdue_only=False,
        authority_codes=context["own_authorities"],
        limit=CASE_LIMIT,
    )
    return render(
        request,
        "console/reports.html",
        staff,
        **context,
        month_ended=chosen < Month.of(today),
        preceding=chosen.preceding(),
        following=chosen.following() if chosen < Month.of(today) else None,
        cases=case_counts(views, overseen, chinese_date(today)),
    )


def _month_asked(asked: str | None, latest: Month, current: Month) -> tuple[Month | None, str]:
    """The month the form asked for (the last full one if none), or why it cannot be shown."""
    if asked is None or not asked.strip():
        return latest, ""
    try:
        chosen = Month.parse(asked)
    except ValueError:
        return None, BAD_MONTH
    if chosen > current:
        return None, FUTURE_MONTH
    return chosen, ""


def case_counts(views: list[dict[str, Any]], overseen: Oversight, today: str) -> CaseCounts:
    """The cases listed, counted by deciding authority: most overdue first, then most open."""
    open_by = Counter(view["authority_code"] for view in views)
    overdue_by = Counter(view["authority_code"] for view in views if view["overdue"])
    authorities = sorted(open_by, key=lambda code: (-overdue_by[code], -open_by[code], code))
    whose = "本单位" if overseen.authority_codes is not None else "各认定机关"
    chart = bar_chart(
        "open-cases",
        f"{whose}未办结的信用修复和异议案件（截至{today}）",
        authorities,
        [
            Series("未办结", [open_by[code] for code in authorities]),
            Series("其中已超期", [overdue_by[code] for code in authorities]),
        ],
        category_heading="认定机关（统一社会信用代码）",
        unit="件",
    )
    return CaseCounts(
        chart,
        open_cases=sum(open_by.values()),
        overdue_cases=sum(overdue_by.values()),
        truncated=len(views) >= CASE_LIMIT,
    )
