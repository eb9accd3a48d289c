"""Closing the service's days (日结, domain/day_close.py): on demand (`credit close-day`) and on a
schedule in the worker, shortly after each midnight of the service's zone, catching up the days
it missed while it was down."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from eventsourcing.persistence import IntegrityError

from domain.day_close import DAY_CLOSE_STREAM, DayClosed, days_to_close
from service.clock import Clock
from service.store.ledger import CreditLedger

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class ClosedDay:
    day: date
    position: int
    created: bool  # False: closed before (by another worker, an operator, an earlier try)


class DayCloses:
    """Records each day's close once, in day order, on the service's own stream."""

    def __init__(
        self,
        ledger: CreditLedger,
        clock: Clock,
        *,
        catch_up_days: int,
        on_appended: Callable[[int], None] | None = None,
    ):
        self.ledger = ledger
        self.clock = clock
        self.catch_up_days = catch_up_days
        self.on_appended = on_appended or (lambda position: None)

    def last_closed(self) -> tuple[date, int, int] | None:
        """The last day closed, its stream version and its log position; None before the
        first close."""
        last = self.ledger.last_of(DAY_CLOSE_STREAM)
        if last is None:
            return None
        position, event = last
        return event.day, event.originator_version, position

    def close(self, up_to: date | None = None) -> list[ClosedDay]:
        """Close the days up to `up_to` (today by default) not closed yet, each in order: at
        most `catch_up_days` of them. A day already closed is answered with its close. Raises
        RuleViolated for a day that has not begun."""
        today = self.clock.today()
        up_to = up_to or today
        closed: list[ClosedDay] = []
        for _ in range(MAX_ATTEMPTS + self.catch_up_days):
            last = self.last_closed()
            last_day, version = (last[0], last[1]) if last is not None else (None, 0)
            days = days_to_close(last_day, up_to, today, catch_up_days=self.catch_up_days)
            if not days:
                if last is not None and last[0] == up_to and not closed:
                    closed.append(ClosedDay(up_to, last[2], created=False))
                return closed
            # eventsourcing's metaclass makes the event a dataclass at run time
            event = DayClosed(  # type: ignore[call-arg]
                originator_id=DAY_CLOSE_STREAM,
                originator_version=version + 1,
                timestamp=self.clock.now(),
                day=days[0],
            )
            try:
                recordings = self.ledger.save(event)
            except IntegrityError:  # another writer appended meanwhile: read the stream again
                continue
            position = recordings[-1].notification.id
            self.on_appended(position)
            closed.append(ClosedDay(days[0], position, created=True))
            log.info("closed the day %s at log position %d", days[0], position)
        return closed


class DayCloseSchedule:
    """Closes the day that has begun, `delay_seconds` after each midnight in the clock's zone,
    and at start the days missed while the process was down; in a thread of the worker."""

    def __init__(self, closes: DayCloses, delay_seconds: float, *, enabled: bool = True):
        self.closes = closes
        self.delay = timedelta(seconds=delay_seconds)
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.enabled:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="day-closes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def due(self, now: datetime) -> date:
        """The day to close up to at `now`: today once its delay after midnight has passed,
        else yesterday (whose close a down worker may still owe)."""
        clock = self.closes.clock
        today = clock.date_of(now)
        return today if now >= self._start_of(today) + self.delay else today - timedelta(days=1)

    def seconds_to_next(self, now: datetime) -> float:
        """How long until the next close is due."""
        today = self.closes.clock.date_of(now)
        at = self._start_of(today) + self.delay
        if now >= at:
            at = self._start_of(today + timedelta(days=1)) + self.delay
        return max((at - now).total_seconds(), 1.0)

    def _start_of(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.closes.clock.zone)

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            now = self.closes.clock.now()
            try:
                self.closes.close(self.due(now))
                wait = self.seconds_to_next(now)
            except Exception as error:  # the store is down: try again in a minute, saying why
                log.warning("closing the day failed: %s", error)
                wait = 60.0
