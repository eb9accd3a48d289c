"""The server-rendered pages' Jinja2 environment, shared by the applicant pages and the staff
console: autoescaped, strict about undefined names, and dates the way a Chinese reader writes
them (2026年12月2日)."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from pathlib import Path

import jinja2
from fastapi.templating import Jinja2Templates

TEMPLATES = Path(__file__).parent / "templates"


def chinese_date(value: date | str | None) -> str:
    """2026年12月2日; "" for no date. A datetime is taken as the day it names."""
    if value is None or value == "":
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_moment(moment: datetime, zone: tzinfo) -> str:
    """2026年12月2日 14:05, on the clock of `zone` (the service's legal time zone). A naive
    moment is UTC: the service writes UTC, and SQLite hands it back without its zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f"{chinese_date(local.date())} {local:%H:%M}"


templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)
templates.env.filters["chinese_date"] = chinese_date
