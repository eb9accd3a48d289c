"""A calendar month as a reporting period (考核月份): the credit office's figures, its monthly
台账 and its 联合奖惩成效清单 each cover one month of legal dates in the service's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTH_TEXT = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ValueError(f"no such month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """From "2026-11" (what an HTML month field sends); ValueError for anything else."""
        found = MONTH_TEXT.fullmatch(text.strip())
        if found is None:
            raise ValueError(f"not a month in the form YYYY-MM: {text!r}")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def last_full_before(cls, today: date) -> Month:
        """The latest month that has ended by `today`: in November, October."""
        return cls.of(today.replace(day=1) - timedelta(days=1))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.following().first_day - timedelta(days=1)

    def following(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def preceding(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def contains(self, day: date) -> bool:
        return (day.year, day.month) == (self.year, self.month)

    def __str__(self) -> str:
        """As an HTML month field and a URL carry it: 2026-11."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def chinese(self) -> str:
        """As a page or a workbook names it: 2026年11月."""
        return f"{self.year}年{self.month}月"
