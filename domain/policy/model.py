"""The credit rules as data: a versioned, effective-dated policy, each value with its legal source.

Publication periods, grade bands, list criteria, supervision tiers, early warnings and deadlines
live in one policy file (see `service/policy/credit-policy.toml`), not in code. A policy book holds
every version; the version in force on a decision date applies to that decision, so an as-of query
uses the rules of its day. `domain.policy.reader` builds the book from the file's data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

MEASURES = ("score", "points")
SEVERITIES = ("minor", "general", "serious")  # 失信程度: 轻微, 一般, 严重
# Scheme and grade names are short codes; records and read models hold them in this many
# characters at most.
SCHEME_NAME_MAX_LENGTH = 40
GRADE_MAX_LENGTH = 4


class PolicyError(ValueError):
    """A policy refused, or asked for what it does not hold; `location` is the exact place."""

    def __init__(self, location: str, reason: str):
        super().__init__(location, reason)  # both in args, so the error pickles whole
        self.location = location
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass(frozen=True)
class PublicationPeriod:
    """公示期 of conduct of one severity, counted in months from the decision date. Repair is
    possible after the minimum; publication stops by itself at the maximum."""

    severity: str
    published: bool
    minimum_months: int | None  # None when not published
    maximum_months: int | None
    source: str


@dataclass(frozen=True)
class CategoryRule:
    """A rule that applies to a penalty by its categories (处罚类别, the vocabulary of
    `domain.penalty_categories`), with the source that sets it."""

    categories: frozenset[str]
    source: str

    def matching(self, categories: frozenset[str]) -> frozenset[str]:
        return self.categories & categories


@dataclass(frozen=True)
class Switch:
    """A rule that a version either applies or not, with the source that says so."""

    applies: bool
    source: str


@dataclass(frozen=True)
class PublicationRules:
    periods: Mapping[str, PublicationPeriod]  # by severity
    # A penalty of any of these categories is published for the whole maximum of its severity:
    # a declared end (CF_GSJZQ) does not shorten it, and repair cannot end it sooner (527号's
    # 特定严重失信行为).
    full_maximum: CategoryRule
    source: str

    def period_for(self, severity: str) -> PublicationPeriod:
        return self.periods[severity]


@dataclass(frozen=True)
class PenaltySeverityRules:
    """How the way and the categories of a penalty decide its severity (失信程度), before and
    beyond what the authority says of it.

    - simplified_procedure_is_minor: a penalty by simplified procedure (简易程序) is minor.
    - minor_when_only: a penalty all of whose categories are among these is minor (a warning or
      a 通报批评 alone).
    - serious_when_any: a penalty without a severity of its authority's is serious when any of
      its categories is among these (a licence revoked).
    - declared_end_beyond_general_maximum_is_serious: a penalty without a severity of its
      authority's whose declared end (CF_GSJZQ) lies beyond the maximum of general conduct was
      meant as serious: only serious conduct may be published that long."""

    simplified_procedure_is_minor: Switch
    minor_when_only: CategoryRule
    serious_when_any: CategoryRule
    declared_end_beyond_general_maximum_is_serious: Switch


@dataclass(frozen=True)
class NamedPublicationPeriod:
    """公示期 of a kind of record the policy gives by name (the kind's record type declares it as
    `NamedPeriod`): whether it is published at all and, if so, for how many months from its
    decision date."""

    name: str
    published: bool
    months: int | None  # None when not published
    source: str


@dataclass(frozen=True)
class GradeBand:
    """One grade's range. Score schemes: `minimum` <= score < `maximum`, except that the top band
    includes the top of the scale. Points schemes (deducted points): `minimum` <= points <=
    `maximum`, and the worst band is open-ended (`maximum` None)."""

    grade: str
    minimum: Decimal
    maximum: Decimal | None


@dataclass(frozen=True)
class Adjustments:
    """动态调整 between official ratings: what new dishonest conduct costs, by severity (score
    schemes lose the amount, points schemes add it), and whether a black-list entry forces the
    lowest grade. Repair or revocation of the conduct gives the deduction back."""

    deduction: Mapping[str, Decimal]  # by severity
    black_list_forces_lowest_grade: bool
    source: str


@dataclass(frozen=True)
class RiseCap:
    """逐级上升: a rating stands at most `grades_per_cycle` grades above the grade the subject's
    last rating of an earlier rating cycle stood at, for each cycle since. Cycles are calendar
    cycles of `cycle_months` (a divisor of 12) from 1 January, so a 12-month cycle is the
    calendar year; a rating belongs to the cycle of its decision date, whenever in it it was
    issued."""

    grades_per_cycle: int
    cycle_months: int
    source: str

    def cycle_of(self, day: date) -> int:
        """The number of the rating cycle `day` falls in (consecutive cycles, consecutive
        numbers)."""
        return (day.year * 12 + day.month - 1) // self.cycle_months


@dataclass(frozen=True)
class Scheme:
    """A rating scheme (信用评价 / 质量信誉考核 / 驾驶员诚信考核): grades and bands, best first."""

    name: str
    measure: str  # "score" (higher is better) or "points" (deducted points, lower is better)
    grades: tuple[str, ...]  # best first
    lowest_grade: str
    bands: tuple[GradeBand, ...]  # best first
    score_min: Decimal | None  # score schemes only: the scale
    score_max: Decimal | None
    validity_months: int  # a rating's validity (the assessment cycle)
    rise_cap: RiseCap | None  # None: a rating may rise any number of grades
    adjustments: Adjustments
    violation_points: Mapping[str, int]  # points schemes: named violation class -> points
    source: str

    def grade_for(self, value: Decimal | int | float | str) -> str:
        """The grade for a score (or a number of deducted points)."""
        amount = as_decimal(value)
        if self.measure == "score":
            assert self.score_min is not None and self.score_max is not None
            if not self.score_min <= amount <= self.score_max:
                raise ValueError(
                    f"{self.name}: score {amount} is outside {self.score_min}-{self.score_max}"
                )
            for band in self.bands:
                assert band.maximum is not None
                top = band.maximum == self.score_max
                if band.minimum <= amount and (amount < band.maximum or top):
                    return band.grade
        else:
            if amount < 0:
                raise ValueError(f"{self.name}: deducted points cannot be negative ({amount})")
            for band in self.bands:
                if band.minimum <= amount and (band.maximum is None or amount <= band.maximum):
                    return band.grade
        # Unreachable for a parsed policy: its bands cover the whole range.
        raise ValueError(f"{self.name}: no band holds {amount}")

    def holds(self, value: Decimal) -> bool:
        """Whether a band holds `value`: a score on the scale, a whole number of points."""
        try:
            self.grade_for(value)
        except ValueError:
            return False
        return True

    def rank(self, grade: str) -> int:
        """0 for the best grade, growing as grades get worse."""
        try:
            return self.grades.index(grade)
        except ValueError:
            raise ValueError(f"{self.name}: {grade!r} is not a grade of this scheme") from None

    def is_at_or_below(self, grade: str, threshold: str) -> bool:
        return self.rank(grade) >= self.rank(threshold)


@dataclass(frozen=True)
class WatchListRule:
    """重点关注名单: conduct of these severities, or `minor_repeats` minor conducts within
    `window_months`, make a subject a candidate."""

    entry_severities: tuple[str, ...]
    minor_repeats: int
    window_months: int
    source: str


@dataclass(frozen=True)
class BlackListRule:
    """严重失信主体名单: entered by decision on a legal basis, never inferred from records alone."""

    basis: str
    source: str


@dataclass(frozen=True)
class RedListRule:
    """守信激励 (red list): presupposes no serious dishonesty (国发〔2016〕33号), so never while on
    the black list or with published serious conduct; and, as set here, no dishonest conduct
    within `clean_months` and (`requires_top_grade`) the top grade in every scheme the subject
    holds a grade in. Judged on a red-list entry's decision date (`red_list_obstacles`)."""

    requires_top_grade: bool
    clean_months: int
    source: str


