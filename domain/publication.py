"""Publication windows: from which day to which day a record is shown to querying agencies."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache, singledispatch
from typing import Any

from domain.events import RECORD_EVENT_TYPES, BySeverity, NamedPeriod, Span, traits_of
from domain.penalty_categories import PENALTY_CATEGORIES, categories_of
from domain.policy import PolicyBook, PolicyVersion, PublicationPeriod


# Asked with the same few days and months at each evaluation of a status (its windows) and for
# each record's publication.
@lru_cache(maxsize=65536)
def add_months(day: date, months: int) -> date:
    """Calendar months later; the 31st (or 29 Feb) falls back to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# A record's state: it stands ("active"), or it was revoked, repaired, or has lapsed with the
# record it rests on (a list entry whose basis was repaired or revoked).
ACTIVE, REVOKED, REPAIRED, LAPSED = "active", "revoked", "repaired", "lapsed"
# The states that take a record out from the moment a repair was approved (its own, or that of
# the record it rests on): on a day before that moment it still stood. A revocation takes a
# record out on every day, and so does a lapse with no repair behind it (its basis revoked).
OUT_FROM_A_REPAIR = (REPAIRED, LAPSED)


def state_resting_on(own: str, basis: str | None) -> str:
    """The state of a record resting on another (`RecordTraits.rests_on`), given its own and
    that of its basis (None: it names none). It lapses with its basis, and stands again if a
    repair of the basis is revoked; a revocation of its own is final.

    信用修复管理办法 (国家发展改革委令第36号) art. 3: a repair ends publication, sharing and use
    of the 失信信息 (终止公示、停止共享和使用) and lifts the measures taken on it at the same time
    (同步依法依规解除失信惩戒措施); a list entry is such information (art. 4)."""
    if own not in (ACTIVE, LAPSED):
        return own
    return ACTIVE if basis in (None, ACTIVE) else LAPSED


def stands_on(state: str, repaired_at: datetime | None, day_ends: datetime) -> bool:
    """Whether a record counts on the valid day ending at `day_ends`, as far as its state goes:
    active, or taken out by a repair (its own, or its basis's) approved only after that day.
    A revocation, or a lapse with a revoked basis, is taken as known for every day: it says
    the record was void, not that it changed.

    The one test of standing on a day; `projections.credit_file.published` says it in SQL."""
    return state == ACTIVE or (
        state in OUT_FROM_A_REPAIR and repaired_at is not None and repaired_at >= day_ends
    )


def published_on(
    day: date, publish_from: date | None, publish_until: date | None, state: str = ACTIVE
) -> bool:
    """Whether a record is shown to querying agencies on `day`: it stands that day (its `state`
    then is "active": not revoked, nor repaired or lapsed by then) and its publication window
    [publish_from, publish_until) holds the day (publish_from None: never published).

    The one test of publication; `projections.credit_file.published` says it in SQL."""
    return (
        state == ACTIVE
        and publish_from is not None
        and publish_from <= day
        and (publish_until is None or day < publish_until)
    )


def publication_state(
    day: date, publish_from: date | None, publish_until: date | None, state: str = ACTIVE
) -> str:
    """published, scheduled, expired or not_published; a revoked, repaired or lapsed record
    says so (lapsed: the record it rests on was repaired or revoked)."""
    if state != ACTIVE:
        return state
    if publish_from is None:
        return "not_published"
    return Window(publish_from, publish_until).state_on(day)


@dataclass(frozen=True)
class Window:
    start: date
    end: date | None  # exclusive; None means published until something ends it

    def state_on(self, day: date) -> str:
        if published_on(day, self.start, self.end):
            return "published"
        return "scheduled" if day < self.start else "expired"

    def ended_on(self, day: date) -> Window:
        """The window of a record a follow-up ended on `day` (a list exit, a licence revoked):
        publication stops that day if that is sooner, and never ends before it starts."""
        if self.end is not None and self.end <= day:
            return self
        return Window(self.start, max(day, self.start))


# What decided a conduct record's severity when no policy entry did.
DECLARED = "declared"  # the severity its authority gave it
SERVICE_DEFAULT = "service default: general"  # no severity given, and no rule made it another


@dataclass(frozen=True)
class SeverityFinding:
    """The severity (失信程度) a conduct record is treated as, and what decided it: the policy
    entry `rule` (e.g. "penalty_severity.serious_when_any") of version `policy_version`, with
    what of the record matched it (`because`); or DECLARED, or SERVICE_DEFAULT."""

    severity: str
    rule: str
    policy_version: str
    because: str = ""


@dataclass(frozen=True)
class ConductPublication:
    """How a conduct record is published: its severity and what decided it, the period of that
    severity, its window (None: not published), the day repair may be applied for from (None:
    nothing to repair) and the categories that keep it published for the whole maximum."""

    severity: SeverityFinding
    period: PublicationPeriod
    window: Window | None
    earliest_repair: date | None
    full_maximum: frozenset[str]


