"""The demo's data files: every reference between them resolves, and the package ships them."""

import tomllib
from pathlib import Path

from domain.events import SUBJECT_KINDS
from domain.policy import SEVERITIES
from domain.regions import region_name
from service.demo import catalogue

ROOT = Path(__file__).resolve().parents[2]
ROLES = (
    *catalogue.ENTERPRISE_ROLES,
    *catalogue.INDIVIDUAL_ROLES,
    *catalogue.VEHICLE_ROLES,
    catalogue.PUBLIC_ROLE,
)


def test_every_role_draws_on_violations_of_every_severity():
    for role in ROLES:
        assert role.kind in SUBJECT_KINDS
        if role.violations is not None:
            group = catalogue.VIOLATIONS[role.violations]
            assert all(group[severity] for severity in SEVERITIES), role.label


def test_violations_and_conduct_are_complete():
    for group in catalogue.VIOLATIONS.values():
        for violations in group.values():
            for violation in violations:
                assert violation.name and violation.facts and violation.basis
    for conduct in catalogue.CONDUCTS.values():
        assert conduct.severities and set(conduct.severities) <= set(SEVERITIES)


def test_places_and_owners_resolve():
    assert set(catalogue.CITY_WEIGHTS) == set(catalogue.CITIES)
    assert set(catalogue.CITIES) | {"province"} == set(catalogue.LOCAL)
    assert {city for _, _, city in catalogue.COUNTIES} <= set(catalogue.CITIES)
    enterprise_labels = {role.label for role in catalogue.ENTERPRISE_ROLES}
    vehicle_labels = {role.label for role in catalogue.VEHICLE_ROLES}
    assert set(catalogue.OWNER_ROLE) == vehicle_labels
    assert set(catalogue.OWNER_ROLE.values()) <= enterprise_labels
    assert all(role.name_endings for role in catalogue.ENTERPRISE_ROLES)


def test_the_package_ships_every_data_file():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["service.demo"]
    package = ROOT / "service" / "demo"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assert shipped == set(catalogue.DATA.iterdir())


def test_every_region_the_demo_registers_subjects_in_has_a_name():
    regions = {region for city in catalogue.CITIES.values() for region in city.regions}
    regions |= {region for _, region, _ in catalogue.COUNTIES}
    regions |= {authority.region for authority in catalogue.AUTHORITIES.values()}
    regions |= {"410000", "110000", "110105", "110108"}  # enterprises registered by the province
    for region in regions:
        assert region_name(region) != region, region
    for prefix, region, _ in catalogue.COUNTIES:
        assert prefix.endswith(region_name(region)), (prefix, region)