@dataclass(frozen=True)
class OverloadListRule:
    """严重违法超限超载运输失信当事人名单: which black-list entries are on it, for the monthly list
    the notices ask to report and publish. An entry is when the conduct record it rests on (its
    `basis_record_id`) is dishonest conduct of one of `conduct_types` or a penalty for one of
    them (its violation type, CF_WFXW), or when its stated basis names one of `list_names`."""

    conduct_types: tuple[str, ...]
    list_names: tuple[str, ...]
    source: str

    def names_conduct(self, conduct_or_violation_type: str | None) -> bool:
        return conduct_or_violation_type in self.conduct_types

    def names_list(self, basis: str | None) -> bool:
        return any(name in (basis or "") for name in self.list_names)


@dataclass(frozen=True)
class ListRules:
    watch: WatchListRule
    black: BlackListRule
    red: RedListRule
    overload: OverloadListRule


@dataclass(frozen=True)
class TierCriteria:
    """What selects a supervision tier; any one criterion suffices."""

    lists: frozenset[str]  # on any of these lists
    published_conduct: frozenset[str]  # has published conduct of any of these severities
    grade_at_or_below: Mapping[str, str]  # scheme -> grade: a current grade at or below it
    source: str


@dataclass(frozen=True)
class SupervisionTier:
    """A class of 分级分类监管 with its 双随机 inspection sampling ratio. The first (best) tier has
    no criteria: it is where every subject no other tier selects belongs."""

    name: str
    sampling_ratio: Decimal
    criteria: TierCriteria | None
    source: str


@dataclass(frozen=True)
class WarningRules:
    """信用预警: warn when a grade is within `grade_margin_points` of the next lower grade (per
    scheme), when `repeat_count` conducts fall within `repeat_window_months`, and when a
    commitment's due date is `commitment_due_days` away."""

    grade_margin_points: Mapping[str, Decimal]  # by scheme
    repeat_window_months: int
    repeat_count: int
    commitment_due_days: int
    source: str


