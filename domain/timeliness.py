"""及时率 of one record: the day its publication was due and how late it was recorded.

A licence or penalty is published within 7 working days of its decision (双公示: 自作出行政决定
之日起7个工作日内). The period counts from the day after the decision (《民法典》第二百零一条:
开始的当日不计入), so the record is due on the 7th working day after its decision date, and it
is on time when the day it was recorded (in the service's zone) is that day or earlier. A late
record is late by the working days from the day after the due day to the day it was recorded;
recorded on a day off, it counts as recorded on the next working day (nobody could publish it
sooner). Decided 2026-09-30 (a Wednesday before 国庆节: 10-01 to 10-07 off, 10-10 a working
Saturday), the 7 working days are 10-08, 10-09, 10-10, 10-12, 10-13, 10-14 and 10-15: due on
2026-10-15. Recorded 10-16, it is 1 working day late; recorded 10-17 (a Saturday) or 10-19,
2 working days late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from domain.policy import Deadline
from domain.working_days import WorkingDayCalendar


@dataclass(frozen=True)
class Timeliness:
    """When a record was due, whether it was recorded by then, and if not by how many days
    (working days, or calendar days if the policy's deadline counts those). `provisional`: a
    day counted fell in a year without an official working-day schedule."""

    due: date
    on_time: bool
    days_late: int
    provisional: bool


def timeliness(
    decided: date, recorded: date, deadline: Deadline, calendar: WorkingDayCalendar
) -> Timeliness:
    """The timeliness of a record decided on `decided` and first recorded on `recorded`."""
    if not deadline.working_days:
        due = decided + timedelta(days=deadline.days)
        return Timeliness(due, recorded <= due, max((recorded - due).days, 0), False)
    term = calendar.add_working_days(decided, deadline.days)
    if recorded <= term.due:
        return Timeliness(term.due, True, 0, term.provisional)
    counted_as = calendar.add_working_days(recorded, 0)  # a day off: the next working day
    late, uncertain = calendar.working_days_between(term.due, counted_as.due)
    provisional = term.provisional or counted_as.provisional or uncertain
    return Timeliness(term.due, False, late, provisional)
