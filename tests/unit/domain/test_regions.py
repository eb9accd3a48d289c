"""Region names by GB/T 2260 code: what the pages and the 台账 show beside or instead of a code."""

import tomllib
from pathlib import Path

import pytest

from domain import codes
from domain.regions import region_label, region_name

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "domain" / "data" / "regions.toml"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("410000", "河南省"),
        ("410100", "郑州市"),
        ("411000", "许昌市"),
        ("410105", "金水区"),  # a county-level code of the demo catalogue
        ("410307", "偃师区"),  # a district since 2021, once 偃师市 410381
        ("650000", "新疆维吾尔自治区"),
        ("422800", "恩施土家族苗族自治州"),
        ("152900", "阿拉善盟"),
        ("460300", "三沙市"),
        ("110000", "北京市"),
        # A municipality's districts rolled up to the city level, as the list figures do.
        ("110100", "北京市"),
        ("500200", "重庆市"),
    ],
)
def test_a_known_code_gives_its_name(code, name):
    assert region_name(code) == name


@pytest.mark.parametrize("code", ["410322", "411023", "419999", "130200x", "4101", ""])
def test_an_unknown_code_is_shown_as_itself(code):
    # 410322 (孟津县) and 411023 (许昌县) are codes no longer in use.
    assert region_name(code) == code
    assert region_label(code) == code


def test_the_label_keeps_the_code_before_the_name():
    assert region_label("410100") == "410100 郑州市"
    assert region_label("410000") == "410000 河南省"


def test_henan_has_its_seventeen_prefectures_and_beijing_none():
    henan = [region_name(f"41{n:02d}00") for n in range(1, 18)]
    assert henan == [
        "郑州市", "开封市", "洛阳市", "平顶山市", "安阳市", "鹤壁市", "新乡市", "焦作市", "濮阳市",
        "许昌市", "漯河市", "三门峡市", "南阳市", "商丘市", "信阳市", "周口市", "驻马店市",
    ]  # fmt: skip
    assert region_name("411800") == "411800"


def test_the_data_file_holds_valid_codes_each_under_its_province():
    data = tomllib.loads(DATA.read_text("utf-8"))
    provinces = data["provinces"]
    assert len(provinces) == 34
    assert all(code.endswith("0000") for code in provinces)
    every = [*provinces, *data["prefectures"], *data["counties"]]
    assert len(every) == len(set(every))
    for code in every:
        assert codes.normalise_region_code(code) == code
        assert code[:2] + "0000" in provinces, code
    for code in data["prefectures"]:
        assert code.endswith("00") and not code.endswith("0000"), code
    for code in data["counties"]:
        assert not code.endswith("00"), code
    # Province- and prefecture-level divisions as of the 2023 list: 34 and 333.
    assert len(data["prefectures"]) == 333


def test_the_package_ships_the_data_file():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["domain"]
    assert DATA in {path for pattern in patterns for path in (ROOT / "domain").glob(pattern)}
