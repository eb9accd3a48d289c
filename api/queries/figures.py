"""The credit office's figures (三率) as JSON: timeliness (及时率) and completeness (合格率) of a
period's licences and penalties, by authority, region or sector, with the records behind each
figure. The credit office and auditors read every authority's; a recorder its own."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.auth import MONITOR, Authenticated, Caller, oversight
from api.deps import ReportReadYourWrites, ServicesDep
from api.errors import AUTHENTICATED, InsufficientScope, problems
from api.queries.report_period import Period
from api.schemas import CompletenessReportView, TimelinessReportView
from domain.report_periods import ReportPeriod
from projections.report_records.scope import ReportScope
from service.access.permissions import NotPermitted
from service.reporting.completeness import completeness_report
from service.reporting.timeliness import timeliness_report

router = APIRouter(
    prefix="/v1/reports",
    tags=["reports"],
    responses=problems(*AUTHENTICATED, 422, 503),
    dependencies=[ReportReadYourWrites],
)

GroupBy = Annotated[
    Literal["authority", "region", "sector"],
    Query(
        description="authority; region (the division code of the authority's registration, "
        "its USCC's 3rd-8th characters); or sector (each of the subject's sectors)"
    ),
]
AuthorityCode = Annotated[
    str | None,
    Query(
        min_length=18,
        max_length=18,
        description="only this deciding authority (its unified social credit code)",
    ),
]
Region = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{2,6}$",
        description="only authorities registered in this division: its code or a prefix of it "
        "(41 Henan, 4101 Zhengzhou)",
    ),
]


def _scope(
    caller: Caller,
    period: ReportPeriod,
    group_by: str,
    authority_code: str | None,
    region: str | None,
) -> ReportScope:
    """The rows the caller may see of what it asks for: every authority's for the credit
    office and auditors; a recorder's own authorities' (asking for another's is refused)."""
    overseen = oversight(caller)
    if overseen is None:
        raise InsufficientScope(
            "figures need the credit:monitor or credit:audit scope, or credit:record for a "
            "recording agency's own authorities; this token carries none of them",
            MONITOR,
        )
    asked = None if authority_code is None else frozenset({authority_code})
    own = overseen.authority_codes
    if own is not None and asked is not None and not asked <= own:
        raise NotPermitted(
            f"authority {authority_code} is not one this client records for: a recorder "
            "reads its own authorities' figures"
        )
    authorities = own if asked is None else asked
    return ReportScope(period, group_by=group_by, authorities=authorities, region=region)


def _answer(report: Any) -> dict[str, Any]:
    return asdict(report)


@router.get(
    "/timeliness",
    operation_id="getTimelinessReport",
    summary="Timeliness (及时率) of licences and penalties",
    response_model=TimelinessReportView,
)
async def timeliness(
    services: ServicesDep,
    caller: Authenticated,
    period: Period,
    group_by: GroupBy = "authority",
    authority_code: AuthorityCode = None,
    region: Region = None,
    late_per_group: Annotated[
        int, Query(ge=0, le=1000, description="late records listed per group, the most late first")
    ] = 20,
) -> dict[str, Any]:
    """How many licences and penalties decided in the period were recorded within the
    publication deadline of their decision (双公示: 7 working days, Chinese holidays and
    adjusted working days counted), the rate, and the late ones with how many working days
    late, by authority, region or sector. Each record is measured under the policy version in
    force on its decision date; a correction of its decision date moves it to its period."""
    scope = _scope(caller, period, group_by, authority_code, region)
    report = await run_in_threadpool(
        timeliness_report,
        services.write_engine,
        services.policy,
        scope,
        late_per_group=late_per_group,
    )
    return _answer(report)


@router.get(
    "/completeness",
    operation_id="getCompletenessReport",
    summary="Completeness (合格率) of licences and penalties",
    response_model=CompletenessReportView,
)
async def completeness(
    services: ServicesDep,
    caller: Authenticated,
    period: Period,
    group_by: GroupBy = "authority",
    authority_code: AuthorityCode = None,
    region: Region = None,
    top_missing: Annotated[
        int, Query(ge=0, le=50, description="most often missing fields listed per group")
    ] = 5,
    incomplete_per_group: Annotated[
        int,
        Query(ge=0, le=1000, description="incomplete records listed per group, emptiest first"),
    ] = 20,
) -> dict[str, Any]:
    """How many licences and penalties decided in the period fill at least the policy's share
    (60 %, reached at exactly 60 %) of the national standard's indicator fields, the share of
    complete records, the fields most often missing, and the records below the threshold with
    the fields each lacks, so that the authority can fill them, by authority, region or sector."""
    scope = _scope(caller, period, group_by, authority_code, region)
    report = await run_in_threadpool(
        completeness_report,
        services.write_engine,
        services.policy,
        scope,
        top_missing=top_missing,
        incomplete_per_group=incomplete_per_group,
    )
    return _answer(report)
