"""The applicant pages as a browser without JavaScript uses them, for their tests: a subject with
records, each page's form token, and the filing steps sent the way the forms send them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from api.app import create_app
from service.bootstrap import Services
from service.settings import Settings
from tests.builders import enterprise, licence, penalty

COMPANY = enterprise(811)
# Decided 2026-06-01, general: published for at least 3 months (令第36号), so repair may be
# applied for from 2026-09-01; today (the tests' clock) is 2026-11-20.
OLD_PENALTY = "郑交执罚〔2026〕0601号"
# Decided 2026-10-15: repair from 2027-01-15.
NEW_PENALTY = "郑交执罚〔2026〕1015号"
LICENCE = "豫交许〔2025〕0001号"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CODES = re.compile(
    r'id="filed-case-number">([^<]+)</dd>.*?id="filed-query-code">([^<]+)</dd>', re.S
)


@asynccontextmanager
async def page_client(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without JavaScript over the ASGI app: keeps cookies, over HTTPS since outside
    development the form cookie is Secure."""
    app: FastAPI = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


async def settled(http: httpx.AsyncClient, position: int) -> None:
    """Wait until the read models have the write at `position` (the pages read them)."""
    for _ in range(250):
        health = (await http.get("/health")).json()
        if health["projections"]["position"] >= position:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"projections did not reach {position}: {health}")


async def subject_with_records(http: httpx.AsyncClient, recorder: dict[str, str]) -> dict[str, Any]:
    """COMPANY with a licence and two general penalties, one repairable today, one not yet;
    their record ids by decision number, and the subject's id."""
    subject = await http.post("/v1/subjects", json=COMPANY, headers=recorder)
    assert subject.status_code == 201, subject.text
    subject_id = subject.json()["subject_id"]
    made: dict[str, Any] = {"subject_id": subject_id}
    for body in (
        licence(LICENCE),
        penalty(OLD_PENALTY, decision_date="2026-06-01"),
        penalty(NEW_PENALTY, decision_date="2026-10-15", violation_type="不按规定维护车辆"),
    ):
        record = await http.post(f"/v1/subjects/{subject_id}/events", json=body, headers=recorder)
        assert record.status_code == 201, record.text
        made[body["source_ref"]] = record.json()["record_id"]
        made["position"] = record.json()["position"]
    await settled(http, made["position"])
    return made


def token_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found, html
    return found.group(1)


def message_of(html: str) -> str:
    found = re.search(r'<div class="message" role="alert">([^<]*)</div>', html)
    return found.group(1) if found else ""


def value_of(html: str, field_id: str) -> str:
    """What an input shows (its value), or a textarea's text."""
    found = re.search(rf'<input [^>]*id="{field_id}"[^>]*value="([^"]*)"', html, re.S) or re.search(
        rf'<textarea id="{field_id}"[^>]*>([^<]*)</textarea>', html
    )
    assert found, f"no field {field_id}"
    return found.group(1)


def without_typed(html: str) -> str:
    """The page less what differs between two answers that tell the same: what was typed and
    the form token."""
    return re.sub(r'value="[^"]*"', 'value=""', html)


async def identify(
    http: httpx.AsyncClient, kind: str, subject_code: str, decision_number: str
) -> httpx.Response:
    """The first step: open the page (its token and cookie), then send who applies."""
    opened = await http.get("/cases/apply")
    assert opened.status_code == 200, opened.text
    return await http.post(
        "/cases/apply",
        data={
            "csrf_token": token_of(opened.text),
            "kind": kind,
            "subject_code": subject_code,
            "decision_number": decision_number,
        },
    )


async def submit(http: httpx.AsyncClient, step: httpx.Response, **fields: str) -> httpx.Response:
    """The second step's form, as multipart/form-data (as the browser sends it), with the
    hidden fields of the page it came from."""
    html = step.text
    hidden = dict(
        re.findall(
            r'<input type="hidden" name="(kind|subject_code|decision_number)" value="([^"]*)">',
            html.split('action="/cases/apply/submit"', 1)[1],
        )
    )
    body = {"csrf_token": token_of(html), **hidden, **fields}
    return await http.post(
        "/cases/apply/submit", files={name: (None, value) for name, value in body.items()}
    )


def codes_of(html: str) -> tuple[str, str]:
    """The case number and the query code the confirmation shows."""
    found = CODES.search(html)
    assert found, html
    return found.group(1), found.group(2)
