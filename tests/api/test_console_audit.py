"""The auditor's desk through the ASGI app, on SQLite and PostgreSQL: who may open it, finding a
subject by code in a POST, the timeline and its table against the API's answer for the same
subject, corrections and revocations linked both ways, the access log (its period, its pages,
the page's own read in it), replay checks started, followed and read, and the latest checkpoint
with its verification, also after someone tampered with the store."""

from __future__ import annotations

import asyncio
import html as html_text
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, update

from api.app import create_app
from api.console import audit
from api.console.vocabulary import event_name
from api.templating import chinese_date, chinese_moment
from projections.tables import records
from service.access.access_log import AccessEntry
from service.access.tables import access_log
from service.bootstrap import Services
from service.integrity.tables import checkpoints
from service.settings import Settings
from tests.auditing import AuditedSubject, a_subject_with_a_history
from tests.builders import AUTHORITY_CODE, AUTHORITY_NAME, uscc
from tests.console import ROLES, Person, create_staff, csrf_of, sign_in
from tests.tampering import as_superuser

pytestmark = pytest.mark.api
PURPOSE = "信用修复案件复核"
CELL = r"<t[dh][^>]*>(.*?)</t[dh]>"


@pytest.fixture
async def browser(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without JavaScript (cookies kept, no redirect followed), over HTTPS since
    outside development the console's cookies are Secure; it also calls the JSON API."""
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


@pytest.fixture
def staff(services: Services) -> dict[str, Person]:
    return create_staff(services)


@pytest.fixture
async def subject(browser: httpx.AsyncClient, role_headers) -> AuditedSubject:
    built = await a_subject_with_a_history(browser, role_headers["recorder"])
    await settled(browser, built.position)
    return built


async def settled(http: httpx.AsyncClient, position: int) -> None:
    """Wait until the read models have the write at `position` (the timeline reads them too)."""
    for _ in range(250):
        if (await http.get("/health")).json()["projections"]["position"] >= position:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the read models did not reach {position}")


async def signed_in(http: httpx.AsyncClient, person: Person) -> None:
    http.cookies.clear()
    response = await sign_in(http, person.name, person.password)
    assert response.status_code == 303, response.text


def text_of(fragment: str) -> str:
    return " ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def message_of(page: str) -> str:
    found = re.search(r'id="message">(.*?)</p>', page, re.S)
    return text_of(found.group(1)) if found else ""


def part_of(page: str, pattern: str, *, text: bool = True) -> str:
    found = re.search(pattern, page, re.S)
    assert found, pattern
    return text_of(found.group(1)) if text else found.group(1)


def table_rows(page: str, table_id: str) -> list[tuple[dict[str, str], list[str], str]]:
    """Each body row of a table: its attributes, its cells' text, and its HTML."""
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert table, f"no table {table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    assert body
    return [
        (
            dict(re.findall(r'([\w-]+)="([^"]*)"', row.group(1))),
            [text_of(cell) for cell in re.findall(CELL, row.group(2), re.S)],
            row.group(2),
        )
        for row in re.finditer(r"<tr([^>]*)>(.*?)</tr>", body.group(1), re.S)
    ]


def timeline_rows(page: str) -> dict[str, str]:
    """The timeline's rows by the anchor of their event, as HTML."""
    return dict(re.findall(r'<li class="tl-row" id="row-(event-\d+)">(.*?)</li>', page, re.S))


def history_path(subject_id: str, purpose: str = PURPOSE) -> str:
    return f"/console/audit/subjects/{subject_id}?purpose={quote(purpose)}"


def access_log_rows(services: Services) -> int:
    with services.write_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(access_log)).scalar_one())


# Who may open what ------------------------------------------------------------------------------
async def test_only_auditors_open_a_subjects_pages(browser, staff, subject):
    paths = [
        history_path(subject.subject_id),
        f"/console/audit/subjects/{subject.subject_id}/access-log?purpose={quote(PURPOSE)}",
    ]
    for path in paths:
        got = {}
        for role in ROLES:
            await signed_in(browser, staff[role])
            response = await browser.get(path)
            got[role] = response.status_code
        assert got == {**dict.fromkeys(ROLES, 403), "auditor": 200}
        browser.cookies.clear()
        anonymous = await browser.get(path)
        assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/console/sign-in")


