"""Official working-day schedules loaded by operators (one [[year]] per State Council notice),
for the years the chinese-calendar package does not know yet."""

from __future__ import annotations

import tomllib
from pathlib import Path

from domain.working_days import WorkingDayCalendar, YearSchedule


class ScheduleFileError(ValueError):
    """A schedule file that cannot be used; the message names the file and the entry."""


def load_calendar(path: Path | None) -> WorkingDayCalendar:
    """The working-day calendar: every year in `path` (a TOML file with `[[year]]` tables: year,
    source, holidays, adjusted_working_days as "YYYY-MM-DD" strings), then chinese-calendar; a year
    in neither keeps the statutory holidays (domain/statutory_holidays.py), provisionally."""
    if path is None:
        return WorkingDayCalendar()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ScheduleFileError(f"{path.name}: {error}") from None
    schedules = []
    for index, entry in enumerate(data.get("year", [])):
        try:
            schedules.append(YearSchedule.from_mapping(entry))
        except ValueError as error:
            raise ScheduleFileError(f"{path.name}: year[{index}]: {error}") from None
    try:
        return WorkingDayCalendar(schedules)
    except ValueError as error:
        raise ScheduleFileError(f"{path.name}: {error}") from None
