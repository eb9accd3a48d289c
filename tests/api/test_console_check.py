"""The window clerk's check pages through the ASGI app, on SQLite and PostgreSQL: a look-up by
code for a stated purpose, logged under the person's account; codes unknown, invalid, or an ID
number, which never reaches a URL; the check sheet with its log position and checkpoint; the
batch check of a bid opening, pasted or uploaded, its limit, flags and spreadsheet; which role
may open which page; and the one table of Chinese labels, complete."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.console import labels
from domain.events import LIST_TYPES, RECORD_EVENT_TYPES
from domain.policy.model import SEVERITIES
from domain.publication import ACTIVE, LAPSED, REPAIRED, REVOKED
from service.access.tables import access_log
from service.bootstrap import Services
from service.querying.code_lists import CodeListError, codes_from_file, codes_from_text
from tests.builders import AUTHORITY_CODE, enterprise, uscc
from tests.clerk import BLACK_LISTED, CLEAN, DRIVER, PURPOSE_NOTE, record_bidders, settled
from tests.console import ROLES, Person, create_staff, csrf_of, sign_in

pytestmark = pytest.mark.api
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def browser(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without JavaScript, over HTTPS (the console's cookies are Secure)."""
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


@pytest.fixture
def staff(services) -> dict[str, Person]:
    return create_staff(services)


@pytest.fixture
async def bidders(browser, role_headers) -> dict[str, str]:
    return await record_bidders(browser, role_headers["recorder"])


async def signed_in(browser: httpx.AsyncClient, person: Person, page: str) -> str:
    """Sign in and open `page`; its CSRF token."""
    response = await sign_in(browser, person.name, person.password)
    assert response.status_code == 303, response.text
    opened = await browser.get(page)
    assert opened.status_code == 200, opened.text
    return csrf_of(opened.text)


def message_of(html: str) -> str:
    found = re.search(r'id="message">([^<]*)<', html)
    return found.group(1) if found else ""


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with this id, tags dropped, spaces collapsed."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()


def access_rows(services: Services) -> list[dict[str, Any]]:
    with services.write_engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(access_log))]


def access_count(services: Services) -> int:
    with services.write_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(access_log)).scalar_one())