def conduct_severity(
    version: PolicyVersion,
    declared: str | None,
    decision_date: date,
    *,
    procedure: str | None = None,
    categories: frozenset[str] = frozenset(),
    declared_end: date | None = None,
) -> SeverityFinding:
    """The severity of conduct under `version` (the policy in force on its decision date).

    What the policy makes minor is minor whatever the authority said (a penalty by simplified
    procedure, a warning alone); otherwise the authority's severity (`declared`) stands. Without
    one (an import row with no severity column), a category the policy names serious (a licence
    revoked) or a declared end (CF_GSJZQ) beyond the maximum of general conduct make it serious;
    anything else is general, the service default."""
    rules = version.penalty_severity

    def found(severity: str, rule: str, because: str = "") -> SeverityFinding:
        return SeverityFinding(severity, rule, version.id, because)

    if procedure == "simplified" and rules.simplified_procedure_is_minor.applies:
        return found("minor", "penalty_severity.simplified_procedure_is_minor", "简易程序")
    if categories and categories <= rules.minor_when_only.categories:
        return found("minor", "penalty_severity.minor_when_only", _named(categories))
    if declared is not None:
        return found(declared, DECLARED)
    serious = rules.serious_when_any.matching(categories)
    if serious:
        return found("serious", "penalty_severity.serious_when_any", _named(serious))
    general = version.publication.periods["general"]
    beyond = rules.declared_end_beyond_general_maximum_is_serious
    if (
        beyond.applies
        and declared_end is not None
        and general.maximum_months is not None
        and declared_end > add_months(decision_date, general.maximum_months)
    ):
        return found(
            "serious",
            "penalty_severity.declared_end_beyond_general_maximum_is_serious",
            f"CF_GSJZQ {declared_end} > {add_months(decision_date, general.maximum_months)}",
        )
    return found("general", SERVICE_DEFAULT)


def _named(categories: frozenset[str]) -> str:
    return "、".join(sorted(categories, key=PENALTY_CATEGORIES.index))


def conduct_publication(
    severity: str | None,
    decision_date: date,
    book: PolicyBook,
    *,
    procedure: str | None = None,
    categories: Iterable[str] = (),
    licence_action: str | None = None,
    declared_end: date | None = None,
) -> ConductPublication:
    """Penalties and dishonest conduct: published from the decision date for the period of their
    severity under the policy in force on the decision date (not today's). An authority's
    declared end (CF_GSJZQ) is honoured within the minimum and maximum, except where the
    penalty's categories keep it published for the whole maximum; repair may be applied for once
    the minimum has passed (for those, only at the maximum). `severity` None: the authority gave
    none, and the policy decides it (see `conduct_severity`)."""
    return _conduct_publication(
        severity,
        decision_date,
        _Same(book),
        procedure,
        tuple(categories),
        licence_action,
        declared_end,
    )


class _Same:
    """A policy book as a cache key: by identity, which is cheap (its value would be hashed
    version by version) and held, so that the key's id cannot be reused by another book."""

    __slots__ = ("book",)

    def __init__(self, book: PolicyBook):
        self.book = book

    def __hash__(self) -> int:
        return id(self.book)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.book is self.book


# A pure function of few values, which repeat across records (a rebuild asks it twice per
# conduct record: the credit file's window and the change's): a tenth of a rebuild's projecting.
@lru_cache(maxsize=8192)
def _conduct_publication(
    severity: str | None,
    decision_date: date,
    same: _Same,
    procedure: str | None,
    categories: tuple[str, ...],
    licence_action: str | None,
    declared_end: date | None,
) -> ConductPublication:
    book = same.book
    version = book.for_day(decision_date)
    kinds = categories_of(categories, licence_action)
    finding = conduct_severity(
        version,
        severity,
        decision_date,
        procedure=procedure,
        categories=kinds,
        declared_end=declared_end,
    )
    period = version.publication.period_for(finding.severity)
    # A published period has both bounds (the policy loader guarantees it).
    if not period.published or period.minimum_months is None or period.maximum_months is None:
        return ConductPublication(finding, period, None, None, frozenset())
    earliest = add_months(decision_date, period.minimum_months)
    latest = add_months(decision_date, period.maximum_months)
    full_maximum = version.publication.full_maximum.matching(kinds)
    if full_maximum or declared_end is None:
        end = latest
    else:
        end = min(max(declared_end, earliest), latest)
    repair_from = latest if full_maximum else earliest
    return ConductPublication(
        finding, period, Window(decision_date, end), repair_from, full_maximum
    )


def conduct_window(
    severity: str,
    decision_date: date,
    book: PolicyBook,
    *,
    procedure: str | None = None,
    categories: Iterable[str] = (),
    licence_action: str | None = None,
    declared_end: date | None = None,
) -> Window | None:
    """The publication window of conduct (see `conduct_publication`); None: not published."""
    return conduct_publication(
        severity,
        decision_date,
        book,
        procedure=procedure,
        categories=categories,
        licence_action=licence_action,
        declared_end=declared_end,
    ).window


