"""One clock, in the configured zone: with CREDIT_TIMEZONE set to New York's, the API's "today",
the command side's and the cases read model's dates are New York days. The fixed clock stands at
04:00 UTC on Friday 2026-11-20: still Thursday 2026-11-19 in New York (Friday in Beijing)."""

from __future__ import annotations

import pytest

from service.settings import Settings
from tests.api.test_cases import progress, repair, setup_records
from tests.builders import penalty

pytestmark = pytest.mark.api


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The usual test settings, read again with CREDIT_TIMEZONE set."""
    monkeypatch.setenv("CREDIT_TIMEZONE", "America/New_York")
    return Settings(**settings.model_dump(exclude={"timezone"}))


async def test_today_and_case_dates_and_deadlines_follow_the_configured_zone(
    client, services, settings
):
    assert settings.timezone == "America/New_York"
    records = await setup_records(client)
    status = await client.get(
        f"/v1/subjects/{records['subject_id']}/status",
        params={"min_position": records["position"]},
    )
    assert status.json()["evaluated_on"] == "2026-11-19"

    future = await client.post(
        f"/v1/subjects/{records['subject_id']}/events",
        json=penalty("TZ-P", decision_date="2026-11-20"),
    )
    assert future.status_code == 422
    assert "is in the future (today is 2026-11-19)" in future.json()["detail"]

    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    assert filed["case_number"].startswith("XF20261119")
    view = await progress(client, filed)
    assert (view["filed_on"], view["steps"][0]["on"]) == ("2026-11-19", "2026-11-19")
    # 10 working days from Thursday 11-19 (from Friday 11-20 in Beijing it is 12-04).
    assert (view["status"], view["due"]) == ("filed", "2026-12-03")
