"""Repair cases filed over the API, for the pages that count them: a published penalty of a new
company, decided by a given authority, and its repair filed today; the credit office's listing
once the read model has a write."""

from __future__ import annotations

import httpx

from tests.builders import enterprise, penalty


async def repair_case(
    http: httpx.AsyncClient, recorder: dict[str, str], serial: int, authority: str
) -> dict:
    """A repair case on a penalty `authority` decided on 2026-06-01 (repairable from 09-01),
    filed today: its number and the log position of the filing."""
    company = enterprise(serial)
    subject = await http.post("/v1/subjects", json=company, headers=recorder)
    assert subject.status_code in (200, 201), subject.text
    record = await http.post(
        f"/v1/subjects/{subject.json()['subject_id']}/events",
        json=penalty(
            f"郑交执罚〔2026〕{serial:04d}号", decision_date="2026-06-01", authority_code=authority
        ),
        headers=recorder,
    )
    assert record.status_code == 201, record.text
    filed = await http.post(
        "/v1/cases/repair",
        json={
            "subject_code": company["code"],
            "record_id": record.json()["record_id"],
            "corrections": ["罚款已缴纳"],
            "commitment_signed": True,
            "evidence": ["缴款凭证.pdf"],
            "applicant": company["name"],
        },
        params={"min_position": record.json()["position"]},
    )
    assert filed.status_code == 201, filed.text
    return dict(filed.json())


async def listed(http: httpx.AsyncClient, headers: dict[str, str], position: int) -> list[dict]:
    """The credit office's listing over the API, once the read model has `position`."""
    response = await http.get("/v1/cases", params={"min_position": position}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["cases"])
