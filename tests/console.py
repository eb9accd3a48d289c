"""Staff accounts and the console's forms, for the console's tests: one account per role, and
signing in the way a browser does (the sign-in page's token, then the form)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from service.access.administration import Done
from service.bootstrap import Services
from tests.builders import AUTHORITY_CODE, OTHER_AUTHORITY_CODE

AGENCY = "郑州市交通运输局"
ROLES = ("recorder", "agency", "auditor", "admin", "credit_office")
NAMES = {
    "recorder": "li.na",
    "agency": "wang.fang",
    "auditor": "zhao.lei",
    "admin": "chen.jing",
    "credit_office": "liu.yang",
}
DISPLAY_NAMES = {
    "recorder": "李娜",
    "agency": "王芳",
    "auditor": "赵磊",
    "admin": "陈静",
    "credit_office": "刘洋",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Person:
    name: str
    password: str
    display_name: str


def create_staff(services: Services) -> dict[str, Person]:
    """One built-in account per role (agency 郑州市交通运输局), as an administrator makes them;
    four eyes waived, as for the demo's accounts."""
    people = {}
    for role in ROLES:
        grants = (
            {
                "authority_codes": [AUTHORITY_CODE, OTHER_AUTHORITY_CODE],
                "sectors": ["road_transport"],
            }
            if role == "recorder"
            else {}
        )
        done = services.administration.create_account(
            "cli:test",
            NAMES[role],
            DISPLAY_NAMES[role],
            role,
            AGENCY,
            AUTHORITY_CODE,
            **grants,
            four_eyes_waived="test set-up",
        )
        assert isinstance(done, Done) and done.secret is not None
        people[role] = Person(NAMES[role], done.secret, DISPLAY_NAMES[role])
    return people


def create_staff_and_recorder_b(services: Services) -> dict[str, Person]:
    """One account per role, and "recorder_b": a recorder deciding for the other authority
    (OTHER_AUTHORITY_CODE) only, who sees that authority's figures and rows alone."""
    people = create_staff(services)
    done = services.administration.create_account(
        "cli:test", "zhou.qiang", "周强", "recorder", AGENCY, OTHER_AUTHORITY_CODE,
        authority_codes=[OTHER_AUTHORITY_CODE], sectors=["road_transport"],
        four_eyes_waived="test set-up",
    )  # fmt: skip
    assert isinstance(done, Done) and done.secret is not None
    people["recorder_b"] = Person("zhou.qiang", done.secret, "周强")
    return people


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    """Open the sign-in page (its token and cookie), then send the form."""
    form = await http.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return await http.post(
        "/console/sign-in",
        data={"name": name, "password": password, "csrf_token": csrf_of(form.text)},
    )