# Looking a subject up --------------------------------------------------------------------------
async def test_a_clerk_looks_up_a_company_and_sees_its_grade_with_basis_lists_and_records(
    browser, staff, services, bidders
):
    token = await signed_in(browser, staff["agency"], "/console/check")
    page = await browser.post(
        "/console/check",
        data={
            "csrf_token": token,
            "code": f" {BLACK_LISTED['code'].lower()} ",
            "purpose": "招标投标",
            "note": PURPOSE_NOTE,
        },
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert text_of(html, "subject-code") == BLACK_LISTED["code"]
    # The grade starts from the rating of 88 (A), loses 5 and 15 for the general and the serious
    # penalty, and the black list forces the lowest grade.
    grades = text_of(html, "grades")
    assert "公路建设市场信用评价 D 68 A（88 分）" in grades
    assert "一般失信行为扣 5 分 严重失信行为扣 15 分 列入严重失信主体名单，等级降为最低" in grades
    lists = text_of(html, "lists")
    assert "严重失信主体名单（黑名单） 2026年6月1日 2029年6月1日 严重超限超载" in lists
    # the watch list a rule derived, in Chinese
    assert "重点关注名单 2026年10月5日 依政策 2026-36：12 个月内有严重失信行为 依规则认定" in lists
    assert text_of(html, "tier") == "严重失信（双随机抽查比例 80%）"
    assert text_of(html, "warnings") == "一定期间内多次失信 ：12 个月内 2 次失信行为"
    records = text_of(html, "records")
    assert "2026年10月5日 行政处罚 严重 超限运输" in records
    assert "严重失信主体名单（黑名单） · 严重超限超载" in records  # a code in a summary, in words
    assert "公示期" in records and "2026年10月5日至2029年10月5日" in records
    assert text_of(html, "checked-purpose") == f"招标投标：{PURPOSE_NOTE}"
    # the sheet's form names the subject by its id, never by its code
    assert f'name="subject_id" value="{bidders[BLACK_LISTED["code"]]}"' in html

    [row] = access_rows(services)
    assert (row["client_id"], row["role"], row["agency_code"]) == (
        "account:wang.fang",
        "agency",
        AUTHORITY_CODE,
    )
    assert (row["action"], row["purpose"]) == ("lookup", f"招标投标：{PURPOSE_NOTE}")
    assert str(row["subject_id"]) == bidders[BLACK_LISTED["code"]]
    assert row["returned"]["grades"] == ["highway_construction:D"]
    assert len(row["returned"]["record_ids"]) == 4


async def test_an_unknown_or_invalid_code_is_said_so_keeps_the_form_and_logs_nothing(
    browser, staff, services, bidders
):
    token = await signed_in(browser, staff["agency"], "/console/check")
    for code, status, words in (
        (uscc(899), 404, "未找到：没有以该代码登记的信用主体。"),
        ("91410105MA0000801X", 422, "代码有误："),  # a wrong check character
        ("豫A1234", 422, "代码有误："),
        ("X" * 40, 422, "代码有误："),
        ("   ", 422, "请输入要核查的代码。"),
    ):
        page = await browser.post(
            "/console/check",
            data={"csrf_token": token, "code": code, "purpose": "行政许可审查"},
        )
        assert page.status_code == status, code
        assert message_of(page.text).startswith(words), message_of(page.text)
        assert f'value="{code[:64]}"' in page.text or not code.strip()
        assert 'value="行政许可审查" selected' in page.text
        assert 'id="result"' not in page.text
    assert access_count(services) == 0


async def test_the_purpose_is_required_and_other_needs_a_note(browser, staff, services, bidders):
    token = await signed_in(browser, staff["recorder"], "/console/check")
    code = CLEAN["code"]
    for purpose, note, words in (
        ("", "", "请选择核查事由。"),
        ("随便看看", "", "请选择核查事由。"),
        ("其他", "  ", "选择“其他”时，请填写具体事由。"),
        ("其他", "说" * 151, "事由说明最多 150 个字。"),
        ("其他", "核查\u200b", "事由说明含有不可见字符，请重新输入。"),
    ):
        page = await browser.post(
            "/console/check",
            data={"csrf_token": token, "code": code, "purpose": purpose, "note": note},
        )
        assert (page.status_code, message_of(page.text)) == (422, words)
        assert f'value="{code}"' in page.text  # what was typed is kept
    assert access_count(services) == 0
    stated = await browser.post(
        "/console/check",
        data={"csrf_token": token, "code": code, "purpose": "其他", "note": "信用承诺核查"},
    )
    assert stated.status_code == 200
    assert [(r["client_id"], r["purpose"]) for r in access_rows(services)] == [
        ("account:li.na", "其他：信用承诺核查")
    ]


async def test_the_lookup_names_the_subjects_region_beside_its_code(browser, staff, bidders):
    token = await signed_in(browser, staff["auditor"], "/console/check")
    page = await browser.post(
        "/console/check",
        data={"csrf_token": token, "code": DRIVER["code"], "purpose": "评优评先"},
    )
    assert page.status_code == 200
    assert text_of(page.text, "subject-region") == "410105 金水区"


async def test_an_id_number_is_in_no_url_no_page_and_no_log_line(
    browser, staff, services, bidders, caplog
):
    caplog.set_level("DEBUG")
    token = await signed_in(browser, staff["auditor"], "/console/check")
    number = DRIVER["code"]
    requested: list[str] = []

    async def record_request(request: httpx.Request) -> None:
        requested.append(str(request.url))

    browser.event_hooks["request"].append(record_request)
    page = await browser.post(
        "/console/check", data={"csrf_token": token, "code": number, "purpose": "评优评先"}
    )
    assert page.status_code == 200
    assert requested == ["https://credit.test/console/check"]
    assert number not in page.text  # not even in the form: it is not written back
    assert text_of(page.text, "subject-code") == "410105********" + number[-4:]
    sheet = await browser.post(
        "/console/check/sheet",
        data={
            "csrf_token": token,
            "subject_id": bidders[number],
            "purpose": "评优评先",
        },
    )
    assert sheet.status_code == 200 and number not in sheet.text
    batch = await browser.post(
        "/console/check/batch",
        data={"csrf_token": token, "codes": number, "purpose": "评优评先"},
    )
    assert "410105********" + number[-4:] in text_of(batch.text, "bidders")
    assert all(number not in url for url in requested)
    assert number not in caplog.text
    assert all(number not in str(row) for row in access_rows(services))
    # and the referrer: no page of the console lets one leave
    assert page.headers["referrer-policy"] == "no-referrer"


async def test_the_check_sheet_names_the_checker_the_purpose_the_position_and_the_checkpoint(
    browser, staff, services, bidders, role_headers
):
    token = await signed_in(browser, staff["agency"], "/console/check")
    subject_id = bidders[BLACK_LISTED["code"]]
    form = {
        "csrf_token": token,
        "subject_id": subject_id,
        "purpose": "行政许可审查",
        "note": "道路运输经营许可",
    }
    unsigned = await browser.post("/console/check/sheet", data=form)
    assert unsigned.status_code == 200
    assert text_of(unsigned.text, "checkpoint-state") == (
        "尚无签名检查点：该答复暂不能以检查点证明。"
    )

    checkpoint = services.checkpoints.make()
    sheet = await browser.post("/console/check/sheet", data=form)
    html = sheet.text
    assert "<title>信用核查单 · 信用交通工作台</title>" in html
    assert text_of(html, "checked-at") == "2026年11月20日 12:00"
    assert text_of(html, "checker-person") == "王芳（wang.fang）"
    assert text_of(html, "checker-agency") == f"郑州市交通运输局（{AUTHORITY_CODE}）"
    assert text_of(html, "checked-purpose") == "行政许可审查：道路运输经营许可"
    status = (
        await browser.get(f"/v1/subjects/{subject_id}/status", headers=role_headers["agency"])
    ).json()
    evidence = text_of(html, "evidence")
    assert (
        f"截至日志位置 {status['position']}（主体档案第 {status['version']} 版，"
        f"最新事件位于日志位置 {status['last_position']}）；按2026年11月20日评价，"
        "政策版本 2026-36"
    ) in evidence
    assert f"树大小 {checkpoint.tree_size}" in evidence
    assert checkpoint.root.hex() in evidence and checkpoint.key_id in evidence
    assert text_of(html, "checkpoint-state") == (
        f"该主体最新事件（日志位置 {status['last_position']}）已纳入此检查点。"
    )
    assert "公路建设市场信用评价 D" in text_of(html, "grades")
    # The auditor's check: the event the answer rests on is in the checkpointed tree.
    proof = await browser.get(
        "/v1/audit/proofs/inclusion",
        params={"position": status["last_position"], "tree_size": checkpoint.tree_size},
        headers=role_headers["auditor"],
    )
    assert proof.status_code == 200 and proof.json()["stream"] == subject_id

    # A record after the checkpoint: the sheet says the checkpoint does not hold it yet.
    later = await browser.post(
        f"/v1/subjects/{subject_id}/events",
        json={
            "type": "PenaltyDecided",
            "decision_date": "2026-11-02",
            "authority_name": "郑州市交通运输综合执法支队",
            "authority_code": AUTHORITY_CODE,
            "source_ref": "郑交执罚〔2026〕0103号",
            "severity": "minor",
            "procedure": "general",
            "violation_type": "超限运输",
            "facts": "车辆超限",
            "legal_basis": "《公路安全保护条例》第六十四条",
            "penalty_categories": ["警告"],
            "content": "警告",
        },
        headers=role_headers["recorder"],
    )
    assert later.status_code == 201, later.text
    await settled(browser, later.json()["position"])
    after = await browser.post("/console/check/sheet", data=form)
    assert text_of(after.text, "checkpoint-state") == (
        f"该主体最新事件（日志位置 {later.json()['position']}）晚于此检查点，"
        "将纳入下一次定时签名的检查点。"
    )
    pages = [r for r in access_rows(services) if r["client_id"].startswith("account:")]
    assert [(r["client_id"], r["action"], r["purpose"]) for r in pages] == [
        ("account:wang.fang", "check_sheet", "行政许可审查：道路运输经营许可")
    ] * 3


async def test_a_sheet_for_no_subject_or_without_purpose_is_refused(browser, staff, services):
    token = await signed_in(browser, staff["agency"], "/console/check")
    for subject_id, purpose, status, words in (
        ("00000000-0000-4000-8000-000000000001", "招标投标", 404, "未找到该信用主体，请重新查询。"),
        ("not-an-id", "招标投标", 404, "未找到该信用主体，请重新查询。"),
        ("00000000-0000-4000-8000-000000000001", "", 422, "请选择核查事由。"),
    ):
        page = await browser.post(
            "/console/check/sheet",
            data={"csrf_token": token, "subject_id": subject_id, "purpose": purpose},
        )
        assert (page.status_code, message_of(page.text)) == (status, words)
    assert access_count(services) == 0


# The batch check of a bid opening --------------------------------------------------------------
def bidder_cells(html: str) -> list[list[str]]:
    body = re.search(r'<table id="bidders">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body
    return [
        [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip() for cell in cells]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
        )
    ]


async def test_a_batch_gives_one_row_per_line_with_flags_and_line_numbered_problems(
    browser, staff, services, bidders
):
    token = await signed_in(browser, staff["agency"], "/console/check/batch")
    pasted = "\n".join(
        [
            BLACK_LISTED["code"],
            "",  # blank lines are skipped, and counted
            CLEAN["code"],
            "9141010X",
            DRIVER["code"],
            uscc(898),
            f"  {CLEAN['code']}  ",
        ]
    )
    page = await browser.post(
        "/console/check/batch",
        data={"csrf_token": token, "codes": pasted, "purpose": "招标投标", "note": PURPOSE_NOTE},
    )
    assert page.status_code == 200, page.text
    masked_driver = "410105********" + DRIVER["code"][-4:]
    assert bidder_cells(page.text) == [
        [
            "1",
            BLACK_LISTED["name"],
            BLACK_LISTED["code"],
            "公路建设市场信用评价 D",
            "严重失信主体名单（黑名单）、重点关注名单",
            "1 条",
            "是",
            "有",
        ],
        ["3", CLEAN["name"], CLEAN["code"], "公路建设市场信用评价 AA", "无", "0 条", "否", "无"],
        ["4", "代码有误", "9141010X", ""],
        ["5", DRIVER["name"], masked_driver, "无有效评价", "无", "0 条", "否", "无"],
        ["6", "未找到", uscc(898), ""],
        [
            "7",
            f"{CLEAN['name']} 与第 3 行相同",
            CLEAN["code"],
            "公路建设市场信用评价 AA",
            "无",
            "0 条",
            "否",
            "无",
        ],
    ]
    assert text_of(page.text, "code-problems") == (
        "第 4 行（9141010X）：代码有误，不是有效的统一社会信用代码、居民身份证号码或车牌号码 "
        f"第 6 行（{uscc(898)}）：未找到"
    )
    assert text_of(page.text, "totals") == "共 6 个代码：查得 4 个，未找到 1 个，代码有误 1 个"
    rows = access_rows(services)
    assert sorted(str(r["subject_id"]) for r in rows) == sorted(bidders.values())
    assert {(r["action"], r["purpose"], r["client_id"]) for r in rows} == {
        ("batch_status", f"招标投标：{PURPOSE_NOTE}", "account:wang.fang")
    }


async def test_more_than_the_limit_checks_nothing_and_the_limit_itself_is_checked(
    browser, staff, services, bidders
):
    token = await signed_in(browser, staff["agency"], "/console/check/batch")
    over = "\n".join([BLACK_LISTED["code"]] + [uscc(1000 + n) for n in range(200)])
    refused = await browser.post(
        "/console/check/batch", data={"csrf_token": token, "codes": over, "purpose": "政府采购"}
    )
    assert refused.status_code == 422
    assert message_of(refused.text) == (
        "共 201 个代码，一次最多核查 200 个，本次未核查任何代码。请分批核查。"
    )
    assert uscc(1199) in refused.text  # the list is kept, to be split
    assert 'id="bidders"' not in refused.text and access_count(services) == 0

    at_limit = "\n".join([BLACK_LISTED["code"]] + [uscc(1000 + n) for n in range(199)])
    checked = await browser.post(
        "/console/check/batch",
        data={"csrf_token": token, "codes": at_limit, "purpose": "政府采购"},
    )
    assert checked.status_code == 200
    assert len(bidder_cells(checked.text)) == 200
    assert access_count(services) == 1  # one subject found, one row

    for codes, purpose, words in (
        ("\n \n", "政府采购", "请粘贴或上传要核查的代码，每行一个。"),
        (CLEAN["code"], "", "请选择核查事由。"),
    ):
        empty = await browser.post(
            "/console/check/batch", data={"csrf_token": token, "codes": codes, "purpose": purpose}
        )
        assert (empty.status_code, message_of(empty.text)) == (422, words)
    assert access_count(services) == 1


def csv_file(rows: list[str], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([[row, "备注"] for row in rows])
    return out.getvalue().encode(encoding)


def xlsx_file(rows: list[Any]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append([row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def test_codes_are_uploaded_as_csv_or_xlsx(browser, staff, services, bidders):
    token = await signed_in(browser, staff["agency"], "/console/check/batch")
    form = {"csrf_token": token, "purpose": "招标投标", "codes": "ignored when a file comes"}
    for name, data in (
        ("投标人.csv", csv_file(["统一社会信用代码", BLACK_LISTED["code"], "", "bad"], "gb18030")),
        ("bidders.xlsx", xlsx_file(["代码", BLACK_LISTED["code"], None, "bad"])),
    ):
        page = await browser.post(
            "/console/check/batch",
            data=form,
            files={"file": (name, data, "application/octet-stream")},
        )
        assert page.status_code == 200, page.text
        assert [cells[:3] for cells in bidder_cells(page.text)] == [
            ["2", BLACK_LISTED["name"], BLACK_LISTED["code"]],
            ["4", "代码有误", "bad"],
        ]
        assert "文件第 4 行（bad）：代码有误" in text_of(page.text, "code-problems")
        # the codes read are put in the text box, so the download sends them again
        assert f">{BLACK_LISTED['code']}\nbad</textarea>" in page.text
    legacy = await browser.post(
        "/console/check/batch",
        data=form,
        files={"file": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "x")},
    )
    assert legacy.status_code == 422
    assert message_of(legacy.text) == "不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传。"


def test_a_code_list_keeps_its_line_numbers_and_folds_full_width_characters():
    assert [(c.line, c.code) for c in codes_from_text("\n９１４１ \r\n\n豫A12345\n")] == [
        (2, "9141"),
        (4, "豫A12345"),
    ]
    # a first row with a digit is a code, not a header
    assert [c.code for c in codes_from_file(csv_file(["91410105MA0000801K"]), "a.csv")] == [
        "91410105MA0000801K"
    ]
    for data, words in (
        (b"  ", "上传的文件是空的。"),
        (b"PK\x03\x04 not really a zip", "无法读取该文件"),
        (b'"never closed\n' + b"x" * 100, "文件第 1 行无法读取"),
    ):
        with pytest.raises(CodeListError, match=words):
            codes_from_file(data, "codes.csv")


async def test_a_batch_downloads_as_xlsx_read_back_with_openpyxl(
    browser, staff, services, bidders, role_headers
):
    formula = enterprise(804, name='=HYPERLINK("http://example.invalid","点击")')
    registered = await browser.post("/v1/subjects", json=formula, headers=role_headers["recorder"])
    assert registered.status_code == 201, registered.text
    await settled(browser, registered.json()["position"])
    token = await signed_in(browser, staff["agency"], "/console/check/batch")
    codes = "\n".join([BLACK_LISTED["code"], "bad", DRIVER["code"], formula["code"], uscc(897)])
    download = await browser.post(
        "/console/check/batch",
        data={"csrf_token": token, "codes": codes, "purpose": "招标投标", "output": "xlsx"},
    )
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert download.headers["content-disposition"] == (
        'attachment; filename="credit-check-20261120-1200.xlsx"; '
        "filename*=UTF-8''%E4%BF%A1%E7%94%A8%E6%A0%B8%E6%9F%A5-20261120-1200.xlsx"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(download.content)).active
    assert sheet is not None
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "投标人信用核查表"
    head = {row[0]: row[1] for row in rows[1:7]}
    assert head["核查时间"] == "2026年11月20日 12:00"
    assert head["核查人"] == "王芳（wang.fang）"
    assert head["核查单位"] == f"郑州市交通运输局（{AUTHORITY_CODE}）"
    assert head["核查事由"] == "招标投标"
    assert head["结果汇总"] == "共 5 个代码：查得 3 个，未找到 1 个，代码有误 1 个"
    assert str(head["依据数据"]).startswith("截至日志位置 ")
    table = rows[rows.index(next(r for r in rows if r[0] == "行号")) :]
    assert table == [
        [
            "行号",
            "名称",
            "代码",
            "信用评价等级",
            "名单",
            "已公示严重失信记录（条）",
            "黑名单",
            "严重失信记录",
            "核查结果",
        ],
        [
            1,
            BLACK_LISTED["name"],
            BLACK_LISTED["code"],
            "公路建设市场信用评价 D",
            "严重失信主体名单（黑名单）、重点关注名单",
            1,
            "是",
            "有",
            "查得",
        ],
        [2, None, "bad", None, None, None, None, None, "代码有误"],
        [
            3,
            DRIVER["name"],
            "410105********" + DRIVER["code"][-4:],
            "无有效评价",
            None,
            0,
            "否",
            "无",
            "查得",
        ],
        [4, "'" + formula["name"], formula["code"], "无有效评价", None, 0, "否", "无", "查得"],
        [5, None, uscc(897), None, None, None, None, None, "未找到"],
    ]
    # no cell is a formula, and no ID number is in the file
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert DRIVER["code"].encode() not in download.content
    assert {r["action"] for r in access_rows(services)} == {"batch_status_download"}


# Who may open the pages ------------------------------------------------------------------------
READERS = {"recorder", "agency", "auditor"}


async def test_the_nav_links_the_check_pages_for_the_roles_that_may_open_them(browser, staff):
    # Which role may open them: the role x page matrix of tests/api/test_console.py.
    for role in ROLES:
        browser.cookies.clear()
        await sign_in(browser, staff[role].name, staff[role].password)
        home = (await browser.get("/console/")).text
        nav = re.search(r'<nav class="site-nav"[^>]*>(.*?)</nav>', home, re.S)
        assert nav
        links = re.findall(r'href="(/console/check[^"]*)"', nav.group(1))
        assert links == (["/console/check", "/console/check/batch"] if role in READERS else [])


async def test_a_role_without_credit_read_cannot_post_a_check_either(browser, staff, services):
    for role in ("admin", "credit_office"):
        browser.cookies.clear()
        await sign_in(browser, staff[role].name, staff[role].password)
        token = csrf_of((await browser.get("/console/")).text)
        for path, form in (
            ("/console/check", {"code": CLEAN["code"]}),
            ("/console/check/sheet", {"subject_id": "00000000-0000-4000-8000-000000000001"}),
            ("/console/check/batch", {"codes": CLEAN["code"]}),
        ):
            refused = await browser.post(
                path, data={"csrf_token": token, "purpose": "招标投标", **form}
            )
            assert refused.status_code == 403, (role, path)
    assert access_count(services) == 0


async def test_a_check_without_the_forms_token_reads_nothing(browser, staff, services, bidders):
    await signed_in(browser, staff["agency"], "/console/check")
    for path, form in (
        ("/console/check", {"code": CLEAN["code"]}),
        ("/console/check/sheet", {"subject_id": bidders[CLEAN["code"]]}),
        ("/console/check/batch", {"codes": CLEAN["code"]}),
    ):
        refused = await browser.post(path, data={"purpose": "招标投标", **form})
        assert refused.status_code == 403
    assert access_count(services) == 0


# The one table of labels -----------------------------------------------------------------------
def test_every_code_a_page_shows_has_its_chinese_label(services):
    families = {event.TRAITS.family for event in RECORD_EVENT_TYPES.values()}
    assert families - labels.FAMILIES.keys() == set()
    assert set(SEVERITIES) - labels.SEVERITIES.keys() == set()
    assert set(LIST_TYPES) - labels.LISTS.keys() == set()
    for version in services.policy.versions:
        assert {tier.name for tier in version.supervision} - labels.TIERS.keys() == set()
        assert set(version.schemes) - labels.SCHEMES.keys() == set()
    states = {"published", "scheduled", "expired", "not_published", REVOKED, REPAIRED, LAPSED}
    assert states - {ACTIVE} - labels.PUBLICATION_STATES.keys() == set()
    # every warning the status evaluation raises
    source = (ROOT / "domain" / "credit_status.py").read_text()
    kinds = set(re.findall(r'Warning\(\s*"(\w+)"', source))
    assert kinds and kinds - labels.WARNINGS.keys() == set()


def test_the_policy_entries_of_a_grade_and_the_status_words_read_in_chinese():
    from decimal import Decimal

    assert (
        labels.adjustment("driver_integrity.adjustments.deduction.serious", Decimal("20"), "points")
        == "严重失信行为记 20 分"
    )
    assert labels.grade_limit("highway_construction.rise_cap.grades_per_cycle = 1") == (
        "逐级上升：每个评价周期至多上升 1 个等级"
    )
    assert labels.warning_detail(
        "close_to_lower_grade", "highway_construction: 86.00 is within 2 of the next lower grade"
    ) == ("公路建设市场信用评价：分值 86.00，距下一较低等级不足 2")
    assert labels.warning_detail("commitment_due", "due 2026-12-01, in 11 days") == (
        "2026年12月1日到期，还有 11 天"
    )
    assert labels.warning_detail("commitment_overdue", "due 2026-11-01, 19 days ago") == (
        "已于2026年11月1日到期，逾期 19 天"
    )
    assert labels.list_basis("2026-36: 3 minor conducts within 12 months", True) == (
        "依政策 2026-36：12 个月内 3 次轻微失信行为"
    )
    # words not known here are shown as they are, never dropped
    assert labels.warning_detail("something_new", "as it is") == "as it is"
    assert labels.label(labels.TIERS, "a_new_tier") == "a_new_tier"
