"""处罚类别: the one vocabulary of penalty categories, read by the publication rules, by the
severity of an imported penalty and by the policy that names categories.

The categories are those of 《行政处罚法》 (2021) art. 9, as the national 双公示 standard's CF_CFLB
names them. Agencies' files also carry the names of the law before 2021 (art. 8: 暂扣或者吊销
许可证、执照) and the transport regulations' wording (责令停业整顿, 吊销道路运输经营许可证): each
is read as the category it is. A penalty's licence action (CF_NR_ZKDX, 暂扣或吊销证照) counts
too: a licence revoked there is 吊销许可证件 whatever CF_CFLB says.
"""

from __future__ import annotations

from collections.abc import Iterable

WARNING = "警告"
PUBLIC_CRITICISM = "通报批评"
FINE = "罚款"
ILLEGAL_GAINS_CONFISCATED = "没收违法所得"
ILLEGAL_PROPERTY_CONFISCATED = "没收非法财物"
LICENCE_SUSPENDED = "暂扣许可证件"
QUALIFICATION_LOWERED = "降低资质等级"
LICENCE_REVOKED = "吊销许可证件"
BUSINESS_RESTRICTED = "限制开展生产经营活动"
BUSINESS_SUSPENDED = "责令停产停业"
CLOSURE_ORDERED = "责令关闭"
PRACTICE_RESTRICTED = "限制从业"
DETENTION = "行政拘留"
OTHER = "其他"

# 《行政处罚法》 art. 9, in its order; OTHER is (六) 法律、行政法规规定的其他行政处罚.
PENALTY_CATEGORIES = (
    WARNING,
    PUBLIC_CRITICISM,
    FINE,
    ILLEGAL_GAINS_CONFISCATED,
    ILLEGAL_PROPERTY_CONFISCATED,
    LICENCE_SUSPENDED,
    QUALIFICATION_LOWERED,
    LICENCE_REVOKED,
    BUSINESS_RESTRICTED,
    BUSINESS_SUSPENDED,
    CLOSURE_ORDERED,
    PRACTICE_RESTRICTED,
    DETENTION,
    OTHER,
)

# What a written category says, checked in this order: the first word found in it names its
# category. Revocation before suspension: "暂扣或者吊销" is the law's old name of both, and the
# graver one is what a file means when it writes it as one category.
_WORDING = (
    ("吊销", LICENCE_REVOKED),
    ("暂扣", LICENCE_SUSPENDED),
    ("降低资质", QUALIFICATION_LOWERED),
    ("限制开展生产经营", BUSINESS_RESTRICTED),
    ("责令关闭", CLOSURE_ORDERED),
    ("责令停", BUSINESS_SUSPENDED),  # 责令停产停业, 责令停业整顿, 责令停产整顿
    ("限制从业", PRACTICE_RESTRICTED),
    ("拘留", DETENTION),
    ("没收违法所得", ILLEGAL_GAINS_CONFISCATED),
    ("没收非法财物", ILLEGAL_PROPERTY_CONFISCATED),
    ("罚款", FINE),
    ("通报批评", PUBLIC_CRITICISM),
    ("警告", WARNING),
)


def category_of(written: str) -> str:
    """The category a CF_CFLB entry names; OTHER when it names none of the law's."""
    text = written.strip()
    if text in PENALTY_CATEGORIES:
        return text
    for word, category in _WORDING:
        if word in text:
            return category
    return OTHER


def categories_of(written: Iterable[str], licence_action: str | None = None) -> frozenset[str]:
    """The categories of one penalty: its CF_CFLB entries, and its licence action (CF_NR_ZKDX)
    where that revokes or suspends a licence."""
    found = {category_of(item) for item in written if item.strip()}
    if licence_action:
        action = category_of(licence_action)
        if action in (LICENCE_REVOKED, LICENCE_SUSPENDED):
            found.add(action)
    return frozenset(found)
