"""Names of administrative divisions (行政区划) by their six-digit GB/T 2260 code, for people to
read where the service shows a region: from `data/regions.toml` (its source is named there)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

# A municipality's districts rolled up to the city level (the first four digits, as the reports
# roll regions up: 110105 to 110100, 500229 to 500200) are the municipality itself; of the
# province-level divisions only the municipalities' names end in 市.
_MUNICIPALITY_PARTS = ("01", "02")


def region_name(code: str) -> str:
    """The name of the division with this code (410100: 郑州市, 410000: 河南省); the code itself
    when the service knows no name for it (an old or mistyped code)."""
    names = _names()
    if code in names:
        return names[code]
    province = names.get(code[:2] + "0000", "")
    rolled_up = code[2:4] in _MUNICIPALITY_PARTS and code[4:] == "00"
    return province if rolled_up and province.endswith("市") else code


def region_label(code: str) -> str:
    """The code with its name, where staff need both (410100 郑州市); the code alone when no name
    is known."""
    name = region_name(code)
    return code if name == code else f"{code} {name}"


@cache
def _names() -> dict[str, str]:
    data = tomllib.loads(resources.files("domain").joinpath("data/regions.toml").read_text("utf-8"))
    names: dict[str, str] = {}
    for level in ("provinces", "prefectures", "counties"):
        names.update(data[level])
    return names