async def test_the_forms_need_their_token_and_change_nothing_without_it(
    browser, staff, services, subject
):
    await signed_in(browser, staff["auditor"])
    before = access_log_rows(services)
    for path, data in (
        ("/console/audit/find", {"subject": subject.code, "purpose": PURPOSE}),
        ("/console/audit/replay-checks", {}),
        ("/console/audit/checkpoint", {}),
    ):
        refused = await browser.post(path, data={**data, "csrf_token": "forged"})
        assert refused.status_code == 403, path
    assert services.replay_checks.recent() == []
    assert services.checkpoints.latest() is None
    assert access_log_rows(services) == before


# Finding a subject ------------------------------------------------------------------------------
async def test_a_subject_is_found_by_code_in_a_post_body_never_in_a_url(
    browser, staff, services, subject
):
    await signed_in(browser, staff["auditor"])
    desk = await browser.get("/console/audit")
    assert desk.status_code == 200
    assert '<form method="post" action="/console/audit/find"' in desk.text
    token = csrf_of(desk.text)
    found = await browser.post(
        "/console/audit/find",
        data={"subject": f" {subject.code.lower()} ", "purpose": PURPOSE, "csrf_token": token},
    )
    assert found.status_code == 303
    location = found.headers["location"]
    assert location == history_path(subject.subject_id)
    assert subject.code not in location and subject.code.lower() not in location
    by_id = await browser.post(
        "/console/audit/find",
        data={"subject": subject.subject_id, "purpose": PURPOSE, "csrf_token": token},
    )
    assert by_id.headers["location"] == location


async def test_a_bad_search_is_answered_on_the_page_keeping_the_input_and_reading_nothing(
    browser, staff, services, subject
):
    await signed_in(browser, staff["auditor"])
    token = csrf_of((await browser.get("/console/audit")).text)
    before = access_log_rows(services)
    unregistered = uscc(999)
    for wanted, purpose, status, words in (
        ("", PURPOSE, 422, "请输入主体的统一社会信用代码"),
        (subject.code, "", 422, "请填写查阅事由"),
        (subject.code, "x" * 201, 422, "查阅事由最多 200 个字"),
        ("91410105MA0000901X", PURPOSE, 422, "这不是有效的统一社会信用代码、身份证号码"),
        (unregistered, PURPOSE, 404, "未找到以此代码或标识登记的主体"),
        ("00000000-0000-4000-8000-000000000001", PURPOSE, 404, "未找到以此代码或标识登记的主体"),
    ):
        answer = await browser.post(
            "/console/audit/find",
            data={"subject": wanted, "purpose": purpose, "csrf_token": token},
        )
        assert answer.status_code == status, (wanted, message_of(answer.text))
        assert words in message_of(answer.text)
        assert f'value="{wanted}"' in answer.text and f'value="{purpose}"' in answer.text
    assert access_log_rows(services) == before


async def test_a_subjects_page_without_a_purpose_asks_for_one_and_reads_nothing(
    browser, staff, services, subject
):
    await signed_in(browser, staff["auditor"])
    before = access_log_rows(services)
    for path in (
        f"/console/audit/subjects/{subject.subject_id}",
        f"/console/audit/subjects/{subject.subject_id}/access-log",
    ):
        asked = await browser.get(path)
        assert asked.status_code == 200
        assert "填写查阅事由" in asked.text and subject.code not in asked.text
        assert f'<form method="get" action="{path}">' in asked.text
        too_long = await browser.get(path, params={"purpose": "x" * 201})
        assert too_long.status_code == 422
        assert message_of(too_long.text) == "查阅事由最多 200 个字。"
    for path in ("/console/audit/subjects/not-an-id", history_path(uscc(998))):
        missing = await browser.get(path)
        assert missing.status_code == 404 and message_of(missing.text) == "未找到该主体。"
    assert access_log_rows(services) == before


