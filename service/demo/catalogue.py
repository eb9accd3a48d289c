"""What the demo draws from: places, authorities, names, violations, conduct, roles and measures,
read from the TOML files in data/ (shipped with the package) into the generator's types."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain import codes

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class City:
    key: str
    short: str  # in enterprise names: 郑州宏达物流有限公司
    plate: str  # 豫A
    regions: tuple[str, ...]  # real administrative division codes; the first is the city's


def org_code(body: str) -> str:
    """GB 11714 organisation code: 8 characters and their check character."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char, 36) * weight for char, weight in zip(body, weights, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def uscc(registrar: str, region: str, body: str) -> str:
    return codes.make_uscc(registrar + region + org_code(body))


@dataclass(frozen=True)
class Authority:
    name: str
    abbr: str  # in decision numbers: 郑交执罚〔2024〕0123号
    region: str
    org: str

    @property
    def code(self) -> str:
        return uscc("11", self.region, self.org)


@dataclass(frozen=True)
class Violation:
    name: str  # CF_WFXW
    facts: str  # what the inspectors found, after the subject's name
    basis: str  # CF_YJ
    fines: tuple[str, ...]  # 万元; empty: no fine (warning, or a licence action alone)
    licence_action: str | None = None


@dataclass(frozen=True)
class Conduct:
    conduct_type: str
    description: str
    basis: str | None
    severities: tuple[str, ...]


@dataclass(frozen=True)
class Role:
    kind: str
    label: str  # what the subject is, for names (enterprises) or vehicle descriptions
    weight: int
    sectors: tuple[str, ...]
    violations: str | None  # key in VIOLATIONS
    scheme: str | None  # rating scheme
    licence: tuple[str, str, str, str, int] | None  # XK_XKLB, 文书, 证书, 内容, years valid
    conducts: tuple[Conduct, ...] = ()
    name_endings: tuple[str, ...] = ()
    provincial: bool = False  # rated and supervised by the province


def _read(name: str) -> dict[str, Any]:
    with (DATA / f"{name}.toml").open("rb") as file:
        return tomllib.load(file)


def _violation(entry: dict[str, Any]) -> Violation:
    return Violation(
        entry["name"],
        entry["facts"],
        entry["basis"],
        tuple(entry["fines"]),
        entry.get("licence_action"),
    )


def _violations(data: dict[str, Any]) -> dict[str, dict[str, tuple[Violation, ...]]]:
    shared = {key: _violation(entry) for key, entry in data.pop("shared").items()}
    groups: dict[str, dict[str, tuple[Violation, ...]]] = {}
    for group, severities in data.items():
        if "same_as" in severities:
            groups[group] = groups[severities["same_as"]]
            continue
        groups[group] = {
            severity: tuple(
                shared[entry["shared"]] if "shared" in entry else _violation(entry)
                for entry in entries
            )
            for severity, entries in severities.items()
        }
    return groups


def _role(kind: str, entry: dict[str, Any]) -> Role:
    licence = entry.get("licence")
    return Role(
        kind,
        entry["label"],
        entry["weight"],
        tuple(entry["sectors"]),
        entry.get("violations"),
        entry.get("scheme"),
        (
            (
                licence["category"],
                licence["document"],
                licence["certificate"],
                licence["content"],
                licence["years"],
            )
            if licence
            else None
        ),
        tuple(CONDUCTS[key] for key in entry.get("conducts", ())),
        tuple(entry.get("name_endings", ())),
        entry.get("provincial", False),
    )


_PLACES = _read("places")
CITIES = {
    key: City(key, city["short"], city["plate"], tuple(city["regions"]))
    for key, city in _PLACES["cities"].items()
}
CITY_WEIGHTS = {key: city["weight"] for key, city in _PLACES["cities"].items()}
# Resident IDs carry the region of first registration, often an older or rural county code.
BIRTH_REGIONS = tuple(_PLACES["birth_regions"])
AUTHORITIES = {
    key: Authority(entry["name"], entry["abbr"], entry["region"], entry["org"])
    for key, entry in _PLACES["authorities"].items()
}
PROVINCE = AUTHORITIES["province"]
# (licensing and rating bureau, enforcement body) per city
LOCAL = {
    city: (AUTHORITIES[bureau], AUTHORITIES[enforcer])
    for city, (bureau, enforcer) in _PLACES["local"].items()
}
COUNTIES = tuple(tuple(county) for county in _PLACES["counties"])  # (prefix, region, city)
PUBLIC_BODY_KINDS = tuple(_PLACES["public_body_kinds"])

_NAMES = _read("names")
TRADE_NAMES = tuple(_NAMES["trade_names"])
SURNAMES = _NAMES["surnames"]  # roughly by frequency
MALE_NAMES = tuple(_NAMES["male_names"])
FEMALE_NAMES = tuple(_NAMES["female_names"])

VIOLATIONS = _violations(_read("violations"))
CONDUCTS = {
    key: Conduct(
        entry["conduct_type"], entry["description"], entry.get("basis"), tuple(entry["severities"])
    )
    for key, entry in _read("conduct").items()
}

_ROLES = _read("roles")
ENTERPRISE_ROLES = tuple(_role("enterprise", entry) for entry in _ROLES["enterprise"])
INDIVIDUAL_ROLES = tuple(_role("individual", entry) for entry in _ROLES["individual"])
VEHICLE_ROLES = tuple(_role("vehicle", entry) for entry in _ROLES["vehicle"])
[PUBLIC_ROLE] = (_role("public_body", entry) for entry in _ROLES["public_body"])
OWNER_ROLE = dict(_ROLES["vehicle_owners"])  # vehicle label -> its owner's role label

_MEASURES = _read("measures")
COMMITMENT_TEXT = dict(_MEASURES["commitments"])
PUNISHMENTS = {
    kind: tuple(tuple(row) for row in rows) for kind, rows in _MEASURES["punishments"].items()
}
REWARDS = tuple(tuple(row) for row in _MEASURES["rewards"])
COMMENDATIONS = {label: tuple(titles) for label, titles in _MEASURES["commendations"].items()}

# The further kinds of administrative information, by kind (coercion by its kind, measure or
# execution): the fields of each record beyond the common ones.
ADMINISTRATIVE = _read("administrative")
