"""The day's close (日结): a dated event the service records once for each calendar day of its zone,
so that what time alone changes on a day (a rating's validity over, a list entry at its planned
end, a commitment falling due) follows from an event of the log, with a position and a stable id.

The closes form one stream of the service's own, apart from every subject's: its id is fixed and
its days rise strictly with its versions. A day is closed once by construction: a close is
appended at the version after the stream's last, only for a day after the last closed one, so
two writers racing for the same day meet on the same version, and the loser finds it closed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from domain.errors import Rule, RuleViolated

# The stream of day closes (a fixed name under a fixed namespace: never change either).
DAY_CLOSE_STREAM = uuid5(UUID("0c4f6a1e-5b7d-4e2a-9c3f-8d1e2b3a4c5d"), "credit:day-closes")

DAY_NOT_IN_FUTURE = Rule("day-close-not-in-future")


class DayClosed(Aggregate.Event):
    """The service closed `day` (日结), shortly after it began in the service's zone: the status
    of each subject that time alone may change on that day is evaluated as of that day."""

    TOPIC: ClassVar[str] = "credit:DayClosed"
    day: date


register_topic(DayClosed.TOPIC, DayClosed)


def days_to_close(
    last_closed: date | None, up_to: date, today: date, *, catch_up_days: int
) -> list[date]:
    """The days to close, in order, so that every day up to `up_to` is: the days after the last
    closed one, at most `catch_up_days` of them (the latest; a longer gap's earlier days stay
    unclosed, and what time changed on them is told at the next close). The first close of all
    is of `up_to` alone. A day not yet begun (after `today`) is never closed; a day already
    closed is not closed again (an empty list)."""
    if up_to > today:
        raise RuleViolated(f"{up_to} has not begun yet (today is {today})", rule=DAY_NOT_IN_FUTURE)
    if last_closed is not None and up_to <= last_closed:
        return []
    first = up_to if last_closed is None else last_closed + timedelta(days=1)
    first = max(first, up_to - timedelta(days=max(catch_up_days, 1) - 1))
    return [first + timedelta(days=n) for n in range((up_to - first).days + 1)]