# The timeline and its table against the API ------------------------------------------------------
async def test_the_table_shows_every_event_as_the_api_answers_it(
    browser, staff, services, subject, role_headers
):
    api = await browser.get(
        f"/v1/subjects/{subject.subject_id}/history", headers=role_headers["auditor"]
    )
    events = api.json()["events"]
    await signed_in(browser, staff["auditor"])
    page = await browser.get(history_path(subject.subject_id))
    assert page.status_code == 200
    assert f'<code id="subject-code">{subject.code}</code>' in page.text
    rows = table_rows(page.text, "history")
    assert [(a["id"], a["data-type"]) for a, _, _ in rows] == [
        (f"event-{e['version']}", e["type"]) for e in events
    ]
    zone = services.clock.zone
    for (_, cells, _), event in zip(rows, events, strict=True):
        number, what, valid, recorded, who, authority, _, _ = cells
        assert number == f"{event['version']} 位置 {event['position']}"
        assert what.startswith(event_name(event["type"]))
        assert valid == (chinese_date(event["valid_time"]) if event["valid_time"] else "—")
        assert recorded == chinese_moment(datetime.fromisoformat(event["recorded_at"]), zone)
        if event["recorded_by"]:
            assert f"{event['recorded_by']} 接口客户端" in who
            assert who.startswith("郑州市交通运输局")  # the client's agency
        elif event["data"]["by"] == "applicant":  # a case step: who took it
            assert who == "申请人（信用主体）"
        else:
            assert who == f"{AUTHORITY_NAME} {event['data']['by']} 办理机关"
        if "authority_code" in event["data"]:
            assert event["data"]["authority_code"] in authority


async def test_the_timeline_draws_each_record_in_its_state_as_the_api_gives_it(
    browser, staff, subject, role_headers
):
    api = await browser.get(
        f"/v1/subjects/{subject.subject_id}/records",
        params={"include": "all"},
        headers=role_headers["auditor"],
    )
    states = {r["record_id"]: r["publication"]["state"] for r in api.json()["records"]}
    assert states[subject.repaired] == "repaired" and states[subject.revoked] == "revoked"
    await signed_in(browser, staff["auditor"])
    page = (await browser.get(history_path(subject.subject_id))).text
    rows = {attrs["id"]: cells for attrs, cells, _ in table_rows(page, "history")}
    record_rows = {
        cells[1].split("记录 ")[1].split(" ")[0]: anchor
        for anchor, cells in rows.items()
        if "记录 " in cells[1]
    }
    drawn = timeline_rows(page)
    labels = {
        "published": "公示中",
        "repaired": "已信用修复",
        "revoked": "已撤销",
        "expired": "公示期满",
        "scheduled": "待公示",
    }
    for record_id, state in states.items():  # every record but the follow-ups has a row
        row = drawn[record_rows[record_id]]
        assert f'<span class="state state-{state}">{labels[state]}' in row
    # follow-ups and case steps are drawn on the row of the record they act on
    assert len(drawn) == 1 + len(states)


async def test_a_correction_is_linked_to_what_it_changed_and_back(browser, staff, subject):
    await signed_in(browser, staff["auditor"])
    page = (await browser.get(history_path(subject.subject_id))).text
    rows = {attrs["id"]: (cells, row) for attrs, cells, row in table_rows(page, "history")}
    by_record = {
        cells[1].split("记录 ")[1].split(" ")[0]: anchor
        for anchor, (cells, _) in rows.items()
        if "记录 " in cells[1]
    }
    corrected, correction = by_record[subject.corrected], by_record[subject.correction]
    revoked, revocation = by_record[subject.revoked], by_record[subject.revocation]
    basis, entry = by_record[subject.basis], by_record[subject.entry]

    def linked(anchor: str, words: str, target: str) -> bool:
        number = target.removeprefix("event-")
        return f'{words}：<a href="#{target}">第 {number} 条</a>' in rows[anchor][1]

    assert linked(correction, "更正", corrected) and linked(corrected, "被更正", correction)
    assert linked(revocation, "撤销", revoked) and linked(revoked, "被撤销", revocation)
    assert linked(entry, "依据", basis) and linked(basis, "被作为依据", entry)
    assert "改为 {&#34;fine_amount&#34;: &#34;1.0&#34;}" in rows[correction][1]
    # On the timeline, the correction and the revocation are marks on their targets' rows.
    drawn = timeline_rows(page)
    assert re.search(rf'class="mark mark-corrects" href="#{correction}"', drawn[corrected])
    assert re.search(rf'class="mark mark-revokes" href="#{revocation}"', drawn[revoked])
    assert correction not in drawn and revocation not in drawn
    assert f'依据：<a href="#{basis}">' in drawn[entry]
    # The repair case's steps sit on the repaired penalty's row; the objection on the basis's.
    repaired = by_record[subject.repaired]
    steps = [anchor for anchor, (cells, _) in rows.items() if cells[1].startswith("案件：")]
    assert len(re.findall(r'class="mark mark-case_step"', drawn[repaired])) == 3
    assert len(re.findall(r'class="mark mark-case_step"', drawn[basis])) == 1
    assert [linked(step, "案件涉及", repaired) for step in steps] == [True, True, True, False]
    assert linked(steps[3], "案件涉及", basis)
    assert subject.repair_case in rows[steps[0]][0][1]
    assert "异议处理中" in rows[basis][0][7]