def earliest_repair_date(
    severity: str,
    decision_date: date,
    book: PolicyBook,
    *,
    procedure: str | None = None,
    categories: Iterable[str] = (),
    licence_action: str | None = None,
    declared_end: date | None = None,
) -> date | None:
    """Repair (信用修复) may be applied for once the minimum publication period has passed; a
    record kept published for the whole maximum, only when that has run out (so never while it
    is published). None: not published, nothing to repair."""
    return conduct_publication(
        severity,
        decision_date,
        book,
        procedure=procedure,
        categories=categories,
        licence_action=licence_action,
        declared_end=declared_end,
    ).earliest_repair


def declared_end_note(publication: ConductPublication, declared_end: date | None) -> str | None:
    """Why a conduct record is not published until the end its authority declared (CF_GSJZQ),
    for the agency to see; None when it is, or when none was declared. The record keeps the
    declared date as sent: only its window follows the law."""
    if declared_end is None:
        return None
    finding, period, window = publication.severity, publication.period, publication.window
    under = f"under policy {finding.policy_version}"
    if window is None:
        return f"CF_GSJZQ {declared_end}: {finding.severity} conduct is not published {under}"
    if window.end == declared_end:
        return None
    if window.end is not None and declared_end > window.end:
        return (
            f"CF_GSJZQ {declared_end} is beyond the maximum of {period.maximum_months} months "
            f"for {finding.severity} conduct {under}: published until {window.end}"
        )
    if publication.full_maximum:
        return (
            f"CF_GSJZQ {declared_end}: {_named(publication.full_maximum)} keep the record "
            f"published for the whole maximum of {period.maximum_months} months {under}: "
            f"published until {window.end}"
        )
    return (
        f"CF_GSJZQ {declared_end} is before the minimum of {period.minimum_months} months for "
        f"{finding.severity} conduct {under}: published until {window.end}"
    )


def record_window(record_type: str, fields: dict[str, Any], *, book: PolicyBook) -> Window | None:
    """The publication window of a record from its own fields (None: never published), by the
    rule its type declares (`RecordTraits.published`).

    Penalties and dishonest conduct follow their severity's period under the policy in force on
    the decision date (a simplified-procedure penalty or a warning alone counts as minor where
    that policy says so; some penalty categories keep a record published for the whole maximum).
    Licences are published for their validity, ratings for theirs, red and black list entries
    until their planned end (or exit); the further kinds of administrative information (行政强制,
    行政确认, 行政裁决, 行政奖励, 行政监督检查) for the period the policy in force on the decision
    date gives each, if it publishes them; interviews, joint-measure feedback, watch-list
    entries, follow-ups, corrections and revocations are not published on their own."""
    declared = RECORD_EVENT_TYPES.get(record_type)
    if declared is None or declared.TRAITS.published is None:
        return None
    return _window(declared.TRAITS.published, fields, book)


@singledispatch
def _window(rule: Any, fields: dict[str, Any], book: PolicyBook) -> Window | None:
    raise TypeError(f"no publication rule {rule!r}")


@_window.register(BySeverity)
def _by_severity(rule: BySeverity, fields: dict[str, Any], book: PolicyBook) -> Window | None:
    return conduct_window(
        fields["severity"], fields["decision_date"], book, **_conduct(rule, fields)
    )


def conduct_fields(record_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What besides its severity and decision date a conduct record's publication follows, by
    the fields its type declares (`BySeverity`): procedure, categories, licence action and
    declared end, as keyword arguments of `conduct_publication`."""
    rule = traits_of(record_type).published
    return _conduct(rule, fields) if isinstance(rule, BySeverity) else {}


def _conduct(rule: BySeverity, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "procedure": fields.get(rule.procedure) if rule.procedure else None,
        "categories": (fields.get(rule.categories) or ()) if rule.categories else (),
        "licence_action": fields.get(rule.licence_action) if rule.licence_action else None,
        "declared_end": fields.get(rule.declared_end) if rule.declared_end else None,
    }


@_window.register(Span)
def _span(rule: Span, fields: dict[str, Any], book: PolicyBook) -> Window | None:
    if rule.unless is not None and fields.get(rule.unless[0]) == rule.unless[1]:
        return None
    return Window(fields[rule.start], fields.get(rule.end) if rule.end else None)


@_window.register(NamedPeriod)
def _named_period(rule: NamedPeriod, fields: dict[str, Any], book: PolicyBook) -> Window | None:
    decided = fields["decision_date"]
    period = book.for_day(decided).publication_periods[rule.name]
    if not period.published or period.months is None:
        return None
    return Window(decided, add_months(decided, period.months))


def window_when_ended(record_type: str, window: Window, ended_on: date) -> Window:
    """The window of a record a follow-up ended on `ended_on`; one whose type says
    `published_after_end` (a commitment) keeps its own."""
    declared = RECORD_EVENT_TYPES.get(record_type)
    if declared is not None and declared.TRAITS.published_after_end:
        return window
    return window.ended_on(ended_on)
