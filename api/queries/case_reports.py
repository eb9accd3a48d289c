"""The credit office's case figures: repairs and objections per deciding authority."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auth import Authenticated, authorities_seen
from api.deps import CaseReadYourWrites, ServicesDep
from api.errors import AUTHENTICATED, problems
from api.queries.report_bodies import CaseReport
from api.queries.report_period import Period
from service.reporting.cases import CaseReports

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=problems(*AUTHENTICATED, 422))


@router.get(
    "/cases",
    operation_id="getCaseReport",
    summary="Repair and objection cases per deciding authority",
    response_model=CaseReport,
    responses=problems(503),
    dependencies=[CaseReadYourWrites],
)
async def case_report(services: ServicesDep, caller: Authenticated, period: Period) -> CaseReport:
    """For the period: cases filed, decided, decided within the deadline the policy in force on
    their filing day set, and the median working days from filing to decision; and the cases
    open today past their deadline. Per deciding authority (谁认定、谁修复) and in total, by
    kind (信用修复, 异议), with every case behind the figures. The credit office and auditors
    see every authority's; a recording agency its own authorities'."""
    codes = authorities_seen(caller, "case figures")
    reports = CaseReports(services.write_engine, services.case_queries)
    figures = await run_in_threadpool(reports.figures, period, codes)
    return CaseReport.model_validate(figures)
