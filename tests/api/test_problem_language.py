"""A client that asks for Chinese (Accept-Language: zh-CN) is told a refusal under a rule in
Chinese, from the one catalogue of rule texts, with the English detail beside it; the `type`,
status and `rule` stay as they are in English. The header is read with its quality values."""

from __future__ import annotations

import pytest

from api.errors import CHINESE, ENGLISH, language_of, problem_document
from domain.errors import Rule
from domain.rule_texts import RULE_TEXTS_ZH
from domain.subject import DECISION_DATE_NOT_IN_FUTURE
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.api
PROBLEMS = "https://credit-transport.example/problems/"
UNKNOWN = "6b9d7c4e-0000-8000-8000-000000000000"
FUTURE = "decision_date 2026-11-21 is in the future (today is 2026-11-20)"


async def events_url(client) -> str:
    answer = await client.post("/v1/subjects", json=enterprise(1401))
    assert answer.status_code == 201, answer.text
    return f"/v1/subjects/{answer.json()['subject_id']}/events"


async def test_a_refusal_under_a_rule_is_told_in_chinese_with_the_english_detail_kept(client):
    url = await events_url(client)
    answer = await client.post(
        url, json=penalty(decision_date="2026-11-21"), headers={"Accept-Language": "zh-CN"}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["content-language"] == "zh-CN"
    assert answer.headers["vary"] == "Accept-Language"
    assert answer.json() == {
        "type": PROBLEMS + "invalid-input",
        "title": "请求内容无法处理",
        "status": 422,
        "detail": "决定日期不能晚于今天。",
        "instance": url,
        "detail_en": FUTURE,
        "rule": "decision-date-not-in-future",
    }
    english = await client.post(url, json=penalty(decision_date="2026-11-21"))
    assert (english.json()["detail"], english.json()["title"]) == (FUTURE, "Unprocessable content")
    assert "detail_en" not in english.json() and "content-language" not in english.headers
    assert english.headers["vary"] == "Accept-Language"


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [
        ("zh-CN", CHINESE),
        ("zh-cn,zh;q=0.9,en;q=0.8", CHINESE),
        ("en;q=0.5, zh-CN;q=0.9", CHINESE),  # quality, not order, decides
        ("zh", CHINESE),
        ("zh-Hans-CN", CHINESE),  # Simplified Chinese by script and region
        ("zh-TW", CHINESE),  # the only Chinese there is beats English
        ("en-US,en;q=0.9,zh-CN;q=0.8", ENGLISH),
        ("zh-CN;q=0", ENGLISH),  # q=0: not acceptable
        ("fr", ENGLISH),
        ("*", ENGLISH),
        ("", ENGLISH),
        (None, ENGLISH),
        ("zh-CN;q=x", ENGLISH),  # an entry with a malformed quality is left out
    ],
)
def test_accept_language_is_read_with_its_quality_values(accept_language, language):
    assert language_of(accept_language) == language


async def test_a_problem_under_no_rule_keeps_its_english_detail_under_a_chinese_title(client):
    answer = await client.post(
        f"/v1/subjects/{UNKNOWN}/events", json=penalty(), headers={"Accept-Language": "zh-CN"}
    )
    assert answer.status_code == 404
    problem = answer.json()
    assert (problem["type"], problem["title"]) == (PROBLEMS + "subject-not-found", "未找到")
    assert problem["detail"].isascii() and "detail_en" not in problem
    assert "content-language" not in answer.headers


async def test_a_problem_answered_by_middleware_is_negotiated_too(anonymous, settings):
    too_large = b"x" * (settings.max_body_bytes + 1)
    answer = await anonymous.post(
        "/v1/subjects",
        content=too_large,
        headers={"Accept-Language": "zh-CN", "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["title"] == "请求体过大"
    assert answer.headers["vary"] == "Accept-Language"


def test_a_rule_without_a_chinese_text_falls_back_to_english():
    untold = Rule("rule-without-a-chinese-text")
    assert untold not in RULE_TEXTS_ZH
    document = problem_document("/v1/x", 409, "rule-violated", "refused", CHINESE, rule=untold)
    assert (document["title"], document["detail"]) == ("与现有状态冲突", "refused")
    assert "detail_en" not in document
    told = problem_document(
        "/v1/x", 422, "invalid-input", FUTURE, CHINESE, rule=DECISION_DATE_NOT_IN_FUTURE
    )
    assert (told["detail"], told["detail_en"]) == ("决定日期不能晚于今天。", FUTURE)


def test_an_id_number_in_the_english_detail_is_masked_in_chinese_answers_too():
    document = problem_document(
        "/v1/x",
        422,
        "invalid-input",
        "code 410105198503141234 is refused",
        CHINESE,
        rule=DECISION_DATE_NOT_IN_FUTURE,
    )
    assert "198503141234" not in document["detail_en"]
