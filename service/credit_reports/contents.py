"""What a credit report holds: its sections computed from the subject's record rows and status
as the as-of fold gives them (`projections.credit_file.as_of`: the projector's own record logic
and the status rules, no second rule engine), for a period and a report day. Pure: the same
rows give the same contents, so an auditor's recomputation at the report's checkpoint can be
compared with what was issued, field by field.

Which records a section shows (the one rule, `shown`): records that stand on the report day
(not revoked; not repaired, nor lapsed with the record they rest on, by the end of that day),
decided within the period, and published that day (`domain.publication.published_on`). So a
repaired penalty is left out, as 国家发展改革委令第36号 says (repair ends publication, sharing
and use), and a list entry whose basis was repaired lapses with it. Joint measures (联合奖惩) are
never published on their own: the report lists those standing and applied within the period.
Grades and list memberships are the as-of status's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

from domain import publication
from domain.errors import SubjectNotFound
from domain.events import traits_of
from domain.policy import PolicyBook
from projections.credit_file.as_of import end_of_day, fold, known_events, status_of_fold

ReportKind = Literal["credit", "special"]
CONTENTS_FORMAT = 1
# A special report with a block of statements per sector. Reports issued before records had
# sectors keep format 1 (their request names no sectors), so that they recompute to the
# contents they were sealed with.
SECTOR_CONTENTS_FORMAT = 2
# How far back a report may reach (the period a licensing or bidding file asks about is
# usually 3 years; 5 is the longest): service default.
MAX_YEARS = 5
# The sections a 信用报告 may hold, in the order printed; basic information is always there.
SECTIONS = (
    "licences",
    "penalties",
    "dishonesty",
    "commitments",
    "ratings",
    "lists",
    "joint_measures",
    "objections",
    "statement",
)
# The record families each record section lists (domain/events.py's traits).
SECTION_FAMILIES = {
    "licences": ("licence",),
    "penalties": ("penalty",),
    "dishonesty": ("conduct",),
    "commitments": ("commitment",),
    "joint_measures": ("joint_measure",),
}
UNPUBLISHED_SECTIONS = ("joint_measures",)  # listed while they stand, publication or not
# A 专项信用报告's statements, each over the whole period (发改财金〔2025〕565号: it replaces the
# certificates of no violation a subject collected from each department).
SPECIAL_TOPICS = ("penalties", "serious_dishonesty", "black_list")
SPECIAL_DOMAIN = "transport"  # 交通运输领域: every record of the subject, sector or none
STATEMENT_CHARS = 500


@dataclass(frozen=True)
class Period:
    """The days a report covers: `start` to `end`, both included (`end` is the report day)."""

    start: date
    end: date

    @classmethod
    def years_to(cls, end: date, years: int) -> Period:
        if not 1 <= years <= MAX_YEARS:
            raise ValueError(f"a report covers 1 to {MAX_YEARS} years, not {years}")
        return cls(publication.add_months(end, -12 * years) + timedelta(days=1), end)

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class ReportRequest:
    """What was asked: kept with the report, and all a recomputation needs besides the log."""

    kind: ReportKind
    years: int
    as_of: date | None  # knowledge cut-off and report day; None: now
    sections: tuple[str, ...] = SECTIONS
    statement: str | None = None  # the subject's own (主体说明), from the subject only
    purpose: str = ""
    requested_by: str = ""  # the client, the console account, or "applicant"
    requester_role: str = ""
    agency_code: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the case that proved an applicant
    # A special report's sectors, one block of statements each: () for the subject's own;
    # None for none (a credit report, or a special report issued before records had sectors).
    sectors: tuple[str, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "years": self.years,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "sections": list(self.sections),
            "statement": self.statement,
            "purpose": self.purpose,
            "requested_by": self.requested_by,
            "requester_role": self.requester_role,
            "agency_code": self.agency_code,
            **({"extra": self.extra} if self.extra else {}),
            **({"sectors": list(self.sectors)} if self.sectors is not None else {}),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ReportRequest:
        return cls(
            kind=document["kind"],
            years=int(document["years"]),
            as_of=date.fromisoformat(document["as_of"]) if document["as_of"] else None,
            sections=tuple(document["sections"]),
            statement=document.get("statement"),
            purpose=document.get("purpose", ""),
            requested_by=document.get("requested_by", ""),
            requester_role=document.get("requester_role", ""),
            agency_code=document.get("agency_code", ""),
            extra=document.get("extra") or {},
            sectors=tuple(document["sectors"]) if document.get("sectors") is not None else None,
        )


def checked_sections(kind: ReportKind, wanted: Iterable[str] | None) -> tuple[str, ...]:
    """The sections asked for, in the printed order; every one if none were named. A special
    report has its own fixed layout. Raises ValueError naming a section that does not exist."""
    if kind == "special":
        return ()
    names = list(wanted or SECTIONS)
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        raise ValueError(f"no such section: {', '.join(unknown)}")
    return tuple(s for s in SECTIONS if s in names)


def checked_sectors(kind: ReportKind, wanted: Iterable[str] | None) -> tuple[str, ...] | None:
    """The sectors a special report gives statements for: those named (each once, in the
    order named), or () for the subject's own. Raises ValueError for sectors asked of a credit
    report, which has no statements."""
    if kind != "special":
        if wanted:
            raise ValueError("sectors are asked of a special report only")
        return None
    return tuple(dict.fromkeys(wanted or ()))


def from_events(
    events: Iterable[tuple[int, Any]],
    request: ReportRequest,
    policy: PolicyBook,
    *,
    on: date,
    known_before: datetime | None,
    zone: tzinfo,
) -> dict[str, Any]:
    """The contents from one subject's events (position, event) in stream order, those known
    before the cut-off (None: all of them): the as-of fold, its status on the report day, and
    `build`. What issuing, the recomputation endpoint and the offline `credit audit
    verify-report` all run. Raises SubjectNotFound when no subject was known by then."""
    subject, rows = fold(
        events if known_before is None else known_events(events, known_before), policy
    )
    if subject is None:
        raise SubjectNotFound(f"no subject was known by {on}")
    status = status_of_fold(subject, rows, on, policy, zone=zone)
    return build(subject, rows, status, request, on=on, known_before=known_before, zone=zone)


def build(
    subject: dict[str, Any],
    rows: dict[Any, dict[str, Any]],
    status: dict[str, Any],
    request: ReportRequest,
    *,
    on: date,
    known_before: datetime | None,
    zone: tzinfo,
) -> dict[str, Any]:
    """The report's contents (JSON types only), from the fold of the subject's events known
    before `known_before` (None: every event the report's checkpoint holds) and the status on
    the report day `on` computed from them."""
    period = Period.years_to(on, request.years)
    day_ends = end_of_day(on, zone)
    standing = [
        r for r in rows.values() if publication.stands_on(r["state"], r["repaired_at"], day_ends)
    ]
    by_id = {r["record_id"]: r for r in rows.values()}
    contents: dict[str, Any] = {
        "format": CONTENTS_FORMAT,
        "kind": request.kind,
        "subject": {
            "subject_id": str(subject["subject_id"]),
            "name": subject["name"],
            "code_masked": subject["code_masked"],
            "kind": subject["kind"],
            "region_code": subject["region_code"],
            "sectors": list(subject["sectors"]),
        },
        "report_day": on.isoformat(),
        "known_before": known_before.isoformat() if known_before else None,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "basis": {
            "version": subject["version"],
            "position": subject["last_position"],
            "policy_version": status["policy_version"],
        },
    }
    if request.kind == "special":
        contents["special"] = _special(standing, period, on, sectored=request.sectors is not None)
        if request.sectors is not None:
            contents["format"] = SECTOR_CONTENTS_FORMAT
            contents["special"] |= _by_sector(
                contents["special"], request.sectors or tuple(subject["sectors"]), subject
            )
        return contents
    contents["sections"] = list(request.sections)
    for section in request.sections:
        if section in SECTION_FAMILIES:
            contents[section] = [
                _entry(row, by_id) for row in _in_section(standing, section, period, on)
            ]
    if "ratings" in request.sections:
        contents["ratings"] = [_grade(g) for g in status["grades"]]
    if "lists" in request.sections:
        contents["lists"] = [_membership(m) for m in status["lists"]]
    if "objections" in request.sections:
        contents["objections"] = [
            _entry(row, by_id)
            for row in _ordered(standing)
            if row["objection_case"] and shown(row, period, on)
        ]
    if "statement" in request.sections:
        contents["statement"] = request.statement or None
    return contents


def shown(row: dict[str, Any], period: Period, on: date) -> bool:
    """A standing record is shown when decided within the period and published on the report
    day."""
    return period.holds(row["decision_date"]) and publication.published_on(
        on, row["publish_from"], row["publish_until"]
    )


def _in_section(
    standing: list[dict[str, Any]], section: str, period: Period, on: date
) -> list[dict[str, Any]]:
    families = SECTION_FAMILIES[section]
    return [
        row
        for row in _ordered(standing)
        if row["family"] in families
        and (
            period.holds(row["decision_date"])
            if section in UNPUBLISHED_SECTIONS
            else shown(row, period, on)
        )
    ]


def _ordered(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest decision first, then the order recorded: the order every list in a report has."""
    return sorted(rows, key=lambda r: (-r["decision_date"].toordinal(), -r["position"]))


def _special(
    standing: list[dict[str, Any]], period: Period, on: date, *, sectored: bool = False
) -> dict[str, Any]:
    """专项信用报告: for each topic, the standing records of the period that speak against the
    subject; none means the statement "no ... in the period" holds. Publication does not
    matter here: a penalty whose publication ended is still a penalty of the period.
    `sectored`: each record says the sector it was filed in (format 2)."""
    in_period = [r for r in _ordered(standing) if period.holds(r["decision_date"])]
    penalties = [r for r in in_period if r["family"] == "penalty"]
    serious = [r for r in in_period if traits_of(r["type"]).conduct and r["severity"] == "serious"]
    black = [
        r
        for r in _ordered(standing)
        if r["list_type"] == "black"
        and r["family"] == "list"
        and r["decision_date"] <= period.end
        and (r["ended_on"] is None or r["ended_on"] >= period.start)
        and _ends_on_or_after(r["details"].get("planned_end"), period.start)
    ]
    found = {"penalties": penalties, "serious_dishonesty": serious, "black_list": black}
    by_id = {r["record_id"]: r for r in standing}
    return {
        "domain": SPECIAL_DOMAIN,
        "statements": [
            {
                "topic": topic,
                "count": len(found[topic]),
                "records": [
                    _entry(r, by_id) | ({"sector": _sector(r)} if sectored else {})
                    for r in found[topic]
                ],
            }
            for topic in SPECIAL_TOPICS
        ],
    }


def _by_sector(
    domain_wide: dict[str, Any], sectors: tuple[str, ...], subject: dict[str, Any]
) -> dict[str, Any]:
    """The domain-wide statements again for each sector asked, counting the records filed in
    it; and how many of each topic's records were filed in none, which count in the
    domain-wide statements only. Raises ValueError for a sector the subject is not in: no
    statement is made of a sector it has no business in."""
    unknown = [s for s in sectors if s not in subject["sectors"]]
    if unknown:
        raise ValueError(
            f"the subject is not in sector(s) {', '.join(unknown)} "
            f"(its sectors: {', '.join(subject['sectors']) or 'none'})"
        )
    statements = domain_wide["statements"]
    return {
        "sectors": [
            {
                "sector": sector,
                "statements": [
                    {
                        "topic": s["topic"],
                        "count": len(mine := [r for r in s["records"] if r["sector"] == sector]),
                        "records": mine,
                    }
                    for s in statements
                ],
            }
            for sector in sectors
        ],
        "without_sector": {
            s["topic"]: sum(1 for r in s["records"] if r["sector"] is None) for s in statements
        },
    }


def _sector(row: dict[str, Any]) -> str | None:
    """The sector a record was filed in (None: recorded without one)."""
    return (row["details"] or {}).get("sector")


def _ends_on_or_after(planned_end: str | None, day: date) -> bool:
    return planned_end is None or date.fromisoformat(planned_end) >= day


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _entry(row: dict[str, Any], by_id: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    details = row["details"] or {}
    entry: dict[str, Any] = {
        "record_id": str(row["record_id"]),
        "type": row["type"],
        "source_ref": row["source_ref"],
        "decision_date": row["decision_date"].isoformat(),
        "authority": row["authority_name"],
        "summary": row["summary"],
        "severity": row["severity"],
        "publish_until": _iso(row["publish_until"]),
        "corrected": row["correction_count"] > 0,
        "objection_case": row["objection_case"],
    }
    if row["family"] == "licence":
        entry["valid_from"] = _iso(row["valid_from"])
        entry["valid_until"] = _iso(row["valid_until"])
    if row["family"] == "commitment":
        ended_by = by_id.get(row["ended_by"]) if row["ended_by"] else None
        entry["due_date"] = _iso(details.get("due_date"))
        entry["outcome"] = {
            "CommitmentFulfilled": "fulfilled",
            "CommitmentBreached": "breached",
        }.get(ended_by["type"] if ended_by else "", "open")
        entry["ended_on"] = _iso(row["ended_on"])
    if row["family"] == "joint_measure":
        entry["measure"] = details.get("measure")
    if row["family"] == "list":
        entry["list_type"] = row["list_type"]
        entry["planned_end"] = details.get("planned_end")
        entry["ended_on"] = _iso(row["ended_on"])
    return entry


def _grade(grade: dict[str, Any]) -> dict[str, Any]:
    return {
        "scheme": grade["scheme"],
        "grade": grade["grade"],
        "score": None if grade["score"] is None else str(grade["score"]),
        "valid_from": _iso(grade["valid_from"]),
        "valid_until": _iso(grade["valid_until"]),
        "authority": grade["authority_name"],
        "forced_by": grade["forced_by"],
    }


def _membership(member: dict[str, Any]) -> dict[str, Any]:
    return {
        "list_type": member["list_type"],
        "entered_on": _iso(member["entered_on"]),
        "planned_end": _iso(member["planned_end"]),
        "basis": member["basis"],
        "authority": member["authority_name"],
        "derived": member["derived"],
    }


def summary(contents: dict[str, Any]) -> dict[str, Any]:
    """What the public verification page shows of a report besides its subject: how many
    entries each section holds, or each statement's count."""
    if contents["kind"] == "special":
        return {s["topic"]: s["count"] for s in contents["special"]["statements"]}
    return {
        section: (len(contents[section]) if isinstance(contents[section], list) else 1)
        for section in contents["sections"]
        if contents.get(section) is not None
    }
