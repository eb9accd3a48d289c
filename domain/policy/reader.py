"""Reading the policy: from the policy file's parsed data to the policy book, refusing any mistake.

`parse_policy` refuses any mistake with its exact place, e.g.
`version[1].schemes.highway_construction.bands[2]: overlaps bands[1] ...`, so a bad file stops the
service at start-up instead of producing wrong grades.

Sources: every table below a version may carry `source` (the document the values come from); a
table without one takes its enclosing table's. A value with no source at all is refused.

Rating schemes: a version declares the schemes in force under it, named freely; whatever else in
the version names a scheme (supervision thresholds, warning margins) must name one of those.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from domain.events import LIST_TYPES, RECORD_EVENT_TYPES, NamedPeriod
from domain.penalty_categories import PENALTY_CATEGORIES
from domain.policy.model import (
    GRADE_MAX_LENGTH,
    MEASURES,
    ROUNDINGS,
    SCHEME_NAME_MAX_LENGTH,
    SEVERITIES,
    Adjustments,
    BlackListRule,
    CategoryRule,
    CompletenessRules,
    Deadline,
    Deadlines,
    GradeBand,
    ListRules,
    NamedPublicationPeriod,
    OverloadListRule,
    PenaltySeverityRules,
    PolicyBook,
    PolicyError,
    PolicyVersion,
    PublicationPeriod,
    PublicationRules,
    RateRounding,
    RedListRule,
    ReportingRules,
    RiseCap,
    Scheme,
    SupervisionTier,
    Switch,
    TierCriteria,
    TimelinessRules,
    WarningRules,
    WatchListRule,
    as_decimal,
)

_VERSION_KEYS = (
    "id",
    "effective_from",
    "title",
    "publication",
    "publication_periods",
    "penalty_severity",
    "schemes",
    "lists",
    "supervision",
    "warnings",
    "deadlines",
    "reporting",
)
_SCHEME_KEYS = (
    "measure",
    "grades",
    "lowest_grade",
    "score_min",
    "score_max",
    "validity_months",
    "rise_cap",
    "bands",
    "adjustments",
    "violation_points",
)
_SCORE_BAND_KEYS = ("grade", "min_score", "max_score")
_POINTS_BAND_KEYS = ("grade", "min_points", "max_points")
_DEADLINES = ("repair_decision", "repair_case", "objection", "publication")
_SWITCHES = ("simplified_procedure_is_minor", "declared_end_beyond_general_maximum_is_serious")
_CATEGORY_RULES = ("minor_when_only", "serious_when_any")


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _listing(items: Iterable[str]) -> str:
    return ", ".join(items)


class _Table:
    """One table being read: knows where it sits, refuses keys it was not told about, and gives
    every value it hands out a source (its own `source` or its enclosing table's)."""

    def __init__(
        self,
        data: object,
        location: str,
        allowed: Iterable[str] | None,
        inherited_source: str | None = None,
        *,
        sourced: bool = True,
        what: str = "key",
    ):
        if not isinstance(data, dict):
            raise PolicyError(location, f"must be a table, not {_kind(data)}")
        self.data: dict[str, Any] = data
        self.location = location
        self.sourced = sourced
        known = [] if allowed is None else [*allowed, *(["source"] if sourced else [])]
        for key in data if allowed is not None else ():
            if key not in known:
                raise PolicyError(
                    self.at(key), f"unknown {what} {key!r} (expected one of: {_listing(known)})"
                )
        self._source = inherited_source
        if sourced and "source" in data:
            own = data["source"]
            if not isinstance(own, str) or not own.strip():
                raise PolicyError(self.at("source"), "must be a non-empty string naming the source")
            self._source = own

    def at(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.location}[{key}]"
        return f"{self.location}.{key}" if self.location else key

    @property
    def source(self) -> str:
        if self._source is None:
            raise self._no_source()
        return self._source

    def _no_source(self) -> PolicyError:
        return PolicyError(self.at("source"), "missing: every rule value needs its legal source")

    def has(self, key: str) -> bool:
        return key in self.data

    def _value(self, key: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise PolicyError(self.at(key), "missing")
            return None
        if self.sourced and self._source is None:
            raise self._no_source()
        return self.data[key]

    def integer(self, key: str, *, minimum: int | None = None, required: bool = True) -> Any:
        value = self._value(key, required)
        if value is None:
            return None
        if type(value) is not int:
            raise PolicyError(self.at(key), f"must be an integer, not {_kind(value)}")
        if minimum is not None and value < minimum:
            raise PolicyError(self.at(key), f"must be at least {minimum}, not {value}")
        return value

    def number(self, key: str, *, minimum: Decimal | int | None = None) -> Decimal:
        value = self._value(key, True)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PolicyError(self.at(key), f"must be a number, not {_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise PolicyError(self.at(key), f"must be a finite number, not {value}")
        amount = as_decimal(value)
        if minimum is not None and amount < minimum:
            raise PolicyError(self.at(key), f"must be at least {minimum}, not {amount}")
        return amount

    def text(self, key: str) -> str:
        value = self._value(key, True)
        if not isinstance(value, str):
            raise PolicyError(self.at(key), f"must be a string, not {_kind(value)}")
        if not value.strip():
            raise PolicyError(self.at(key), "must not be empty")
        return value

    def boolean(self, key: str, *, default: bool | None = None) -> bool:
        value = self._value(key, default is None)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, bool):
            raise PolicyError(self.at(key), f"must be true or false, not {_kind(value)}")
        return value

    def day(self, key: str) -> date:
        value = self._value(key, True)
        if isinstance(value, datetime) or not isinstance(value, date):
            raise PolicyError(self.at(key), f"must be a date (YYYY-MM-DD), not {_kind(value)}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise PolicyError(self.at(key), f"{value!r} is not one of: {_listing(options)}")
        return value

    def texts(
        self,
        key: str,
        *,
        options: tuple[str, ...] | None = None,
        what: str = "value",
        required: bool = True,
        non_empty: bool = False,
    ) -> tuple[str, ...]:
        value = self._value(key, required)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise PolicyError(self.at(key), f"must be an array of strings, not {_kind(value)}")
        if non_empty and not value:
            raise PolicyError(self.at(key), "must not be empty")
        seen: list[str] = []
        for index, item in enumerate(value):
            where = f"{self.at(key)}[{index}]"
            if not isinstance(item, str) or not item.strip():
                raise PolicyError(where, f"must be a non-empty string, not {_kind(item)}")
            if options is not None and item not in options:
                raise PolicyError(where, f"unknown {what} {item!r} (known: {_listing(options)})")
            if item in seen:
                raise PolicyError(where, f"{item!r} is listed twice")
            seen.append(item)
        return tuple(seen)

    def table(
        self, key: str, allowed: Iterable[str] | None, *, required: bool = True, what: str = "key"
    ) -> _Table | None:
        if key not in self.data:
            if required:
                raise PolicyError(self.at(key), "missing")
            return None
        return _Table(self.data[key], self.at(key), allowed, self._source, what=what)

    def must_table(self, key: str, allowed: Iterable[str] | None, *, what: str = "key") -> _Table:
        found = self.table(key, allowed, what=what)
        assert found is not None
        return found

    def tables(self, key: str, allowed: Iterable[str], *, sourced: bool = True) -> list[_Table]:
        if key not in self.data:
            raise PolicyError(self.at(key), "missing")
        items = self.data[key]
        if not isinstance(items, list):
            raise PolicyError(self.at(key), f"must be an array of tables, not {_kind(items)}")
        if not items:
            raise PolicyError(self.at(key), "must not be empty")
        allowed = tuple(allowed)
        return [
            _Table(item, f"{self.at(key)}[{index}]", allowed, self._source, sourced=sourced)
            for index, item in enumerate(items)
        ]


def parse_policy(data: Mapping[str, Any]) -> PolicyBook:
    """Build the policy book from the policy file's data, refusing any mistake with its place."""
    root = _Table(dict(data), "", ("version",), sourced=False)
    versions: list[PolicyVersion] = []
    for index, table in enumerate(root.tables("version", _VERSION_KEYS, sourced=False)):
        version = _version(table)
        for earlier_index, earlier in enumerate(versions):
            if earlier.id == version.id:
                raise PolicyError(
                    table.at("id"), f"duplicate id {version.id!r}: also version[{earlier_index}]"
                )
        if versions and version.effective_from <= versions[-1].effective_from:
            raise PolicyError(
                table.at("effective_from"),
                f"{version.effective_from} is not after version[{index - 1}]'s "
                f"{versions[-1].effective_from}: versions are listed in order of taking effect",
            )
        versions.append(version)
    return PolicyBook(tuple(versions))


def _version(table: _Table) -> PolicyVersion:
    version_id = table.text("id")
    effective_from = table.day("effective_from")
    title = table.text("title")
    publication = _publication(table.must_table("publication", (*SEVERITIES, "full_maximum")))
    penalty_severity = _penalty_severity(
        table.must_table("penalty_severity", (*_SWITCHES, *_CATEGORY_RULES)), publication
    )
    periods = _publication_periods(
        table.must_table("publication_periods", _declared_period_names(), what="period")
    )
    schemes = _schemes(table.must_table("schemes", None))  # the schemes in force, named freely
    lists = _lists(table.must_table("lists", ("watch", "black", "red", "overload")))
    supervision = _supervision(table.must_table("supervision", ("tiers",)), schemes)
    warnings = _warnings(
        table.must_table(
            "warnings",
            ("grade_margin_points", "repeat_window_months", "repeat_count", "commitment_due_days"),
        ),
        schemes,
    )
    deadlines = _deadlines(table.must_table("deadlines", _DEADLINES))
    reporting = _reporting(
        table.must_table("reporting", ("timeliness", "completeness", "rates"), what="figure")
    )
    return PolicyVersion(
        id=version_id,
        effective_from=effective_from,
        title=title,
        publication=publication,
        publication_periods=periods,
        penalty_severity=penalty_severity,
        schemes=schemes,
        lists=lists,
        supervision=supervision,
        warnings=warnings,
        deadlines=deadlines,
        reporting=reporting,
    )


def _publication(table: _Table) -> PublicationRules:
    periods = {
        severity: _period(
            severity, table.must_table(severity, ("published", "minimum_months", "maximum_months"))
        )
        for severity in SEVERITIES
    }
    full_maximum = _category_rule(table.must_table("full_maximum", ("categories",)))
    return PublicationRules(MappingProxyType(periods), full_maximum, table.source)


def _penalty_severity(table: _Table, publication: PublicationRules) -> PenaltySeverityRules:
    switches = {
        key: Switch(switch.boolean("applies"), switch.source)
        for key in _SWITCHES
        for switch in [table.must_table(key, ("applies",))]
    }
    rules = {key: _category_rule(table.must_table(key, ("categories",))) for key in _CATEGORY_RULES}
    overlap = rules["minor_when_only"].categories & rules["serious_when_any"].categories
    if overlap:
        raise PolicyError(
            table.at("serious_when_any.categories"),
            f"{_listing(sorted(overlap))} also make a penalty minor (minor_when_only): a category "
            "cannot make it both",
        )
    beyond = switches["declared_end_beyond_general_maximum_is_serious"]
    general, serious = publication.periods["general"], publication.periods["serious"]
    if beyond.applies and not (
        general.published and serious.published and general.maximum_months is not None
    ):
        raise PolicyError(
            table.at("declared_end_beyond_general_maximum_is_serious.applies"),
            "needs general and serious conduct published, general with a maximum",
        )
    return PenaltySeverityRules(
        simplified_procedure_is_minor=switches["simplified_procedure_is_minor"],
        minor_when_only=rules["minor_when_only"],
        serious_when_any=rules["serious_when_any"],
        declared_end_beyond_general_maximum_is_serious=beyond,
    )


def _category_rule(table: _Table) -> CategoryRule:
    """Penalty categories by their national names (处罚类别, 《行政处罚法》 art. 9); an empty
    list is a rule that applies to no penalty."""
    categories = table.texts("categories", options=PENALTY_CATEGORIES, what="penalty category")
    return CategoryRule(frozenset(categories), table.source)


def _period(severity: str, table: _Table) -> PublicationPeriod:
    if not table.boolean("published", default=True):
        for key in ("minimum_months", "maximum_months"):
            if table.has(key):
                raise PolicyError(table.at(key), "an unpublished severity has no period")
        return PublicationPeriod(severity, False, None, None, table.source)
    minimum = table.integer("minimum_months", minimum=1)
    maximum = table.integer("maximum_months", minimum=1)
    if minimum > maximum:
        raise PolicyError(
            table.location, f"minimum_months {minimum} is above maximum_months {maximum}"
        )
    return PublicationPeriod(severity, True, minimum, maximum, table.source)


def _declared_period_names() -> tuple[str, ...]:
    """The periods the record types name (`NamedPeriod`), in the order declared: a version gives
    each of them, and no other."""
    names = (
        record_type.TRAITS.published.name
        for record_type in RECORD_EVENT_TYPES.values()
        if isinstance(record_type.TRAITS.published, NamedPeriod)
    )
    return tuple(dict.fromkeys(names))


def _publication_periods(table: _Table) -> Mapping[str, NamedPublicationPeriod]:
    periods = {}
    for name in _declared_period_names():
        period = table.must_table(name, ("published", "months"))
        if not period.boolean("published", default=True):
            if period.has("months"):
                raise PolicyError(period.at("months"), "an unpublished kind has no period")
            periods[name] = NamedPublicationPeriod(name, False, None, period.source)
        else:
            months = period.integer("months", minimum=1)
            periods[name] = NamedPublicationPeriod(name, True, months, period.source)
    return MappingProxyType(periods)


def _schemes(table: _Table) -> Mapping[str, Scheme]:
    """The rating schemes in force under a version: only those, so a rating under any other is
    refused and every reference to a scheme elsewhere in the version must name one of these."""
    schemes = {}
    for name in table.data:
        if name == "source":
            continue
        if not (name.isascii() and name.isidentifier() and name == name.lower()):
            raise PolicyError(
                table.at(name), f"scheme name {name!r} must be lower-case letters, digits and _"
            )
        if len(name) > SCHEME_NAME_MAX_LENGTH:
            raise PolicyError(
                table.at(name), f"scheme name is longer than {SCHEME_NAME_MAX_LENGTH} characters"
            )
        schemes[name] = _scheme(name, table.must_table(name, _SCHEME_KEYS))
    return MappingProxyType(schemes)


def _named_schemes(table: _Table, schemes: Mapping[str, Scheme]) -> list[str]:
    """The schemes a table names by its keys (all but `source`): each must be in force under the
    version, i.e. declared in its `schemes`."""
    named = [key for key in table.data if key != "source"]
    for name in named:
        if name not in schemes:
            raise PolicyError(
                table.at(name),
                f"scheme {name!r} is not in this version's schemes "
                f"({_listing(schemes) or 'none declared'})",
            )
    return named


def _scheme(name: str, table: _Table) -> Scheme:
    measure = table.choice("measure", MEASURES)
    only_for = {"score_min": "score", "score_max": "score", "violation_points": "points"}
    for key, wanted in only_for.items():
        if table.has(key) and measure != wanted:
            raise PolicyError(table.at(key), f'only for schemes with measure = "{wanted}"')
    grades = table.texts("grades", non_empty=True)
    for index, grade in enumerate(grades):
        if len(grade) > GRADE_MAX_LENGTH:
            raise PolicyError(
                f"{table.at('grades')}[{index}]",
                f"{grade!r} is longer than {GRADE_MAX_LENGTH} characters",
            )
    lowest = table.text("lowest_grade")
    if lowest not in grades:
        raise PolicyError(
            table.at("lowest_grade"), f"{lowest!r} is not one of the grades {_listing(grades)}"
        )
    if lowest != grades[-1]:
        raise PolicyError(
            table.at("lowest_grade"),
            f"{lowest!r} is not the last of the grades (listed best first): {grades[-1]!r} is",
        )
    validity_months = table.integer("validity_months", minimum=1)
    rise_cap = _rise_cap(
        table.table("rise_cap", ("grades_per_cycle", "cycle_months"), required=False)
    )
    score_min = score_max = None
    if measure == "score":
        score_min = table.number("score_min")
        score_max = table.number("score_max")
        if score_min >= score_max:
            raise PolicyError(
                table.at("score_max"), f"{score_max} is not above score_min {score_min}"
            )
        bands = _score_bands(table, grades, score_min, score_max)
    else:
        bands = _points_bands(table, grades)
    adjustments = _adjustments(
        table.must_table("adjustments", ("deduction", "black_list_forces_lowest_grade")), measure
    )
    violation_points: dict[str, int] = {}
    if table.has("violation_points"):
        classes = table.must_table("violation_points", None)  # the classes are named freely
        for violation_class in classes.data:
            if violation_class != "source":
                violation_points[violation_class] = classes.integer(violation_class, minimum=1)
    return Scheme(
        name=name,
        measure=measure,
        grades=grades,
        lowest_grade=lowest,
        bands=bands,
        score_min=score_min,
        score_max=score_max,
        validity_months=validity_months,
        rise_cap=rise_cap,
        adjustments=adjustments,
        violation_points=MappingProxyType(violation_points),
        source=table.source,
    )


def _rise_cap(table: _Table | None) -> RiseCap | None:
    if table is None:
        return None
    grades_per_cycle = table.integer("grades_per_cycle", minimum=1)
    cycle_months = table.integer("cycle_months", minimum=1)
    if 12 % cycle_months:
        raise PolicyError(
            table.at("cycle_months"),
            f"{cycle_months} does not divide 12: rating cycles are calendar cycles from 1 "
            "January (12 months: the calendar year)",
        )
    return RiseCap(grades_per_cycle, cycle_months, table.source)


def _band_grade(
    band: _Table, grades: tuple[str, ...], previous: GradeBand | None, index: int
) -> str:
    grade = band.text("grade")
    if grade not in grades:
        raise PolicyError(
            band.at("grade"), f"{grade!r} is not one of the grades {_listing(grades)}"
        )
    if previous is not None and grades.index(grade) < grades.index(previous.grade):
        raise PolicyError(
            band.at("grade"),
            f"{grade!r} is better than bands[{index - 1}]'s {previous.grade!r}, which covers "
            "better results (bands are listed best first)",
        )
    return grade


def _score_bands(
    table: _Table, grades: tuple[str, ...], score_min: Decimal, score_max: Decimal
) -> tuple[GradeBand, ...]:
    """Listed best first; each band ends where the one before begins; together they cover
    score_min..score_max exactly once."""
    items = table.tables("bands", _SCORE_BAND_KEYS)
    bands: list[GradeBand] = []
    for index, band in enumerate(items):
        previous = bands[-1] if bands else None
        grade = _band_grade(band, grades, previous, index)
        low, high = band.number("min_score"), band.number("max_score")
        if low >= high:
            raise PolicyError(band.location, f"min_score {low} is not below max_score {high}")
        if previous is None:
            if high > score_max:
                raise PolicyError(band.location, f"max_score {high} is above score_max {score_max}")
            if high < score_max:
                raise PolicyError(
                    band.location,
                    f"gap: scores from {high} to {score_max} fall in no band (the best band must "
                    "reach score_max)",
                )
        else:
            if high > previous.minimum:
                raise PolicyError(
                    band.location,
                    f"overlaps bands[{index - 1}]: max_score {high} is above its min_score "
                    f"{previous.minimum} (bands are listed best first)",
                )
            if high < previous.minimum:
                raise PolicyError(
                    band.location,
                    f"gap: scores from {high} to {previous.minimum} fall in no band",
                )
        if index == len(items) - 1:
            if low < score_min:
                raise PolicyError(band.location, f"min_score {low} is below score_min {score_min}")
            if low > score_min:
                raise PolicyError(
                    band.location,
                    f"gap: scores from {score_min} to {low} fall in no band (the worst band must "
                    "reach score_min)",
                )
        bands.append(GradeBand(grade, low, high))
    return tuple(bands)


def _points_bands(table: _Table, grades: tuple[str, ...]) -> tuple[GradeBand, ...]:
    """Deducted points, listed best (fewest points) first; inclusive integer ranges from 0, each
    starting one above the previous band's maximum; the worst band is open-ended."""
    items = table.tables("bands", _POINTS_BAND_KEYS)
    bands: list[GradeBand] = []
    for index, band in enumerate(items):
        previous = bands[-1] if bands else None
        grade = _band_grade(band, grades, previous, index)
        low = band.integer("min_points", minimum=0)
        high = band.integer("max_points", minimum=0, required=False)
        last = index == len(items) - 1
        if high is None and not last:
            raise PolicyError(
                band.location,
                "open-ended (no max_points) but not the last band: only the worst band may be",
            )
        if high is not None and last:
            raise PolicyError(
                band.at("max_points"),
                f"gap: points above {high} fall in no band (the worst band must be open-ended: "
                "leave out max_points)",
            )
        if high is not None and low > high:
            raise PolicyError(band.location, f"min_points {low} is above max_points {high}")
        expected = 0 if previous is None else int(previous.maximum or 0) + 1
        if low < expected:
            raise PolicyError(
                band.location,
                f"overlaps bands[{index - 1}]: min_points {low} is not above its max_points "
                f"{expected - 1} (bands are listed best first)",
            )
        if low > expected:
            missing = f"{expected}" if low - 1 == expected else f"{expected} to {low - 1}"
            raise PolicyError(band.location, f"gap: points {missing} fall in no band")
        bands.append(GradeBand(grade, Decimal(low), None if high is None else Decimal(high)))
    return tuple(bands)


def _adjustments(table: _Table, measure: str) -> Adjustments:
    forces_lowest = table.boolean("black_list_forces_lowest_grade")
    deduction_table = table.must_table("deduction", SEVERITIES, what="severity")
    deduction: dict[str, Decimal] = {}
    for severity in SEVERITIES:
        if measure == "points":
            deduction[severity] = Decimal(deduction_table.integer(severity, minimum=0))
        else:
            deduction[severity] = deduction_table.number(severity, minimum=0)
    return Adjustments(MappingProxyType(deduction), forces_lowest, deduction_table.source)


def _lists(table: _Table) -> ListRules:
    watch = table.must_table("watch", ("entry_severities", "minor_repeats", "window_months"))
    black = table.must_table("black", ("basis",))
    red = table.must_table("red", ("requires_top_grade", "clean_months"))
    overload = table.must_table("overload", ("conduct_types", "list_names"))
    conduct_types = overload.texts("conduct_types", what="conduct type")
    list_names = overload.texts("list_names", what="list name")
    if not (conduct_types or list_names):
        raise PolicyError(
            overload.location, "names nothing: give conduct_types or list_names, or both"
        )
    return ListRules(
        watch=WatchListRule(
            entry_severities=watch.texts("entry_severities", options=SEVERITIES, what="severity"),
            minor_repeats=watch.integer("minor_repeats", minimum=2),
            window_months=watch.integer("window_months", minimum=1),
            source=watch.source,
        ),
        black=BlackListRule(basis=black.text("basis"), source=black.source),
        red=RedListRule(
            requires_top_grade=red.boolean("requires_top_grade"),
            clean_months=red.integer("clean_months", minimum=1),
            source=red.source,
        ),
        overload=OverloadListRule(conduct_types, list_names, overload.source),
    )


def _supervision(table: _Table, schemes: Mapping[str, Scheme]) -> tuple[SupervisionTier, ...]:
    tiers: list[SupervisionTier] = []
    for index, tier in enumerate(table.tables("tiers", ("name", "sampling_ratio", "when"))):
        name = tier.text("name")
        for earlier_index, earlier in enumerate(tiers):
            if earlier.name == name:
                raise PolicyError(
                    tier.at("name"), f"duplicate name {name!r}: also tiers[{earlier_index}]"
                )
        ratio = tier.number("sampling_ratio")
        if not 0 <= ratio <= 1:
            raise PolicyError(tier.at("sampling_ratio"), f"{ratio} is not between 0 and 1")
        if tiers and ratio <= tiers[-1].sampling_ratio:
            raise PolicyError(
                tier.at("sampling_ratio"),
                f"{ratio} is not above tiers[{index - 1}]'s {tiers[-1].sampling_ratio}: tiers "
                "are listed best first and a worse tier is sampled more",
            )
        when = tier.table(
            "when", ("lists", "published_conduct", "grade_at_or_below"), required=False
        )
        if index == 0 and when is not None:
            raise PolicyError(
                tier.at("when"),
                "the first (best) tier is where subjects no other tier selects belong: it takes "
                "no criteria",
            )
        if index > 0 and when is None:
            raise PolicyError(tier.at("when"), "missing: every tier but the first needs criteria")
        criteria = None if when is None else _criteria(when, schemes)
        tiers.append(SupervisionTier(name, ratio, criteria, tier.source))
    return tuple(tiers)


def _criteria(table: _Table, schemes: Mapping[str, Scheme]) -> TierCriteria:
    lists = table.texts("lists", options=LIST_TYPES, what="list type", required=False)
    published = table.texts(
        "published_conduct", options=SEVERITIES, what="severity", required=False
    )
    thresholds: dict[str, str] = {}
    grades_table = table.table("grade_at_or_below", None, required=False)
    if grades_table is not None:
        for scheme in _named_schemes(grades_table, schemes):
            grade = grades_table.text(scheme)
            if grade not in schemes[scheme].grades:
                raise PolicyError(
                    grades_table.at(scheme),
                    f"{grade!r} is not one of the grades {_listing(schemes[scheme].grades)}",
                )
            thresholds[scheme] = grade
    if not (lists or published or thresholds):
        raise PolicyError(
            table.location, "no criteria: give lists, published_conduct or grade_at_or_below"
        )
    return TierCriteria(
        frozenset(lists), frozenset(published), MappingProxyType(thresholds), table.source
    )


def _warnings(table: _Table, schemes: Mapping[str, Scheme]) -> WarningRules:
    margins_table = table.must_table("grade_margin_points", None)
    _named_schemes(margins_table, schemes)
    margins: dict[str, Decimal] = {}
    for scheme in schemes:  # every scheme in force needs its margin
        margin = margins_table.number(scheme, minimum=0)
        if margin == 0:
            raise PolicyError(margins_table.at(scheme), "must be above 0")
        margins[scheme] = margin
    return WarningRules(
        grade_margin_points=MappingProxyType(margins),
        repeat_window_months=table.integer("repeat_window_months", minimum=1),
        repeat_count=table.integer("repeat_count", minimum=2),
        commitment_due_days=table.integer("commitment_due_days", minimum=1),
        source=table.source,
    )


def _deadlines(table: _Table) -> Deadlines:
    found: dict[str, Deadline] = {}
    for key in _DEADLINES:
        deadline = table.must_table(key, ("working_days", "calendar_days"))
        kinds = [kind for kind in ("working_days", "calendar_days") if deadline.has(kind)]
        if len(kinds) != 1:
            raise PolicyError(
                deadline.location, "give exactly one of working_days or calendar_days"
            )
        days = deadline.integer(kinds[0], minimum=1)
        found[key] = Deadline(days, kinds[0] == "working_days", deadline.source)
    decision, case = found["repair_decision"], found["repair_case"]
    if decision.working_days == case.working_days and decision.days > case.days:
        raise PolicyError(
            table.at("repair_decision"),
            f"{decision.days} days is longer than repair_case's {case.days}: the decision is part "
            "of the case",
        )
    return Deadlines(**found)


def _record_families() -> tuple[str, ...]:
    """Every record family a record type declares, in the order first declared."""
    return tuple(dict.fromkeys(cls.TRAITS.family for cls in RECORD_EVENT_TYPES.values()))


def _reporting(table: _Table) -> ReportingRules:
    timeliness = table.must_table("timeliness", ("families",))
    completeness = table.must_table("completeness", ("threshold",))
    rates = table.must_table("rates", ("decimal_places", "rounding"))
    threshold = completeness.number("threshold", minimum=0)
    if not 0 < threshold <= 1:
        raise PolicyError(
            completeness.at("threshold"),
            f"{threshold} is not a share above 0 and at most 1 (0.6 for 60 %)",
        )
    return ReportingRules(
        timeliness=TimelinessRules(
            timeliness.texts(
                "families", options=_record_families(), what="record family", non_empty=True
            ),
            timeliness.source,
        ),
        completeness=CompletenessRules(threshold, completeness.source),
        rates=RateRounding(
            rates.integer("decimal_places", minimum=0),
            rates.choice("rounding", ROUNDINGS),
            rates.source,
        ),
    )
