"""A subject's credit status now, by id or by code, one or a batch: the read models answer,
through the projection queries; this module decides what a code that names no one is, how a
submitted code is echoed, and what the access log keeps of an answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from domain import codes
from domain.policy import PolicyBook
from projections.credit_file import queries

# Codes in one batch (a bid opening's bidders): the API's request and the console's form alike.
BATCH_LIMIT = 200

CodeToSubject = Callable[[str], UUID | None]  # CreditFiles.subject_id_for_any_code


@dataclass(frozen=True)
class CodeAnswer:
    """One submitted code: its subject and status, or why there is none."""

    index: int  # its place among the codes submitted, from 0
    code_masked: str
    subject_id: UUID | None
    status: dict[str, Any] | None
    problem: Literal["invalid", "unknown"] | None  # no valid code / no subject with it


async def status_now(
    engine: AsyncEngine, policy: PolicyBook, subject_id: UUID, today: date
) -> dict[str, Any] | None:
    """The subject's status today in the documented `Status` shape, or None if unknown."""
    found, position = await queries.statuses_from_pool(engine, [subject_id], today, policy)
    if subject_id not in found:
        return None
    return _today(found[subject_id], position, today)


async def status_by_code(
    engine: AsyncEngine, policy: PolicyBook, subject_for: CodeToSubject, code: str, today: date
) -> CodeAnswer:
    [answer], _ = await statuses_by_code(engine, policy, subject_for, [code], today)
    return answer


async def statuses_by_code(
    engine: AsyncEngine,
    policy: PolicyBook,
    subject_for: CodeToSubject,
    submitted: Sequence[str],
    today: date,
) -> tuple[list[CodeAnswer], int]:
    """One answer per code, in order, and the log position the read models had reached: one
    round trip, whatever the count. Repeated codes each get their answer."""
    wanted = [(code, subject_for(code)) for code in submitted]
    found, position = await queries.statuses_from_pool(
        engine, [sid for _, sid in wanted if sid], today, policy
    )
    answers = []
    for index, (code, subject_id) in enumerate(wanted):
        status = found.get(subject_id) if subject_id else None
        answers.append(
            CodeAnswer(
                index,
                masked_code(code),
                subject_id,
                _today(status, position, today) if status else None,
                "invalid" if subject_id is None else ("unknown" if status is None else None),
            )
        )
    return answers, position


def _today(status: dict[str, Any], position: int, today: date) -> dict[str, Any]:
    return {**status, "position": position, "known_as_of": today, "evaluated_on": today}


async def published_serious_counts(
    engine: AsyncEngine, subject_ids: Sequence[UUID], today: date
) -> dict[UUID, int]:
    """How many serious (严重) records of each subject are published today (absent: none)."""
    async with engine.connect() as conn:
        counts = await queries.published_counts_by_severity(conn, subject_ids, today)
    return {
        sid: by_severity["serious"]
        for sid, by_severity in counts.items()
        if "serious" in by_severity
    }


async def published_records(
    engine: AsyncEngine, subject_id: UUID, today: date, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The subject's records published today, newest first, at most `limit`; and whether there
    are more."""
    async with engine.connect() as conn:
        rows, more = await queries.record_page(
            conn, subject_id, today, include_unpublished=False, after_position=None, limit=limit
        )
    return rows, more is not None


def access_summary(status: dict[str, Any]) -> dict[str, Any]:
    """What the access log keeps of a status answer."""
    return {
        "version": status["version"],
        "grades": [f"{g['scheme']}:{g['grade']}" for g in status["grades"]],
        "lists": [m["list_type"] for m in status["lists"]],
        "published_records": status["published_records"]["total"],
    }


def masked_code(code: str) -> str:
    """The submitted code as echoed back: an ID number, or anything that may hold one (a legacy
    15-digit number, an 18-digit one inside a longer string), is masked."""
    if codes.guess_kind(code) == "individual":
        return codes.mask_resident_id(code.strip().upper())
    return codes.mask_id_numbers(code.strip())