async def test_a_long_history_pages_and_links_to_records_on_other_pages_by_id(
    browser, staff, subject, monkeypatch
):
    monkeypatch.setattr(audit, "HISTORY_PAGE", 5)
    await signed_in(browser, staff["auditor"])
    first = await browser.get(history_path(subject.subject_id))
    assert [a["id"] for a, _, _ in table_rows(first.text, "history")] == [
        f"event-{n}" for n in range(1, 6)
    ]
    following = re.search(r'<a href="([^"]+)" id="next-page">', first.text)
    assert following and "after_version=5" in following.group(1)
    second = await browser.get(html_text.unescape(following.group(1)))
    rows = {a["id"]: row for a, _, row in table_rows(second.text, "history")}
    assert list(rows) == [f"event-{n}" for n in range(6, 11)]
    # The correction (7) names the penalty it corrected (3, on the first page) by its id.
    assert f"更正：<code>{subject.corrected}</code>" in rows["event-7"]
    assert "event-7" in timeline_rows(second.text)  # a row of its own, its target not here
    assert f'<a href="{history_path(subject.subject_id)}">从第一条看起</a>' in second.text


# The access log ----------------------------------------------------------------------------------
async def test_each_page_read_is_logged_under_the_auditors_account_and_shows_itself(
    browser, staff, subject, role_headers
):
    await signed_in(browser, staff["auditor"])
    assert (await browser.get(history_path(subject.subject_id))).status_code == 200
    page = await browser.get(
        f"/console/audit/subjects/{subject.subject_id}/access-log",
        params={"purpose": "核查查阅情况"},
    )
    assert page.status_code == 200
    rows = table_rows(page.text, "access-log")
    newest, second = rows[0][1], rows[1][1]
    assert "赵磊 · 郑州市交通运输局 account:zhao.lei 工作人员账号" in newest[2]
    assert (newest[3], newest[5]) == (f"审计人员 {AUTHORITY_CODE}", "核查查阅情况")
    assert newest[4].startswith("查阅查询留痕")
    assert second[4].startswith("查阅全部历史") and second[5] == PURPOSE
    api = await browser.get(
        f"/v1/subjects/{subject.subject_id}/access-log", headers=role_headers["auditor"]
    )
    logged = [
        (e["client_id"], e["role"], e["action"], e["purpose"])
        for e in api.json()["entries"]
        if e["client_id"].startswith("account:")
    ]
    assert logged == [
        ("account:zhao.lei", "auditor", "history", PURPOSE),
        ("account:zhao.lei", "auditor", "access_log", "核查查阅情况"),
    ]
    # The same rows, in the opposite order: newest first on the page, oldest first in the API.
    assert [int(a["data-seq"]) for a, _, _ in rows] == [
        e["seq"] for e in reversed(api.json()["entries"])
    ]


