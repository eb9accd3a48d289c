"""Subjects a window clerk checks, recorded through the API, for the check pages' tests: a
black-listed company with a serious penalty, a clean one, a driver (an ID number)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.builders import enterprise, individual, list_entry, penalty, rating

BLACK_LISTED = enterprise(801, name="郑州宏远道路运输有限公司")
CLEAN = enterprise(802, name="河南中原客运集团有限公司")
DRIVER = individual(803, name="王建国")
PURPOSE_NOTE = "郑州市某道路养护工程招标"


async def settled(http: httpx.AsyncClient, position: int) -> None:
    """Wait until the read models have the write at `position` (the pages read them)."""
    health: dict[str, Any] = {}
    for _ in range(250):
        health = (await http.get("/health")).json()
        if health["projections"]["position"] >= position:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"projections did not reach {position}: {health}")


async def _write(http: httpx.AsyncClient, path: str, body: dict, headers: dict) -> dict:
    response = await http.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict = response.json()
    return answer


async def record_bidders(http: httpx.AsyncClient, recorder: dict[str, str]) -> dict[str, str]:
    """The three subjects, settled in the read models; their subject ids by code."""
    ids: dict[str, str] = {}
    position = 0
    for subject, records in (
        (
            BLACK_LISTED,
            [
                rating(),
                penalty("郑交执罚〔2026〕0101号", severity="general", decision_date="2026-10-01"),
                penalty("郑交执罚〔2026〕0102号", severity="serious", decision_date="2026-10-05"),
                list_entry(),
            ],
        ),
        (CLEAN, [rating("豫交评〔2026〕0002号", grade="AA", score="96")]),
        (DRIVER, []),
    ):
        registered = await _write(http, "/v1/subjects", subject, recorder)
        ids[subject["code"]] = registered["subject_id"]
        position = registered["position"]
        for body in records:
            written = await _write(
                http, f"/v1/subjects/{registered['subject_id']}/events", body, recorder
            )
            position = written["position"]
    await settled(http, position)
    return ids
