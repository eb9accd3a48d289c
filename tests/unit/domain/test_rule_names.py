"""Business rule names: each declared once, kebab-case and unique, carried by every refusal the
domain raises, and listed in docs/api.md with the problem type it comes with."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import domain
from domain import codes
from domain import errors as domain_errors
from domain.errors import DomainError, InvalidInput, Rule

pytestmark = pytest.mark.domain
DOMAIN = Path(domain.__file__).parent
DOCS = DOMAIN.parent / "docs" / "api.md"
ROW = re.compile(r"^\| `([^`]*)` \| `([^`]*)` \|", re.MULTILINE)


def domain_modules():
    return [importlib.import_module(f"domain.{m.name}") for m in pkgutil.iter_modules([DOMAIN])]


def declared_rules() -> dict[int, tuple[str, Rule]]:
    """Every rule bound to a module-level name in domain/, once per object (an imported rule
    is the declared one), with where it was first found."""
    found: dict[int, tuple[str, Rule]] = {}
    for module in domain_modules():
        for name, value in vars(module).items():
            if isinstance(value, Rule):
                found.setdefault(id(value), (f"{module.__name__}.{name}", value))
    return found


def domain_errors_by_name() -> dict[str, type[DomainError]]:
    return {
        name: value
        for name, value in vars(domain_errors).items()
        if inspect.isclass(value) and issubclass(value, DomainError)
    }


def refusals(folder: Path = DOMAIN):
    """Each `raise SomeDomainError(...)` in the folder's modules: where, which error, and the
    expression given as its `rule` (None without one)."""
    refusing = domain_errors_by_name()
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            called = node.exc.func
            name = called.id if isinstance(called, ast.Name) else getattr(called, "attr", None)
            if name in refusing:
                rule = next((k.value for k in node.exc.keywords if k.arg == "rule"), None)
                yield path, node.lineno, refusing[name], rule


def refusals_without_rule(folder: Path = DOMAIN) -> list[str]:
    return [
        f"{path.name}:{line} {error.__name__}"
        for path, line, error, rule in refusals(folder)
        if rule is None
    ]


def documented_rules() -> list[tuple[str, str]]:
    """(rule, problem type) of each row of the table under "## Rule names"."""
    section = DOCS.read_text().split("\n## Rule names\n", 1)[1].split("\n## ", 1)[0]
    return ROW.findall(section)


def test_rule_names_are_kebab_case():
    for bad in ("Record-closed", "record_closed", "record--closed", "-record", "record closed", ""):
        with pytest.raises(ValueError, match="kebab-case"):
            Rule(bad)
    assert Rule("record-closed-once") == "record-closed-once"


def test_every_rule_name_is_declared_once():
    declared = declared_rules()
    assert len(declared) >= 30  # the subject's, the records' and the identifiers' rules
    where: dict[str, list[str]] = {}
    for place, rule in declared.values():
        where.setdefault(str(rule), []).append(place)
    assert {name: places for name, places in where.items() if len(places) > 1} == {}


def test_every_refusal_in_the_domain_names_its_rule():
    assert refusals_without_rule() == []


def test_every_rule_is_documented_once_and_nothing_else_is():
    documented = [rule for rule, _ in documented_rules()]
    assert sorted(set(documented)) == sorted(documented), "a rule is listed twice"
    declared = {str(rule) for _, rule in declared_rules().values()}
    assert set(documented) - declared == set(), "documented, but no such rule"
    assert declared - set(documented) == set(), "declared, but not in docs/api.md"


def test_each_rule_is_documented_with_the_problem_type_it_comes_with():
    documented = dict(documented_rules())
    types: dict[str, set[str]] = {}
    for path, _, error, rule in refusals():
        assert isinstance(rule, ast.Name), f"{path.name}: name the rule by its constant"
        declared = getattr(importlib.import_module(f"domain.{path.stem}"), rule.id)
        types.setdefault(str(declared), set()).add(error.code)
    assert {rule: {documented[rule]} for rule in types} == types


def test_the_scan_finds_a_refusal_without_a_rule(tmp_path):
    """The check above is no tautology: a raise without `rule=` is caught, one with it not."""
    (tmp_path / "careless.py").write_text(
        "def f(rule):\n"
        '    raise errors.RuleViolated("named", rule=rule)\n'
        '    raise InvalidInput("unnamed")\n'
    )
    assert refusals_without_rule(tmp_path) == ["careless.py:3 InvalidInput"]


def test_a_refusal_carries_its_rule():
    error = InvalidInput("decision_date 2030-01-01 is in the future", rule=Rule("x-y"))
    assert (error.rule, error.detail) == ("x-y", "decision_date 2030-01-01 is in the future")
    assert DomainError("no rule here").rule is None


@pytest.mark.parametrize(
    ("check", "rule"),
    [
        (lambda: codes.normalise_uscc("91410105MA00000017"), codes.USCC_VALID),
        (lambda: codes.normalise_plate(""), codes.PLATE_NUMBER_VALID),
        (lambda: codes.normalise_region_code("99"), codes.REGION_CODE_VALID),
        (lambda: codes.mask_code("company", "x"), codes.SUBJECT_KIND_KNOWN),
    ],
)
def test_an_invalid_code_names_the_rule_of_its_kind(check, rule):
    with pytest.raises(codes.InvalidCode) as refused:
        check()
    assert refused.value.rule is rule


def test_every_documented_rule_has_a_chinese_text():
    """A person reading a refusal in Chinese (an API client's `detail`, an import report's
    reason) is told each rule in its own words: the one catalogue covers the whole table."""
    from domain.rule_texts import RULE_TEXTS_ZH

    documented = {rule for rule, _ in documented_rules()}
    assert documented - set(RULE_TEXTS_ZH) == set(), "a rule without a Chinese text"
    assert set(RULE_TEXTS_ZH) - documented == set(), "a Chinese text for no documented rule"
    for rule, text in RULE_TEXTS_ZH.items():
        assert re.search(r"[\u4e00-\u9fff]", text) and text.endswith("。"), rule