async def test_the_access_log_filters_by_period_and_pages_newest_first(
    browser, staff, services, subject
):
    sid = UUID(subject.subject_id)
    services.access_log.append(
        [
            AccessEntry("test-agency", "agency", AUTHORITY_CODE, sid, "status", f"行政许可 {n}", {})
            for n in range(60)
        ]
    )
    await signed_in(browser, staff["auditor"])
    path = f"/console/audit/subjects/{subject.subject_id}/access-log"
    first = await browser.get(path, params={"purpose": PURPOSE})
    rows = table_rows(first.text, "access-log")
    assert len(rows) == 50
    assert rows[0][1][5] == PURPOSE and rows[1][1][5] == "行政许可 59"
    more = re.search(r'<a href="([^"]+)" id="next-page">', first.text)
    assert more
    second = await browser.get(html_text.unescape(more.group(1)))
    older = table_rows(second.text, "access-log")
    assert [cells[5] for _, cells, _ in older] == [f"行政许可 {n}" for n in range(10, -1, -1)][
        : len(older)
    ]
    assert 'id="next-page"' not in second.text
    # By period: the days are the service's (Beijing); every row was written today, for real.
    today = datetime.now(UTC).astimezone(services.clock.zone).date()
    within = await browser.get(
        path, params={"purpose": PURPOSE, "since": today.isoformat(), "until": today.isoformat()}
    )
    assert len(table_rows(within.text, "access-log")) == 50
    before = await browser.get(
        path, params={"purpose": PURPOSE, "until": (today - timedelta(days=1)).isoformat()}
    )
    assert 'id="no-entries">此期间内没有查阅记录。' in before.text
    rows_now = access_log_rows(services)
    for since, until, words in (
        ("2026-13-01", "", "请按“年-月-日”填写日期"),
        (today.isoformat(), (today - timedelta(days=1)).isoformat(), "起始日期不能晚于截止日期"),
    ):
        refused = await browser.get(
            path, params={"purpose": PURPOSE, "since": since, "until": until}
        )
        assert refused.status_code == 422 and words in message_of(refused.text)
        assert f'value="{since}"' in refused.text
    assert access_log_rows(services) == rows_now  # nothing read, nothing logged


