"""The credit office's figures as the console shows them: a month's figures (`MonthFigures`) laid
out as the tables, charts and links of the figures page, and the rows behind each figure as the
drill-down pages list them, every code put into Chinese. The workbook (`report_ledger.py`)
writes the same rows with the same words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode
from uuid import UUID

from api.console import labels
from api.console.charts import Chart, Series, bar_chart, percent, rate_chart, stacked_chart
from api.console.vocabulary import EVENT_NAMES
from api.templating import chinese_date
from api.web import KINDS, OUTCOMES, STATUSES
from domain.events import LIST_TYPES
from domain.months import Month
from domain.regions import region_label, region_name
from service.reporting.cases import ALL_KINDS, AuthorityCases, CaseCounts, CaseRow
from service.reporting.completeness import (
    CompletenessReport,
    IncompleteRecord,
    MissingField,
)
from service.reporting.lists import (
    JointMeasureRow,
    ListEntryRow,
    ListFigure,
    ListFigures,
    OverloadRow,
)
from service.reporting.monthly import MonthlyRate
from service.reporting.subjects import ListedSubject
from service.reporting.timeliness import LateRecord, TimelinessReport

PAGE = "/console/reports"
# The lists by their short names, in the order the figures give them.
LIST_NAMES = {"red": "红名单", "black": "黑名单", "watch": "重点关注名单"}
HOW_LEFT = {"exited": "决定移出", "expired": "期满移出", "lapsed": "所依据的记录已信用修复，失效"}
IDENTIFIED_BY = {
    "basis_conduct": "所依据的记录为超限超载违法行为",
    "list_name": "认定依据写明该名单",
}
MEASURE_TYPES = {"reward": "联合激励", "punishment": "联合惩戒"}
KIND_OF = {**KINDS, ALL_KINDS: "合计"}


def link(page: str, month: Month, fragment: str = "", **query: str | None) -> str:
    """A drill-down page's address for `month`, with the filters that are set."""
    wanted = {"month": str(month), **{k: v for k, v in query.items() if v}}
    return f"{PAGE}{page}?{urlencode(wanted)}" + (f"#{fragment}" if fragment else "")


def median_text(days: float | None) -> str:
    return "—" if days is None else f"{days:g}"


