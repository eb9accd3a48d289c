"""Publication windows: from which day to which day a record is shown to querying agencies."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from functools import singledispatch
from typing import Any

from domain.events import RECORD_EVENT_TYPES, BySeverity, NamedPeriod, Span
from domain.policy import PolicyBook


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


def conduct_window(
    severity: str,
    decision_date: date,
    book: PolicyBook,
    *,
    procedure: str | None = None,
    declared_end: date | None = None,
) -> Window | None:
    """Penalties and dishonest conduct: published from the decision date for the period of the
    policy in force on the decision date (not today's). An authority's declared end (CF_GSJZQ)
    is honoured within the minimum and maximum."""
    period = book.for_day(decision_date).publication.period_for(severity, procedure)
    # A published period has both bounds (the policy loader guarantees it).
    if not period.published or period.minimum_months is None or period.maximum_months is None:
        return None
    earliest = add_months(decision_date, period.minimum_months)
    latest = add_months(decision_date, period.maximum_months)
    end = latest if declared_end is None else min(max(declared_end, earliest), latest)
    return Window(decision_date, end)


def earliest_repair_date(severity: str, decision_date: date, book: PolicyBook) -> date | None:
    """Repair (信用修复) may be applied for once the minimum publication period has passed."""
    period = book.for_day(decision_date).publication.period_for(severity)
    if not period.published or period.minimum_months is None:
        return None
    return add_months(decision_date, period.minimum_months)


def record_window(record_type: str, fields: dict[str, Any], *, book: PolicyBook) -> Window | None:
    """The publication window of a record from its own fields (None: never published), by the
    rule its type declares (`RecordTraits.published`).

    Penalties and dishonest conduct follow their severity's period under the policy in force on
    the decision date (a simplified-procedure penalty counts as minor where that policy says so).
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
        fields["severity"],
        fields["decision_date"],
        book,
        procedure=fields.get(rule.procedure) if rule.procedure else None,
        declared_end=fields.get(rule.declared_end) if rule.declared_end else None,
    )


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