# Replay checks ------------------------------------------------------------------------------------
async def finished(services: Services, check_id: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while (services.replay_checks.get(UUID(check_id)) or {}).get("state") == "running":
        assert time.monotonic() < deadline, "the check still runs"
        await asyncio.sleep(0.1)


async def test_a_replay_check_is_started_followed_and_its_differences_read(
    browser, staff, services, subject, role_headers
):
    await signed_in(browser, staff["auditor"])
    listing = await browser.get("/console/audit/replay-checks")
    assert "尚未进行过回放核对" in listing.text
    token = csrf_of(listing.text)
    started = await browser.post("/console/audit/replay-checks", data={"csrf_token": token})
    assert started.status_code == 303
    check_path = started.headers["location"]
    check_id = check_path.rsplit("/", 1)[1]
    running = await browser.get(check_path)
    if 'data-state="running"' in running.text:  # it may already be done on a fast machine
        assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in running.text
        assert '<script src="/console/static/replay-check.js" defer></script>' in running.text
        again = await browser.post("/console/audit/replay-checks", data={"csrf_token": token})
        assert again.status_code == 409
        assert f'<a href="{check_path}" id="running-check">' in again.text
        stopped = await browser.get(check_path, params={"refresh": "off"})
        assert 'http-equiv="refresh"' not in stopped.text
    await finished(services, check_id)
    passed = await browser.get(check_path)
    assert 'data-state="passed"' in passed.text and "http-equiv" not in passed.text
    assert 'id="difference-count">0 处' in passed.text
    assert "<code>account:zhao.lei</code>" in passed.text
    assert services.replay_checks.get(UUID(check_id))["requested_by"] == "account:zhao.lei"

    # Someone edits a read-model row behind the projector's back: the next check names it.
    with services.write_engine.begin() as conn:
        conn.execute(
            update(records)
            .where(records.c.record_id == UUID(subject.basis))
            .values(severity="minor")
        )
    second = await browser.post("/console/audit/replay-checks", data={"csrf_token": token})
    second_path = second.headers["location"]
    await finished(services, second_path.rsplit("/", 1)[1])
    failed = await browser.get(second_path)
    assert 'data-state="failed"' in failed.text
    api = await browser.get(
        f"/v1/audit/replay-checks/{second_path.rsplit('/', 1)[1]}", headers=role_headers["auditor"]
    )
    answer = api.json()
    replayed, total = answer["progress"]["events_replayed"], answer["progress"]["events_total"]
    assert f"已回放 {replayed} / {total} 条事件" in failed.text
    assert f'id="difference-count">{answer["difference_count"]} 处' in failed.text
    assert f"<dd>{answer['rows_compared']}</dd>" in failed.text
    differences = table_rows(failed.text, "differences")
    assert [
        cells for _, cells, _ in differences if cells[0] == "records" and cells[3] == "severity"
    ] == [["records", subject.subject_id, f"{subject.basis}", "severity", '"minor"', '"serious"']]
    assert f'<a href="/console/audit/subjects/{subject.subject_id}">' in failed.text
    # The differences show the subject's rows: the page read is in its access log.
    logged = services.access_log.for_subject(UUID(subject.subject_id), after_seq=None, limit=50)
    assert [(e["client_id"], e["action"], e["purpose"], e["returned"]) for e in logged] == [
        (
            "account:zhao.lei",
            "replay_check",
            "核查回放核对发现的差异",
            {"check_id": second_path.rsplit("/", 1)[1], "fields": ["records.severity"]},
        )
    ]
    listing = await browser.get("/console/audit/replay-checks")
    assert [cells[1] for _, cells, _ in table_rows(listing.text, "checks")] == [
        "发现差异",
        "一致",
    ]


async def test_an_unknown_replay_check_is_a_page_not_a_problem(browser, staff):
    await signed_in(browser, staff["auditor"])
    for check_id in ("00000000-0000-4000-8000-000000000001", "not-a-check"):
        missing = await browser.get(f"/console/audit/replay-checks/{check_id}")
        assert missing.status_code == 404 and message_of(missing.text) == "未找到该回放核对。"


# The latest checkpoint --------------------------------------------------------------------------
async def test_the_latest_checkpoint_is_shown_as_the_api_gives_it_and_verifies(
    browser, staff, services, subject, role_headers
):
    await signed_in(browser, staff["auditor"])
    empty = await browser.get("/console/audit/checkpoint")
    assert 'id="no-checkpoint">尚未签发任何检查点。' in empty.text
    made = await browser.post("/console/audit/checkpoint", data={"csrf_token": csrf_of(empty.text)})
    assert (made.status_code, made.headers["location"]) == (303, "/console/audit/checkpoint?made=1")
    page = (await browser.get(made.headers["location"])).text
    latest = (await browser.get("/v1/audit/checkpoints/latest")).json()
    assert f'id="tree-size">{latest["tree_size"]} 条事件' in page
    assert f'<code id="root">{latest["root"]}</code>' in page
    assert f'<code id="key-id">{latest["key_id"]}</code>' in page
    assert f'<code id="signature">{latest["signature"]}</code>' in page
    assert f'datetime="{latest["issued_at"]}"' in page
    assert "核验通过" in part_of(page, r'id="checkpoint-verdict">(.*?)</p>')
    chains = (
        await browser.get("/v1/audit/access-log:verify", headers=role_headers["auditor"])
    ).json()
    rows = {cells[0]: cells for _, cells, _ in table_rows(page, "chains")}
    assert rows["查询留痕"][1:3] == ["完好", str(chains["access_log"]["rows"])]
    assert rows["管理日志"][1:3] == ["完好", str(chains["admin_log"]["rows"])]


async def test_the_checkpoint_page_names_what_no_longer_verifies(browser, staff, services, subject):
    await signed_in(browser, staff["auditor"])
    assert (await browser.get(history_path(subject.subject_id))).status_code == 200
    services.checkpoints.make()  # anchors the access log's head, the page's read included
    with as_superuser(services) as conn:  # the signature no longer covers what it signed
        conn.execute(update(checkpoints).values(signature=b"\x00" * 64))
        first = conn.execute(select(func.min(access_log.c.seq))).scalar_one()
        conn.execute(update(access_log).where(access_log.c.seq == first).values(purpose="改过"))
    page = (await browser.get("/console/audit/checkpoint")).text
    verdict = part_of(page, r'id="checkpoint-verdict">(.*?)</p>')
    assert verdict.startswith("核验未通过：签名无效")
    checks = part_of(page, r'<ul class="checks" id="checkpoint-checks">(.*?)</ul>', text=False)
    assert '<li class="bad">签名无效</li>' in checks
    assert '<li class="ok">根哈希与当前 Merkle 树一致</li>' in checks
    rows = {cells[0]: cells for _, cells, _ in table_rows(page, "chains")}
    assert rows["查询留痕"][1] == "已被改动"
    assert rows["查询留痕"][4] == f"第 {first} 条起哈希链断裂（被修改、删除或调换）"
