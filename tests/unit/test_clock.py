"""The service's one clock: today is the legal date in the configured zone, and the zone is
checked where it is configured and where the clock is handed in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from service.bootstrap import build_services
from service.clock import Clock, FixedClock
from service.settings import DEFAULT_TIMEZONE, Settings, describe

LATE_EVENING_IN_NEW_YORK = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


@pytest.mark.parametrize(
    ("zone", "today"),
    [
        (DEFAULT_TIMEZONE, date(2026, 11, 20)),
        ("America/New_York", date(2026, 11, 19)),
        ("UTC", date(2026, 11, 20)),
    ],
)
def test_today_is_the_date_in_the_clocks_zone(zone, today):
    clock = FixedClock(LATE_EVENING_IN_NEW_YORK, ZoneInfo(zone))
    assert clock.today() == today
    assert clock.date_of(clock.now()) == today


def test_the_system_clock_reads_the_time_in_utc_and_dates_it_in_its_zone():
    ahead, behind = Clock(ZoneInfo("Pacific/Kiritimati")), Clock(ZoneInfo("Pacific/Pago_Pago"))
    assert ahead.now().tzinfo is UTC
    # UTC+14 and UTC-11: 25 hours apart, so never on the same date.
    assert ahead.today() > behind.today()


def test_the_zone_is_read_from_credit_timezone(monkeypatch):
    monkeypatch.setenv("CREDIT_TIMEZONE", "America/New_York")
    assert Settings().zone == ZoneInfo("America/New_York")
    monkeypatch.delenv("CREDIT_TIMEZONE")
    assert Settings().zone == ZoneInfo(DEFAULT_TIMEZONE)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", ""])
def test_an_unknown_zone_stops_the_settings(monkeypatch, name):
    monkeypatch.setenv("CREDIT_TIMEZONE", name)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert describe(refused.value) == (
        f"CREDIT_TIMEZONE: not a known IANA time zone name (such as {DEFAULT_TIMEZONE})"
    )


def test_a_clock_in_another_zone_than_the_settings_is_refused(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/never-opened.sqlite3")
    clock = FixedClock(LATE_EVENING_IN_NEW_YORK, ZoneInfo("UTC"))
    with pytest.raises(ValueError, match="the clock keeps UTC but CREDIT_TIMEZONE is Asia/Shang"):
        build_services(settings, clock=clock)
    assert not (tmp_path / "never-opened.sqlite3").exists()