@dataclass(frozen=True)
class Deadline:
    days: int
    working_days: bool  # False: calendar days
    source: str


@dataclass(frozen=True)
class Deadlines:
    repair_decision: Deadline  # decision on a complete repair application
    repair_case: Deadline  # the whole repair case
    objection: Deadline  # 异议 handled
    publication: Deadline  # 双公示 after a licence or penalty decision


@dataclass(frozen=True)
class TimelinessRules:
    """及时率: which record families count in the timeliness figure. Each is due within the
    version's `deadlines.publication` of its decision date."""

    families: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class CompletenessRules:
    """合格率: a record is complete (合格记录) when the share of the national standard's indicator
    fields it fills is at least `threshold` (a fraction, 0.60 for 60 %: 以上 includes the figure
    itself)."""

    threshold: Decimal
    source: str

    def reached_by(self, filled: int, total: int) -> bool:
        # filled / total >= threshold, compared exactly: no division, no float
        return total > 0 and Decimal(filled) >= self.threshold * total


# Roundings a rate may be given with, by the name the policy file uses (decimal's own names).
ROUNDINGS = (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN)


@dataclass(frozen=True)
class RateRounding:
    """How a figure's rate is given: a percentage with `decimal_places` places, rounded with
    `rounding` (a name of the decimal module)."""

    decimal_places: int
    rounding: str
    source: str

    def percentage(self, part: int, whole: int) -> Decimal | None:
        """part / whole as a rounded percentage; None when there is nothing to measure."""
        if whole == 0:
            return None
        exact = Decimal(part * 100) / Decimal(whole)
        return exact.quantize(Decimal(1).scaleb(-self.decimal_places), rounding=self.rounding)


@dataclass(frozen=True)
class ReportingRules:
    """What the credit office's figures (三率) count and how they are given."""

    timeliness: TimelinessRules
    completeness: CompletenessRules
    rates: RateRounding


@dataclass(frozen=True)
class PolicyVersion:
    id: str
    effective_from: date
    title: str
    publication: PublicationRules
    publication_periods: Mapping[str, NamedPublicationPeriod]  # by name
    penalty_severity: PenaltySeverityRules
    schemes: Mapping[str, Scheme]
    lists: ListRules
    supervision: tuple[SupervisionTier, ...]  # best first
    warnings: WarningRules
    deadlines: Deadlines
    reporting: ReportingRules

    def supervision_tier(
        self,
        *,
        lists: Iterable[str] = (),
        published_conduct: Iterable[str] = (),
        grades: Mapping[str, str] | None = None,
    ) -> SupervisionTier:
        """The worst tier whose criteria the subject meets; the first tier if none does.
        `grades` maps a scheme to the subject's current grade in it."""
        on_lists, published, current = set(lists), set(published_conduct), dict(grades or {})
        for tier in reversed(self.supervision[1:]):
            criteria = tier.criteria
            assert criteria is not None
            if on_lists & criteria.lists or published & criteria.published_conduct:
                return tier
            if any(
                scheme in current and self.schemes[scheme].is_at_or_below(current[scheme], grade)
                for scheme, grade in criteria.grade_at_or_below.items()
            ):
                return tier
        return self.supervision[0]


@dataclass(frozen=True)
class PolicyBook:
    """Every policy version, in order of `effective_from`."""

    versions: tuple[PolicyVersion, ...]

    def in_force(self, on: date) -> PolicyVersion:
        """The version whose `effective_from` is the latest on or before `on`."""
        for version in reversed(self.versions):
            if version.effective_from <= on:
                return version
        first = self.versions[0]
        raise PolicyError(
            "version[0].effective_from",
            f"no policy in force on {on}: the first version ({first.id}) takes effect on "
            f"{first.effective_from}",
        )

    def for_day(self, day: date) -> PolicyVersion:
        """The version in force on `day`; days before the first version are judged by it
        (decisions before 2019-07-16 by the 2019 rules, the earliest this service holds)."""
        return self.in_force(max(day, self.versions[0].effective_from))

    def in_force_during(self, first: date, last: date) -> tuple[PolicyVersion, ...]:
        """Every version in force on some day from `first` to `last` (both included), oldest
        first: the one in force on `first` and each taking effect after it, up to `last`."""
        opening = self.for_day(first)
        return tuple(
            version
            for version in self.versions
            if version is opening or first < version.effective_from <= last
        )

    def by_id(self, version_id: str) -> PolicyVersion:
        for version in self.versions:
            if version.id == version_id:
                return version
        raise PolicyError("version", f"no version with id {version_id!r}")


def as_decimal(value: Decimal | int | float | str) -> Decimal:
    # str() of a float is its shortest repr, so 94.99 stays 94.99 and not 94.989999...
    return value if isinstance(value, Decimal) else Decimal(str(value))
