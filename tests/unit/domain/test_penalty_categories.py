"""The one vocabulary of penalty categories (处罚类别, 《行政处罚法》 art. 9): how a file's CF_CFLB
entries and its licence action (CF_NR_ZKDX) are read."""

from __future__ import annotations

import pytest

from domain.penalty_categories import PENALTY_CATEGORIES, categories_of, category_of

pytestmark = pytest.mark.domain


def test_the_vocabulary_is_the_law_s_fourteen_categories_in_its_order():
    assert PENALTY_CATEGORIES == (
        "警告",
        "通报批评",
        "罚款",
        "没收违法所得",
        "没收非法财物",
        "暂扣许可证件",
        "降低资质等级",
        "吊销许可证件",
        "限制开展生产经营活动",
        "责令停产停业",
        "责令关闭",
        "限制从业",
        "行政拘留",
        "其他",
    )


@pytest.mark.parametrize("name", PENALTY_CATEGORIES)
def test_each_national_name_is_its_own_category(name):
    assert category_of(f" {name} ") == name


@pytest.mark.parametrize(
    ("written", "category"),
    [
        # the law before 2021 (art. 8) and the transport regulations' wording
        ("吊销许可证", "吊销许可证件"),
        ("吊销道路运输经营许可证", "吊销许可证件"),
        ("暂扣或者吊销许可证", "吊销许可证件"),
        ("暂扣道路运输证", "暂扣许可证件"),
        ("-暂扣道路运输证", "暂扣许可证件"),
        ("责令停业整顿", "责令停产停业"),
        ("责令停产整顿", "责令停产停业"),
        ("降低资质等级（一级）", "降低资质等级"),
        ("处以罚款", "罚款"),
        ("口头警告", "警告"),
        ("拘留", "行政拘留"),
        ("责令改正", "其他"),
        ("", "其他"),
    ],
)
def test_written_variants_are_read_as_their_category(written, category):
    assert category_of(written) == category


def test_a_penalty_s_categories_include_its_licence_action():
    assert categories_of(["罚款", "没收违法所得"], None) == {"罚款", "没收违法所得"}
    assert categories_of(["罚款"], "吊销道路运输经营许可证") == {"罚款", "吊销许可证件"}
    assert categories_of(["警告"], "暂扣道路运输证") == {"警告", "暂扣许可证件"}
    # a licence action that neither revokes nor suspends adds nothing
    assert categories_of(["警告"], "无") == {"警告"}
    assert categories_of(["罚款", " ", "罚款"], "") == {"罚款"}