def authority_labels(authorities: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each authority code's label: its name, with its code where two authorities shown share
    a name."""
    pairs = list(authorities)
    names = [name for _, name in pairs]
    return {code: name if names.count(name) == 1 else f"{name}（{code}）" for code, name in pairs}


# The figures page ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseLine:
    """One row of the case table: an authority's repairs and objections together, or all."""

    label: str
    code: str  # "" for the total
    counts: CaseCounts
    rate: str
    median: str
    rows_link: str


def case_lines(authorities: Sequence[AuthorityCases], total: Sequence[CaseCounts], month: Month):
    """The case table: each authority shown, then the total of them all."""
    named = authority_labels((a.authority_code, a.authority_name) for a in authorities)
    lines = [
        _case_line(named[a.authority_code], a.authority_code, _all(a.counts), month)
        for a in authorities
    ]
    lines.append(_case_line("合计", "", _all(total), month))
    return lines


def _all(counts: Sequence[CaseCounts]) -> CaseCounts:
    return next(c for c in counts if c.kind == ALL_KINDS)


def _case_line(label: str, code: str, counts: CaseCounts, month: Month) -> CaseLine:
    return CaseLine(
        label,
        code,
        counts,
        percent(counts.within_deadline_rate),
        median_text(counts.median_working_days_to_decision),
        link("/cases", month, authority=code or None),
    )


def case_chart(authorities: Sequence[AuthorityCases], month: Month, whose: str) -> Chart:
    """Decided and decided within the deadline, by deciding authority: the gap between the two
    bars is what keeps the rate under 100 %."""
    named = authority_labels((a.authority_code, a.authority_name) for a in authorities)
    counts = [_all(a.counts) for a in authorities]
    return bar_chart(
        "case-decisions",
        f"{whose}{month.chinese}办结的信用修复和异议案件",
        [named[a.authority_code] for a in authorities],
        [
            Series("办结", [c.decided for c in counts]),
            Series("其中按期办结", [c.decided_within_deadline for c in counts]),
        ],
        category_heading="认定机关",
        unit="件",
    )


def trend_chart(
    rates: Sequence[MonthlyRate],
    whose: str,
    chart_id: str = "case-rate-trend",
    figure: str = "信用修复和异议案件按期办结率",
    series: str = "按期办结率",
    *more: tuple[str, Sequence[MonthlyRate]],
) -> Chart:
    """A rate over the months against its 100 % target (the 三率 and the case rate alike), with
    `more` rates of the same months (each its series name and rates) drawn beside it."""
    first, last = rates[0].month, rates[-1].month
    for name, others in more:
        if [r.month for r in others] != [r.month for r in rates]:
            raise ValueError(f"{name}: not the months of {series}")
    return rate_chart(
        chart_id,
        f"{whose}{figure}（{first.chinese}至{last.chinese}）",
        [r.month for r in rates],
        [
            Series(series, [r.rate for r in rates]),
            *(Series(name, [r.rate for r in others]) for name, others in more),
        ],
        target=1.0,
    )


def percentage(rate: Decimal | None) -> str:
    """A rate as the 及时率 and 合格率 queries round it: 66.67%; — when nothing was measured."""
    return "—" if rate is None else f"{rate}%"


def share_text(share: Decimal) -> str:
    """A policy's share (0.6) as a page says it: 60%."""
    return f"{float(share) * 100:g}%"


def deadline_text(days: int, working_days: bool) -> str:
    return f"{days} 个{'工作日' if working_days else '日'}"


def missing_text(fields: Sequence[MissingField], counted: bool = True) -> str:
    """The fields most often missing (or one record's), each by its column and 中文名称, with
    how many records lack it when `counted`."""
    return "、".join(
        f"{f.column} {f.title}" + (f"（{f.records}）" if counted else "") for f in fields
    )


@dataclass(frozen=True)
class TimelinessLine:
    """One row of the 及时率 table: an authority's, or the total."""

    label: str
    code: str  # "" for the total
    decided: int
    on_time: int
    rate: str
    late: int
    rows_link: str  # its late records


def timeliness_lines(report: TimelinessReport, month: Month) -> list[TimelinessLine]:
    named = authority_labels((g.key, g.name) for g in report.groups)
    lines = [
        TimelinessLine(
            named[g.key],
            g.key,
            g.decided,
            g.on_time,
            percentage(g.rate),
            g.late,
            link("/late", month, authority=g.key),
        )
        for g in report.groups
    ]
    lines.append(
        TimelinessLine(
            "合计",
            "",
            report.decided,
            report.on_time,
            percentage(report.rate),
            report.late,
            link("/late", month),
        )
    )
    return lines


def late_chart(report: TimelinessReport, month: Month, whose: str) -> Chart:
    """Late records by deciding authority."""
    named = authority_labels((g.key, g.name) for g in report.groups)
    return bar_chart(
        "late-by-authority",
        f"{whose}{month.chinese}迟报的行政许可、行政处罚信息",
        [named[g.key] for g in report.groups],
        [Series("迟报", [g.late for g in report.groups])],
        category_heading="认定机关",
        unit="条",
    )


@dataclass(frozen=True)
class CompletenessLine:
    """One row of the 合格率 table: an authority's, or the total."""

    label: str
    code: str  # "" for the total
    records: int
    complete: int
    rate: str
    fill_rate: str  # 填报率: indicator fields filled of those expected
    incomplete: int
    most_missing: str
    rows_link: str  # its incomplete records


def completeness_lines(report: CompletenessReport, month: Month) -> list[CompletenessLine]:
    named = authority_labels((g.key, g.name) for g in report.groups)
    lines = [
        CompletenessLine(
            named[g.key],
            g.key,
            g.records,
            g.complete,
            percentage(g.rate),
            percentage(g.fill_rate),
            g.incomplete,
            missing_text(g.most_missing),
            link("/incomplete", month, authority=g.key),
        )
        for g in report.groups
    ]
    lines.append(
        CompletenessLine(
            "合计",
            "",
            report.records,
            report.complete,
            percentage(report.rate),
            percentage(report.fill_rate),
            report.incomplete,
            missing_text(report.most_missing),
            link("/incomplete", month),
        )
    )
    return lines


def incomplete_chart(report: CompletenessReport, month: Month, whose: str) -> Chart:
    """Incomplete records by deciding authority."""
    named = authority_labels((g.key, g.name) for g in report.groups)
    return bar_chart(
        "incomplete-by-authority",
        f"{whose}{month.chinese}不合格的行政许可、行政处罚信息",
        [named[g.key] for g in report.groups],
        [Series("不合格", [g.incomplete for g in report.groups])],
        category_heading="认定机关",
        unit="条",
    )


def missing_chart(report: CompletenessReport, month: Month, whose: str) -> Chart:
    """The fields most often missing, by how many records lack each."""
    return bar_chart(
        "missing-fields",
        f"{whose}{month.chinese}最常缺少的指标项",
        [f"{f.column} {f.title}" for f in report.most_missing],
        [Series("缺少该项的记录", [f.records for f in report.most_missing])],
        category_heading="指标项",
        unit="条",
    )


@dataclass(frozen=True)
class ListLine:
    list_type: str
    name: str
    figure: ListFigure
    links: dict[str, str]  # members, entered, exited


def list_lines(figures: ListFigures, month: Month) -> list[ListLine]:
    return [
        ListLine(
            f.list_type,
            LIST_NAMES[f.list_type],
            f,
            {
                part: link("/lists", month, part, list=f.list_type)
                for part in ("members", "entered", "exited")
            },
        )
        for f in figures.lists
    ]


@dataclass(frozen=True)
class RegionLine:
    region: str  # its code and name: 410100 郑州市
    counts: tuple[tuple[int, str], ...]  # each list's subjects at the end, and its rows' link


def region_lines(figures: ListFigures, month: Month) -> list[RegionLine]:
    """Each region with a subject on some list at the end: the count on each list, linked to the
    region's rows."""
    at_end = _at_end(figures, lambda f: f.by_region)
    return [
        RegionLine(
            region_label(region),
            tuple(
                (at_end[region][t], link("/lists", month, "members", list=t, region=region))
                for t in LIST_TYPES
            ),
        )
        for region in sorted(at_end)
        if any(at_end[region].values())
    ]


def list_charts(figures: ListFigures, month: Month, whose: str) -> tuple[Chart, Chart]:
    """Subjects on each list at the month's end, stacked, by region and by sector."""
    by_region = _at_end(figures, lambda f: f.by_region)
    by_sector = _at_end(figures, lambda f: f.by_sector)
    day = chinese_date(month.last_day)
    regions = [r for r in sorted(by_region) if any(by_region[r].values())]
    sectors = [s for s in sorted(by_sector) if any(by_sector[s].values())]
    return (
        stacked_chart(
            "lists-by-region",
            f"{whose}{day}在列主体（按地区）",
            [region_name(r) for r in regions],
            [Series(LIST_NAMES[t], [by_region[r][t] for r in regions]) for t in LIST_TYPES],
            category_heading="地区",
            unit="个",
        ),
        stacked_chart(
            "lists-by-sector",
            f"{whose}{day}在列主体（按行业）",
            [labels.label(labels.SECTORS, s) for s in sectors],
            [Series(LIST_NAMES[t], [by_sector[s][t] for s in sectors]) for t in LIST_TYPES],
            category_heading="行业",
            unit="个",
        ),
    )


def _at_end(figures: ListFigures, parts) -> dict[str, dict[str, int]]:
    counted: dict[str, dict[str, int]] = {}
    for figure in figures.lists:
        for part in parts(figure):
            counted.setdefault(part.key, dict.fromkeys(LIST_TYPES, 0))[figure.list_type] = (
                part.on_list_at_end
            )
    return counted


# The rows behind the figures ----------------------------------------------------------------
@dataclass(frozen=True)
class CaseView:
    case_number: str
    kind: str
    status: str
    authority: str
    filed_on: str
    due: str
    decided_on: str
    outcome: str
    in_time: str
    working_days: str
    overdue_days: str
    counted_in: str


def case_views(rows: Iterable[CaseRow], named: dict[str, str]) -> list[CaseView]:
    return [
        CaseView(
            case_number=row.case_number,
            kind=KINDS.get(row.kind, row.kind),
            status=STATUSES.get(row.status, row.status),
            authority=named.get(row.authority_code, row.authority_name),
            filed_on=chinese_date(row.filed_on),
            due=(chinese_date(row.due) + ("（暂按周末推算）" if row.due_provisional else ""))
            if row.due
            else "退回补正，暂停计时",
            decided_on=chinese_date(row.decided_on),
            outcome=OUTCOMES.get(row.outcome or "", row.outcome or ""),
            in_time=yes_no(row.within_deadline),
            working_days=""
            if row.working_days_to_decision is None
            else str(row.working_days_to_decision),
            overdue_days=str(row.overdue_days) if row.overdue_days else "",
            counted_in=counted_in(row),
        )
        for row in rows
    ]


def yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def counted_in(row: CaseRow) -> str:
    """Which of the figures a case counts in."""
    parts = []
    if row.filed_in_period:
        parts.append("当月提交")
    if row.decided_in_period:
        parts.append("当月办结" + ("（按期）" if row.within_deadline else "（超期）"))
    if row.overdue_days > 0:
        parts.append("当前超期")
    return "、".join(parts)


@dataclass(frozen=True)
class SubjectView:
    name: str
    code: str
    kind: str
    region: str
    sectors: str


def subject_view(subject: ListedSubject) -> SubjectView:
    """A subject in a table's cell."""
    return SubjectView(
        subject.name,
        subject.code_masked,
        labels.label(labels.KINDS, subject.kind),
        region_label(subject.region_code),
        "、".join(labels.label(labels.SECTORS, s) for s in subject.sectors),
    )


@dataclass(frozen=True)
class EntryView:
    record_id: str
    subject: SubjectView
    list_name: str
    entered_on: str
    planned_end: str
    left_on: str
    how_left: str
    basis: str
    authority: str
    source_ref: str


def entry_views(rows: Iterable[ListEntryRow]) -> list[EntryView]:
    return [
        EntryView(
            record_id=str(row.record_id),
            subject=subject_view(row.subject),
            list_name=LIST_NAMES.get(row.list_type, row.list_type),
            entered_on=chinese_date(row.entered_on),
            planned_end=chinese_date(row.planned_end) or "未定",
            left_on=chinese_date(row.left_on),
            how_left=HOW_LEFT.get(row.how_left or "", row.how_left or ""),
            basis=row.basis,
            authority=row.authority_name,
            source_ref=row.source_ref,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class OverloadView:
    entry: EntryView
    identified_by: str
    basis_conduct: str


def overload_views(rows: Iterable[OverloadRow]) -> list[OverloadView]:
    return [
        OverloadView(
            entry_views([row.entry])[0],
            IDENTIFIED_BY.get(row.identified_by, row.identified_by),
            row.basis_conduct or "",
        )
        for row in rows
    ]


@dataclass(frozen=True)
class MeasureView:
    record_id: str
    subject: SubjectView
    measure_type: str
    measure: str
    applying_agency: str
    applied_on: str
    matter: str
    authority: str
    source_ref: str


def measure_views(rows: Iterable[JointMeasureRow]) -> list[MeasureView]:
    return [
        MeasureView(
            record_id=str(row.record_id),
            subject=subject_view(row.subject),
            measure_type=MEASURE_TYPES.get(row.measure_type, row.measure_type),
            measure=row.measure,
            applying_agency=row.applying_agency,
            applied_on=chinese_date(row.applied_on),
            matter=row.matter,
            authority=row.authority_name,
            source_ref=row.source_ref,
        )
        for row in rows
    ]


def in_region(region_code: str, chosen: str) -> bool:
    """Whether a subject's region lies in the chosen one: 410100 (a city) holds 410105, 410000
    (a province) every 41…; a county code holds itself."""
    prefix = chosen
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return region_code.startswith(prefix)


@dataclass(frozen=True)
class LateView:
    """A late licence or penalty in the rows behind the 及时率."""

    record_id: str
    subject: SubjectView | None  # None: the subject is no longer in the credit file's read model
    subject_link: str  # its history, for an auditor; "" for anyone else
    type: str
    source_ref: str
    authority: str
    decision_date: str
    due_on: str
    recorded_on: str
    days_late: int
    remarks: str


def late_views(
    rows: Iterable[LateRecord],
    named: Mapping[str, str],
    subjects: Mapping[UUID, ListedSubject],
    subject_link: str | None,
) -> list[LateView]:
    """`subject_link`: the address of a subject's history, with {subject_id} in it (None: none)."""
    return [
        LateView(
            record_id=str(row.record_id),
            subject=_subject_of(row.record_id, subjects),
            subject_link=_link_of(row.record_id, subjects, subject_link),
            type=EVENT_NAMES.get(row.type, row.type),
            source_ref=row.source_ref,
            authority=named.get(row.authority_code, row.authority_name),
            decision_date=chinese_date(row.decision_date),
            due_on=chinese_date(row.due_on) + ("（暂按周末推算）" if row.due_provisional else ""),
            recorded_on=chinese_date(row.recorded_on),
            days_late=row.days_late,
            remarks=record_remarks(row.correction_count, row.revoked),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class IncompleteView:
    """A record below the completeness threshold in the rows behind the 合格率."""

    record_id: str
    subject: SubjectView | None
    subject_link: str
    type: str
    source_ref: str
    authority: str
    decision_date: str
    filled: str  # 9/16（56.25%）
    missing: tuple[MissingField, ...]
    remarks: str


def incomplete_views(
    rows: Iterable[IncompleteRecord],
    named: Mapping[str, str],
    subjects: Mapping[UUID, ListedSubject],
    subject_link: str | None,
) -> list[IncompleteView]:
    return [
        IncompleteView(
            record_id=str(row.record_id),
            subject=_subject_of(row.record_id, subjects),
            subject_link=_link_of(row.record_id, subjects, subject_link),
            type=EVENT_NAMES.get(row.type, row.type),
            source_ref=row.source_ref,
            authority=named.get(row.authority_code, row.authority_name),
            decision_date=chinese_date(row.decision_date),
            filled=filled_text(row),
            missing=row.missing,
            remarks=record_remarks(row.correction_count, row.revoked),
        )
        for row in rows
    ]


def filled_text(row: IncompleteRecord) -> str:
    return f"{row.fields_filled}/{row.fields_total}（{percentage(row.share)}）"


def record_remarks(correction_count: int, revoked: bool) -> str:
    """What happened to a record since it was first recorded."""
    parts = []
    if correction_count:
        parts.append(f"已更正 {correction_count} 次")
    if revoked:
        parts.append("已撤销")
    return "、".join(parts)


def _subject_of(record_id: UUID, subjects: Mapping[UUID, ListedSubject]) -> SubjectView | None:
    found = subjects.get(record_id)
    return None if found is None else subject_view(found)


def _link_of(
    record_id: UUID, subjects: Mapping[UUID, ListedSubject], subject_link: str | None
) -> str:
    found = subjects.get(record_id)
    if found is None or subject_link is None:
        return ""
    return subject_link.format(subject_id=found.subject_id)
