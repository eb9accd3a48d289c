"""Repair (信用修复) and objection (异议) cases over HTTP: applicants file and follow them with a
case number and query code (no account); the deciding agency takes the steps; the credit office
lists overdue cases."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.auth import Authenticated, Recorder, authorities_seen
from api.deps import MAX_INT64, CaseReadYourWrites, ServicesDep
from api.errors import (
    AUTHENTICATED,
    WITH_BODY,
    InvalidRequest,
    NoSuchAction,
    TooManyRequests,
    problems,
)
from api.rate_limit import RateLimited
from api.schemas import CASE_NUMBER, CaseFiled, CaseList, CaseStepTaken, CaseView, Written, example
from domain.errors import CaseNotFound
from service.commanding.cases import (
    MAX_EVIDENCE,
    STEPS,
    Line,
    ObjectionApplication,
    RepairApplication,
)
from service.commanding.commands import Input

# Filings and steps decide on the subject's stream, which holds every write that was answered:
# they wait on no read model. The applicant's view and the case list read the cases read model,
# and wait (bounded) for the `min_position` passed.
router = APIRouter(prefix="/v1", tags=["cases"], responses=problems(422, 503))
APPLICANT = (*WITH_BODY, 429)  # no account: limited by address


async def _position_not_needed(
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_INT64,
            deprecated=True,
            description="Accepted as before, and not waited on: this command decides on the "
            "subject's stream, which has every write that was answered.",
        ),
    ] = None,
) -> None:
    """Commands used to wait for a read model here; clients that still pass a position get
    the same answer as without it."""


StreamDecides = Depends(_position_not_needed)


class CaseAccess(Input):
    model_config = example({"case_number": CASE_NUMBER, "query_code": "B77VF7EB"}, extra="forbid")
    case_number: Annotated[str, Field(min_length=6, max_length=40)] = Field(
        description="the case number (案件编号) the filing answered"
    )
    query_code: Annotated[str, Field(min_length=4, max_length=20)] = Field(
        description="the query code (查询码) the filing answered, in any letter case"
    )


class Supply(CaseAccess):
    model_config = example(
        {"case_number": CASE_NUMBER, "query_code": "B77VF7EB", "evidence": ["整改报告.pdf"]}
    )
    evidence: Annotated[list[Line], Field(min_length=1, max_length=MAX_EVIDENCE)] = Field(
        description="the materials handed in, by name"
    )


class Step(Input):
    model_config = example(
        {},
        {"missing": ["整改报告原件"]},
        {"reasons": "罚款已缴纳，整改到位，符合修复条件"},
        {"outcome": "corrected", "reasons": "金额录入有误", "changes": {"fine_amount": "0.5"}},
        extra="forbid",
    )
    reasons: Annotated[str, Field(max_length=5000)] = Field(
        default="", description="approve, deny, revoke-repair, resolve: the decision's reasons"
    )
    missing: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=500)]], Field(max_length=50)
    ] = Field(default_factory=list, description="return: what the applicant must add")
    outcome: str | None = Field(
        default=None, description="resolve: corrected (with `changes`), revoked or upheld"
    )
    changes: dict[str, Any] | None = Field(
        default=None,
        description="resolve corrected: the record's corrected fields, as a RecordCorrected's",
    )


def _throttle(request: Request, purpose: str) -> None:
    """No account here, so limit by address: guessing query codes costs time."""
    address = request.client.host if request.client else "unknown"
    try:
        request.app.state.applicant_limiter.check(f"{purpose}:{address}")
    except RateLimited as limited:
        raise TooManyRequests(
            "too many attempts; wait and try again", limited.retry_after_seconds
        ) from None


def _filed(filed) -> dict:
    return {
        "case_number": filed.case_number,
        "query_code": filed.query_code,
        "position": filed.position,
        "note": "keep the query code (查询码): it is shown only now",
    }


@router.post(
    "/cases/repair",
    operation_id="applyForRepair",
    summary="Apply for credit repair (信用修复) of a record",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseFiled,
    responses=problems(*APPLICANT, 409),
    dependencies=[StreamDecides],
)
async def apply_for_repair(
    body: RepairApplication, request: Request, services: ServicesDep
) -> dict:
    """Apply for credit repair of a published record; answers with the case number and query
    code, or with the exact reason it cannot be accepted yet (with the date it will be)."""
    _throttle(request, "apply")
    return _filed(await run_in_threadpool(services.cases.apply_for_repair, body))


@router.post(
    "/cases/objection",
    operation_id="fileObjection",
    summary="Object (异议) to a record",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseFiled,
    responses=problems(*APPLICANT, 409),
    dependencies=[StreamDecides],
)
async def file_objection(
    body: ObjectionApplication, request: Request, services: ServicesDep
) -> dict:
    """Object to a record: it shows 异议处理中 to every querying agency until resolved."""
    _throttle(request, "apply")
    return _filed(await run_in_threadpool(services.cases.file_objection, body))


@router.post(
    "/cases:progress",
    operation_id="getCaseProgress",
    summary="A case's progress, by case number and query code",
    response_model=CaseView,
    responses=problems(*APPLICANT, 404),
    dependencies=[CaseReadYourWrites],
)
async def case_progress(body: CaseAccess, request: Request, services: ServicesDep) -> dict:
    """The applicant's view: steps, the current deadline, what is missing, and once the record
    is repaired or revoked how many agencies that had read it were told to stop using it and
    how many confirmed (`propagation`). A wrong query code gets the same answer as an unknown
    case."""
    _throttle(request, "progress")
    case = await run_in_threadpool(
        services.case_queries.for_applicant, body.case_number, body.query_code
    )
    if case is None:
        raise CaseNotFound("no case with this number and query code")
    propagation = await run_in_threadpool(services.notices.of_case, case)
    return {
        **services.case_queries.view(case),
        "propagation": dataclasses.asdict(propagation) if propagation else None,
    }


@router.post(
    "/cases:supply",
    operation_id="supplyCaseMaterials",
    summary="Hand in the materials a case is missing",
    response_model=Written,
    responses=problems(*APPLICANT, 404, 409),
    dependencies=[StreamDecides],
)
async def supply_materials(body: Supply, request: Request, services: ServicesDep) -> dict:
    """The applicant hands in what the agency said was missing."""
    _throttle(request, "progress")
    position = await run_in_threadpool(
        services.cases.supply_materials, body.case_number, body.query_code, body.evidence
    )
    return {"position": position}


@router.post(
    "/cases/{case_number}:{action}",
    operation_id="takeCaseStep",
    summary="Take a step on a case as its deciding agency",
    response_model=CaseStepTaken,
    responses=problems(*AUTHENTICATED, *WITH_BODY, 404, 409),
    dependencies=[StreamDecides],
)
async def take_step(
    case_number: Annotated[
        str, Path(description="The case number (案件编号)", examples=["XF20261120000001"])
    ],
    action: Annotated[
        str,
        Path(
            description="The step: " + ", ".join(STEPS),
            examples=["accept"],
        ),
    ],
    body: Step,
    services: ServicesDep,
    caller: Recorder,
) -> dict:
    """accept, return (with `missing`), approve, deny, revoke-repair (false materials) or
    resolve (an objection: `outcome` corrected with `changes`, revoked or upheld)."""
    if action not in STEPS:
        raise NoSuchAction(f"no case action {action!r}")
    fields: dict[str, Any] = {}
    if action == "return":
        if not body.missing:
            raise InvalidRequest("missing: say what the applicant must add")
        fields["missing"] = body.missing
    elif action in ("approve", "deny", "revoke-repair"):
        fields["reasons"] = body.reasons
    elif action == "resolve":
        fields.update(outcome=body.outcome or "", reasons=body.reasons, changes=body.changes)
    position = await run_in_threadpool(
        services.cases.take_step, case_number, action, permit=caller.permit(), fields=fields
    )
    return {"case_number": case_number, "action": action, "position": position}


@router.get(
    "/cases",
    operation_id="listCases",
    summary="Open cases with their deadlines",
    response_model=CaseList,
    responses=problems(*AUTHENTICATED),
    dependencies=[CaseReadYourWrites],
)
async def list_cases(
    services: ServicesDep,
    caller: Authenticated,
    overdue: Annotated[bool, Query(description="only cases past their deadline")] = False,
) -> dict:
    """Open cases with their deadlines, for the credit office and auditors (all) and for a
    deciding agency (recorders: their own authorities' cases)."""
    codes = authorities_seen(caller, "case lists")
    views = await run_in_threadpool(
        services.case_queries.listing,
        overdue_only=overdue,
        authority_codes=codes,
    )
    return {"cases": views}
